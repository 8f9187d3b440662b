package compress

import (
	"strings"
	"unsafe"

	"switchboard/upstream/canon"
)

// Whitespace. Only whitespace that carries no meaning goes; what a
// model, or the edit it will make, may depend on stays:
//
//   - nothing changes inside a code fence (a line opening with ``` or
//     ~~~ up to the line closing it with the same fence; an unclosed
//     fence runs to the end of the text), nor on the fence lines;
//   - line breaks stay where they are in tool results, so line numbers
//     the model reads off a file or a log stay right, and so does every
//     line's indentation (Python, YAML, Makefiles, "  42→" prefixes);
//   - trailing spaces and tabs at the end of a line go everywhere
//     outside fences;
//   - in prose (the system prompt and text blocks of messages, not tool
//     results), runs of two or more spaces and tabs after a line's
//     indentation become one space, and runs of blank lines become one
//     blank line; a line indented by four columns or more may be
//     Markdown code and keeps its inner spacing.
//
// Thinking blocks (signed), tool calls' inputs, refusals, files and
// dedupe pointers are never touched.

func (c *compressor) whitespace() {
	r := c.r
	for i := range r.System {
		if b := &r.System[i]; b.Kind == canon.BlockText && c.collapse(&b.Text, true) {
			c.rep.Changed[Whitespace]++
			c.markDirty(-1)
		}
	}
	for mi := range r.Messages {
		m := &r.Messages[mi]
		for bi := range m.Content {
			b := &m.Content[bi]
			changed := false
			switch b.Kind {
			case canon.BlockText:
				changed = c.collapse(&b.Text, true)
			case canon.BlockToolResult:
				for j := range b.Content {
					if t := &b.Content[j]; t.Kind == canon.BlockText && c.collapse(&t.Text, false) {
						changed = true
					}
				}
			}
			if changed {
				c.rep.Changed[Whitespace]++
				c.markDirty(mi)
			}
		}
	}
}

// collapse rewrites *s with its whitespace collapsed and reports whether
// it changed: only when that saves tokens.
func (c *compressor) collapse(s *string, prose bool) bool {
	if !hasCollapsible(*s, prose) {
		return false
	}
	c.buf = appendCollapsed(c.buf[:0], *s, prose)
	if len(c.buf) == len(*s) || len(c.buf) == 0 {
		// Every rule shortens, so equal length is no change; an empty
		// text block is refused by Anthropic, so a blank text stays.
		return false
	}
	out := string(c.buf)
	if TextTokens(out) >= TextTokens(*s) {
		return false // not worth a rewrite (a tab before a newline may cost nothing)
	}
	*s = out
	return true
}

// hasCollapsible is a quick check for what appendCollapsed may remove: a
// space or tab before a line break or the end, or (prose) two blanks in
// a row or two line breaks in a row. strings.Contains is vectorised:
// this costs a few passes at memory speed.
func hasCollapsible(s string, prose bool) bool {
	if n := len(s); n > 0 && (s[n-1] == ' ' || s[n-1] == '\t') {
		return true
	}
	for _, p := range trailingBlanks {
		if strings.Contains(s, p) {
			return true
		}
	}
	if prose {
		for _, p := range proseRuns {
			if strings.Contains(s, p) {
				return true
			}
		}
	}
	return false
}

var (
	trailingBlanks = []string{" \n", "\t\n", " \r\n", "\t\r\n"}
	proseRuns      = []string{"  ", " \t", "\t ", "\t\t", "\n\n"}
)

// appendCollapsed appends s with whitespace collapsed to dst (rules
// above).
func appendCollapsed(dst []byte, s string, prose bool) []byte {
	var fence byte // '`' or '~' inside a fence
	fenceLen := 0
	blank := 0 // blank lines just written (prose)
	for start := 0; start <= len(s); {
		end := start
		for end < len(s) && s[end] != '\n' {
			end++
		}
		line := s[start:end]
		newline := end < len(s)
		start = end + 1

		if ch, n := fenceOpen(line); n > 0 && (fence == 0 || ch == fence && n >= fenceLen && isFenceClose(line)) {
			if fence == 0 {
				fence, fenceLen = ch, n
			} else {
				fence, fenceLen = 0, 0
			}
			dst = appendLine(dst, line, newline)
			blank = 0
			continue
		}
		if fence != 0 {
			dst = appendLine(dst, line, newline)
			continue
		}

		cr := len(line) > 0 && line[len(line)-1] == '\r'
		body := line
		if cr {
			body = line[:len(line)-1]
		}
		body = trimRightBlank(body)
		if prose && body == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		if prose {
			dst = appendProseLine(dst, body)
		} else {
			dst = append(dst, body...)
		}
		if cr {
			dst = append(dst, '\r')
		}
		if newline {
			dst = append(dst, '\n')
		}
	}
	return dst
}

func appendLine(dst []byte, line string, newline bool) []byte {
	dst = append(dst, line...)
	if newline {
		dst = append(dst, '\n')
	}
	return dst
}

// appendProseLine appends a prose line with no trailing blanks: its
// indentation as is, then, unless the indentation is four columns or
// more, its runs of blanks as one space.
func appendProseLine(dst []byte, line string) []byte {
	i, cols := 0, 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		if line[i] == '\t' {
			cols += 4
		} else {
			cols++
		}
		i++
	}
	if cols >= 4 {
		return append(dst, line...)
	}
	dst = append(dst, line[:i]...)
	for ; i < len(line); i++ {
		ch := line[i]
		if ch == ' ' || ch == '\t' {
			j := i + 1
			for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
				j++
			}
			if j > i+1 {
				dst = append(dst, ' ')
				i = j - 1
				continue
			}
		}
		dst = append(dst, ch)
	}
	return dst
}

// fenceOpen returns the fence character and length when line, after at
// most three spaces, starts a code fence (``` or ~~~, or longer).
func fenceOpen(line string) (byte, int) {
	i := 0
	for i < len(line) && i < 3 && line[i] == ' ' {
		i++
	}
	if i >= len(line) || line[i] != '`' && line[i] != '~' {
		return 0, 0
	}
	ch, n := line[i], 0
	for i+n < len(line) && line[i+n] == ch {
		n++
	}
	if n < 3 {
		return 0, 0
	}
	return ch, n
}

// isFenceClose reports whether a fence line closes a fence: nothing but
// blanks after the fence characters.
func isFenceClose(line string) bool {
	ch, n := fenceOpen(line)
	i := 0
	for line[i] != ch {
		i++
	}
	return strings.TrimRight(line[i+n:], " \t\r") == ""
}

func trimRightBlank(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// stringBytes returns s's bytes without copying; they must not change.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
