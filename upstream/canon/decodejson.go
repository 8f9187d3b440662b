package canon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/bytedance/sonic/decoder"
	"github.com/bytedance/sonic/unquote"
)

// strictOptions decode client requests: an unknown field is an error,
// so a field the codecs do not know is refused rather than silently
// dropped. Strings point into the input (CopyString off) when they hold
// no escape. ValidateString refuses raw control characters in strings,
// also inside values kept as raw JSON (tool schemas), which are written
// out as they came and must be valid.
const strictOptions = decoder.OptionDisableUnknown | decoder.OptionCaseSensitive | decoder.OptionValidateString

// lenientOptions decode provider answers and stream events, which grow
// new fields all the time; unknown fields are skipped.
const lenientOptions = decoder.OptionCaseSensitive | decoder.OptionValidateString

// decoders pools sonic decoders: sonic.Unmarshal allocates one per call,
// and a request decodes each message's content in a call of its own.
var decoders = sync.Pool{New: func() any { return decoder.NewDecoder("") }}

func decode(data []byte, v any, opts decoder.Options) (pos int, err error) {
	d := decoders.Get().(*decoder.Decoder)
	d.Reset(view(data))
	d.SetOptions(opts)
	err = d.Decode(v)
	if err == nil {
		err = d.CheckTrailings()
	}
	pos = d.Pos()
	d.Reset("") // drop the reference to data
	decoders.Put(d)
	return pos, err
}

// DecodeStrict decodes the JSON text data into v, refusing unknown
// fields; at is the path of data in the request for errors
// ("messages[3].content"), "" for the whole body. Strings in v point
// into data.
func DecodeStrict(data []byte, v any, at string) error {
	pos, err := decode(data, v, strictOptions)
	return decodeErr(err, data, pos, at)
}

// DecodeLenient decodes the JSON text data into v, skipping unknown
// fields. Strings in v point into data.
func DecodeLenient(data []byte, v any, at string) error {
	pos, err := decode(data, v, lenientOptions)
	return decodeErr(err, data, pos, at)
}

// DecodeString returns the value of raw, a JSON string already checked
// by a decode (a field kept as raw JSON): a view into raw when it holds
// no escape, else an unescaped copy.
func DecodeString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errors.New("want a JSON string")
	}
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return view(in), nil
	}
	s, perr := unquote.String(view(in))
	if perr != 0 {
		return "", errors.New("invalid escape in a JSON string")
	}
	return s, nil
}

// IsObject reports whether s is one valid JSON object (sonic.Valid lets
// raw control characters in strings pass; encoding/json.Valid, which
// allocates nothing, does not).
func IsObject(s string) bool {
	t := strings.TrimLeft(s, " \t\r\n")
	return t != "" && t[0] == '{' && json.Valid(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// pathAt returns the path, such as "tools[1].format", of the member or
// element data holds at byte offset pos: the object keys and array
// indexes of the containers open there, the innermost last. It is for
// error messages only, on valid JSON up to pos.
func pathAt(data []byte, pos int) string {
	type frame struct {
		array bool
		index int
		key   string
	}
	var stack []frame
	pos = min(pos, len(data))
	for i := 0; i < pos; i++ {
		switch data[i] {
		case '{':
			stack = append(stack, frame{})
		case '[':
			stack = append(stack, frame{array: true})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].array {
				stack[n-1].index++
			}
		case '"':
			end := i + 1
			for end < len(data) && data[end] != '"' {
				if data[end] == '\\' {
					end++
				}
				end++
			}
			j := end + 1
			for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
				j++
			}
			if n := len(stack); n > 0 && !stack[n-1].array && j < len(data) && data[j] == ':' {
				key, err := strconv.Unquote(string(data[i : end+1]))
				if err != nil {
					key = string(data[i+1 : end])
				}
				stack[n-1].key = key
			}
			i = end
		}
	}
	var b strings.Builder
	for _, f := range stack {
		if f.array {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.key)
	}
	return b.String()
}

// joinPath joins a field path and a path below it, which may start with
// an index: joinPath("tools", "[1].format") is "tools[1].format".
func joinPath(at, p string) string {
	if at == "" || strings.HasPrefix(p, "[") {
		return at + p
	}
	return at + "." + p
}

