package compress

import (
	"bytes"
	"encoding/json"

	"switchboard/upstream/canon"
)

// Minify: a tool result that is one valid JSON value (an object or an
// array: package.json, an API response, `go list -json`) is compacted.
// encoding/json.Compact only drops the whitespace between tokens, so
// keys keep their order and strings and numbers stay byte for byte.
// Text that is not valid JSON is left alone, as is JSON inside a longer
// text: its whitespace may be what the model is asked about.

func (c *compressor) minify() {
	for mi := range c.r.Messages {
		m := &c.r.Messages[mi]
		for bi := range m.Content {
			b := &m.Content[bi]
			if b.Kind != canon.BlockToolResult {
				continue
			}
			changed := false
			for j := range b.Content {
				t := &b.Content[j]
				if t.Kind != canon.BlockText {
					continue
				}
				if out, ok := c.minifyJSON(t.Text); ok {
					t.Text = out
					changed = true
				}
			}
			if changed {
				c.rep.Changed[Minify]++
				c.markDirty(mi)
			}
		}
	}
}

// minifyJSON returns s compacted, and false when s is not a JSON object
// or array, or compacting it saves no token.
func (c *compressor) minifyJSON(s string) (string, bool) {
	if !looksLikeJSON(s) {
		return "", false
	}
	buf := bytes.NewBuffer(c.buf[:0])
	if err := json.Compact(buf, stringBytes(s)); err != nil {
		return "", false
	}
	c.buf = buf.Bytes()
	if len(c.buf) >= len(s) {
		return "", false
	}
	out := string(c.buf)
	if TextTokens(out) >= TextTokens(s) {
		return "", false
	}
	return out, true
}

// looksLikeJSON reports whether s, past leading whitespace, opens an
// object or an array, and could hold insignificant whitespace.
func looksLikeJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return hasJSONSpace(s)
		}
		return false
	}
	return false
}

// hasJSONSpace reports whether s has any whitespace byte at all; compact
// JSON has none outside strings, and strings hold no raw newlines.
func hasJSONSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			return true
		}
	}
	return false
}
