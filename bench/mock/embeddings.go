package mock

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"switchboard/upstream/canon"

	"github.com/bytedance/sonic"
)

const (
	defaultDimensions = 8
	maxDimensions     = 4096
	maxInputs         = 2048
)

// appendEmbeddings appends the embedding list answering c: one vector per
// input, of c.req.Dimensions floats (default 8), as JSON numbers or, with
// encoding_format "base64", as base64 of little-endian float32s (the
// format the OpenAI SDKs ask for by default).
func appendEmbeddings(dst []byte, c *call) ([]byte, error) {
	inputs, err := countInputs(c.req.Input)
	if err != nil {
		return dst, err
	}
	dims := c.req.Dimensions
	switch {
	case dims == 0:
		dims = defaultDimensions
	case dims < 0 || dims > maxDimensions:
		return dst, fmt.Errorf("dimensions: want 1 to %d, got %d", maxDimensions, dims)
	}
	b64 := false
	switch c.req.EncodingFormat {
	case "", "float":
	case "base64":
		b64 = true
	default:
		return dst, fmt.Errorf("encoding_format: want float or base64, got %q", c.req.EncodingFormat)
	}

	dst = append(dst, `{"object":"list","data":[`...)
	var raw []byte
	for i := range inputs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"object":"embedding","index":`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `,"embedding":`...)
		if b64 {
			raw = raw[:0]
			for j := range dims {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(component(i, j)))
			}
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, raw)
			dst = append(dst, '"')
		} else {
			dst = append(dst, '[')
			for j := range dims {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendFloat(dst, float64(component(i, j)), 'f', -1, 32)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"model":`...)
	dst = canon.AppendString(dst, c.req.Model)
	prompt := promptTokens(c.ctx.Request.Body())
	dst = append(dst, `,"usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(prompt), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(prompt), 10)
	return append(dst, "}}"...), nil
}

// component is the deterministic value j of the vector for input i, a
// multiple of 1/16 in [-0.5, 0.5).
func component(i, j int) float32 {
	return float32((i*7+j*3)%16)/16 - 0.5
}

// countInputs returns the number of inputs in an embeddings "input": a
// string or a token array is one, an array of strings or of token arrays
// is one per element.
func countInputs(input json.RawMessage) (int, error) {
	if len(input) == 0 || string(input) == "null" {
		return 0, errors.New("input: missing; want a string or an array")
	}
	switch input[0] {
	case '"':
		return 1, nil
	case '[':
	default:
		return 0, fmt.Errorf("input: want a string or an array, got %.20s", input)
	}
	var items []json.RawMessage
	if err := sonic.Unmarshal(input, &items); err != nil {
		return 0, fmt.Errorf("input: cannot parse: %w", err)
	}
	switch {
	case len(items) == 0:
		return 0, errors.New("input: empty array")
	case len(items) > maxInputs:
		return 0, fmt.Errorf("input: at most %d items, got %d", maxInputs, len(items))
	case items[0][0] == '"' || items[0][0] == '[':
		return len(items), nil
	}
	return 1, nil
}