// view returns b as a string without copying; b must not change while
// the string is in use.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// decodeErr turns sonic's errors into short ones, each a *FieldError
// naming the field by its path in data (found from where the decoder
// stopped): an unknown field; a value of the wrong type, said in JSON's
// terms ("want a list, got a string"), never Go's; and a syntax error,
// with its line and column once (sonic's message goes on with a copy of
// the input, which may hold a prompt).
func decodeErr(err error, data []byte, pos int, at string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, `json: unknown field `); ok {
		if n, uerr := strconv.Unquote(name); uerr == nil {
			name = n
		}
		field := Path(at, name)
		if p := pathAt(data, pos); strings.HasSuffix(p, name) {
			field = joinPath(at, p)
		}
		return &FieldError{Field: field, Reason: "unknown field, no translation"}
	}
	var mismatch *decoder.MismatchTypeError
	if errors.As(err, &mismatch) && mismatch.Pos >= 0 && mismatch.Pos < len(data) {
		field := joinPath(at, pathAt(data, mismatch.Pos))
		if field == "" {
			field = "body"
		}
		return &FieldError{Field: field, Reason: "want " + jsonKindOf(mismatch.Type) + ", got " + jsonKindAt(data, mismatch.Pos)}
	}
	if at == "" {
		at = "body"
	}
	var syntax decoder.SyntaxError
	if errors.As(err, &syntax) {
		line, col := lineColumn(data, syntax.Pos-1) // sonic's Pos is one past the bad byte
		return &FieldError{Field: at, Reason: fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, syntax.Message())}
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return &FieldError{Field: at, Reason: "invalid JSON: " + msg}
}

// jsonKindOf names what JSON value decodes into Go type t.
func jsonKindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Name() != "" {
			return "a JSON value" // raw JSON kept as is
		}
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another kind of value"
}

// jsonKindAt names the JSON value that starts at data[pos].
func jsonKindAt(data []byte, pos int) string {
	switch c := data[pos]; {
	case c == '"':
		end := pos + 1
		for end < len(data) && data[end] != '"' && end-pos <= 32 {
			if data[end] == '\\' {
				end++
			}
			end++
		}
		if end < len(data) && data[end] == '"' {
			return "the string " + string(data[pos:end+1])
		}
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "a list"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		end := pos + 1
		for end < len(data) && end-pos < 24 && strings.IndexByte("0123456789.eE+-", data[end]) >= 0 {
			end++
		}
		return "the number " + string(data[pos:end])
	}
	return "something that is not JSON"
}

// lineColumn returns the 1-based line and column of byte offset pos.
func lineColumn(data []byte, pos int) (line, col int) {
	pos = max(0, min(pos, len(data)))
	line = 1 + bytes.Count(data[:pos], []byte{'\n'})
	return line, pos - bytes.LastIndexByte(data[:pos], '\n')
}

// Path joins a field path and a member name: Path("messages[2]",
// "content") is "messages[2].content", Path("", "model") is "model".
func Path(at, name string) string {
	if at == "" {
		return name
	}
	return at + "." + name
}

// IsNull reports whether raw JSON text is absent or null.
func IsNull(raw []byte) bool {
	return len(raw) == 0 || (len(raw) == 4 && string(raw) == "null")
}

// Trim returns raw JSON text without leading and trailing white space.
func Trim(raw []byte) []byte {
	for len(raw) > 0 && isSpace(raw[0]) {
		raw = raw[1:]
	}
	for len(raw) > 0 && isSpace(raw[len(raw)-1]) {
		raw = raw[:len(raw)-1]
	}
	return raw
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// View returns raw JSON text as a string without copying (see view).
func View(raw []byte) string { return view(raw) }

// Unescaper gives the values of JSON strings that a decode kept raw (as
// sonic.NoCopyRawMessage, which costs no allocation, where a string
// field with an escape costs one): a view into the input when the string
// holds no escape, else the unescaped text in a buffer it reuses. Stream
// decoders use it for deltas, whose text and partial JSON nearly always
// hold escapes. Strings it returned are valid until the next Reset.
type Unescaper struct{ buf []byte }

// Reset makes the buffer's memory free for reuse.
func (u *Unescaper) Reset() { u.buf = u.buf[:0] }

// String returns the value of raw: a JSON string, or null or nothing
// for "".
func (u *Unescaper) String(raw []byte) (string, error) {
	raw = Trim(raw)
	if IsNull(raw) {
		return "", nil
	}
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errors.New("want a JSON string")
	}
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return view(in), nil
	}
	if cap(u.buf)-len(u.buf) < len(in) {
		// A new array: strings returned before keep the old one.
		u.buf = make([]byte, 0, 2*cap(u.buf)+len(in))
	}
	out := u.buf[len(u.buf):len(u.buf)]
	if perr := unquote.IntoBytes(view(in), &out); perr != 0 {
		return "", errors.New("invalid escape in a JSON string")
	}
	u.buf = u.buf[:len(u.buf)+len(out)]
	return view(out), nil
}
