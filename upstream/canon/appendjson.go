package canon

import (
	"strconv"
	"unicode/utf8"
)

// The codecs write JSON with append-style helpers rather than a
// reflection-based marshaler: field order is fixed (golden files and
// prefix-stable prompts depend on it), and encoding a request or a
// stream event costs no allocation beyond growing dst.

// AppendString appends s to dst as a JSON string, quoted and escaped.
// Invalid UTF-8 becomes U+FFFD, as encoding/json does; "<", ">" and "&"
// are not escaped (the output is never embedded in HTML).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	return append(AppendEscaped(dst, s), '"')
}

// AppendEscaped appends s to dst escaped as the inside of a JSON string,
// without quotes, so that several pieces can make one string.
func AppendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

const hexDigits = "0123456789abcdef"

// AppendKey appends `"name":` to dst, preceded by a comma unless dst ends
// an object or array opening. name must need no escaping.
func AppendKey(dst []byte, name string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// AppendElem prepares dst for the next element of an array: a comma
// unless the array was just opened.
func AppendElem(dst []byte) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	return dst
}

// AppendStringField appends `"name":"value"` (see AppendKey).
func AppendStringField(dst []byte, name, value string) []byte {
	return AppendString(AppendKey(dst, name), value)
}

// AppendIntField appends `"name":n` (see AppendKey).
func AppendIntField(dst []byte, name string, n int64) []byte {
	return strconv.AppendInt(AppendKey(dst, name), n, 10)
}

// AppendFloatField appends `"name":f` in the shortest form that parses
// back to f (see AppendKey).
func AppendFloatField(dst []byte, name string, f float64) []byte {
	return strconv.AppendFloat(AppendKey(dst, name), f, 'g', -1, 64)
}

// AppendBoolField appends `"name":true` or false (see AppendKey).
func AppendBoolField(dst []byte, name string, b bool) []byte {
	return strconv.AppendBool(AppendKey(dst, name), b)
}

// AppendRawField appends `"name":raw`, raw being JSON text written as is
// (see AppendKey).
func AppendRawField(dst []byte, name, raw string) []byte {
	return append(AppendKey(dst, name), raw...)
}
