package canon

import "strings"

// DecodeURL sets b's source from an image or file URL: a base64 data:
// URL becomes MediaType and Data, anything else URL.
func DecodeURL(b *Block, url, at string) error {
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		if url == "" {
			return Fieldf(at, "required")
		}
		b.URL = url
		return nil
	}
	meta, data, ok := strings.Cut(rest, ",")
	mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
	if !ok || !isBase64 || mediaType == "" {
		return Fieldf(at, "want data:<media type>;base64,<data>")
	}
	b.MediaType, b.Data = mediaType, data
	return nil
}

// AppendURL appends the source of an image or file block as a JSON
// string: its URL, or a base64 data: URL of its inline data.
func AppendURL(dst []byte, b *Block) []byte {
	if b.URL != "" {
		return AppendString(dst, b.URL)
	}
	dst = append(dst, `"data:`...)
	dst = AppendEscaped(dst, b.MediaType)
	dst = append(dst, ";base64,"...)
	dst = AppendEscaped(dst, b.Data)
	return append(dst, '"')
}
