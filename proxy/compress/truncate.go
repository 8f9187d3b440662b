package compress

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"switchboard/upstream/canon"
)

// Truncate (lossy). A long tool result keeps its first HeadLines and
// last TailLines lines, the cut marked "[... N lines omitted ...]": the
// start of a file or log says what it is, the end of a test run says how
// it went. A text is long when at least half as many lines again would
// be omitted as are kept; a text of few but huge lines (minified code,
// one-line JSON) is cut by bytes instead, about 200 bytes per kept line,
// the cut marked "[... N bytes omitted ...]". Only tool results are
// truncated, never the system prompt, the first user turn or text the
// model or user wrote.
//
// Prefix stability: the tool results truncated first are every long one
// before the protected last KeepLast messages, all at once, but the
// boundary is rounded down to a multiple of truncateStep messages. As a
// conversation grows the boundary so moves once every truncateStep
// messages, and each move invalidates the provider's cache from the
// first newly truncated result on, instead of on every turn. (32 rather
// than 16 saved a few points of cached input cost in BenchmarkSession.) The results
// inside the protected messages are truncated only when middle-out could
// not bring the prompt under budget. The first copy of content that a
// dedupe pointer in the protected messages stands for stays whole.

const (
	// truncateStep is how many messages the truncation boundary moves
	// at a time.
	truncateStep = 32
	// lineBytes is the bytes a kept line may take on average before the
	// kept part is cut by bytes.
	lineBytes = 200
)

// truncateOlder truncates the long tool results after the head and
// before the protected tail (rounded down to a truncateStep multiple),
// except the first copies of content a dedupe pointer in the tail
// stands for: truncating one would mean restoring it in the tail, which
// costs more than it saves.
func (c *compressor) truncateOlder(head, tail int) {
	end := tail / truncateStep * truncateStep
	if end <= head {
		return
	}
	c.truncateRange(head, end, c.pinned(int32(end)))
}

// pinned returns the holders that a pointer at or after message end
// refers to, by position; nil when there are none.
func (c *compressor) pinned(end int32) map[[2]int32]bool {
	var pins map[[2]int32]bool
	for i := range c.members {
		m := &c.members[i]
		if m.holder || m.dead || m.msg < end {
			continue
		}
		h := &c.members[m.ref]
		if pins == nil {
			pins = make(map[[2]int32]bool)
		}
		pins[[2]int32{h.msg, h.blk}] = true
	}
	return pins
}

// truncateRange truncates the long tool results of messages [from, to)
// but those in pins.
func (c *compressor) truncateRange(from, to int, pins map[[2]int32]bool) {
	for mi := from; mi < to; mi++ {
		m := &c.r.Messages[mi]
		for bi := range m.Content {
			b := &m.Content[bi]
			if b.Kind != canon.BlockToolResult || pins[[2]int32{int32(mi), int32(bi)}] {
				continue
			}
			changed := false
			for j := range b.Content {
				t := &b.Content[j]
				if t.Kind != canon.BlockText {
					continue
				}
				var ok bool
				if c.buf, ok = appendTruncated(c.buf[:0], t.Text, c.o.HeadLines, c.o.TailLines); ok {
					t.Text = string(c.buf)
					changed = true
				}
			}
			if changed {
				c.rep.Changed[Truncate]++
				c.markDirty(mi)
			}
		}
	}
}

// cut says what truncation keeps of a text: s[:head] and s[tail:], the
// rest counted in omitted lines (or bytes, when bytes is set).
type cut struct {
	head, tail int
	omitted    int
	bytes      bool
}

// planCut decides how to truncate s keeping head and tail lines; ok is
// false when s is not long enough to be worth it.
func planCut(s string, head, tail int) (cut, string, bool) {
	body, final := s, ""
	if strings.HasSuffix(body, "\n") {
		body, final = body[:len(body)-1], "\n"
	}
	lines := strings.Count(body, "\n") + 1
	if omitted := lines - head - tail; omitted >= max((head+tail)/2, 1) {
		h := 0
		for range head {
			h += strings.IndexByte(body[h:], '\n') + 1
		}
		t := len(body)
		for range tail {
			t = strings.LastIndexByte(body[:t], '\n')
		}
		return cut{head: h, tail: t + 1, omitted: omitted}, final, true
	}
	hb, tb := head*lineBytes, tail*lineBytes
	if len(body) < (hb+tb)*3/2 {
		return cut{}, "", false
	}
	for hb > 0 && !utf8.RuneStart(body[hb]) {
		hb--
	}
	t := len(body) - tb
	for t < len(body) && !utf8.RuneStart(body[t]) {
		t++
	}
	return cut{head: hb, tail: t, omitted: t - hb, bytes: true}, final, true
}

// appendTruncated appends s truncated to its head and tail lines to dst
// and reports whether it was long enough to truncate (dst is unchanged
// when not).
func appendTruncated(dst []byte, s string, head, tail int) ([]byte, bool) {
	p, final, ok := planCut(s, head, tail)
	if !ok {
		return dst, false
	}
	body := s[:len(s)-len(final)]
	if p.bytes {
		dst = append(dst, body[:p.head]...)
		dst = appendMarker(dst, p.omitted, " bytes")
		dst = append(dst, body[p.tail:]...)
		return append(dst, final...), true
	}
	dst = appendCapped(dst, body[:p.head], head*lineBytes, true)
	dst = appendMarker(dst, p.omitted, " lines")
	dst = appendCapped(dst, body[p.tail:], tail*lineBytes, false)
	return append(dst, final...), true
}

// appendCapped appends part, cut to its first (keepStart) or last limit
// bytes with a marker when it is longer.
func appendCapped(dst []byte, part string, limit int, keepStart bool) []byte {
	if len(part) <= limit*3/2 {
		return append(dst, part...)
	}
	if keepStart {
		for limit > 0 && !utf8.RuneStart(part[limit]) {
			limit--
		}
		dst = append(dst, part[:limit]...)
		return appendMarker(dst, len(part)-limit, " bytes")
	}
	from := len(part) - limit
	for from < len(part) && !utf8.RuneStart(part[from]) {
		from++
	}
	dst = appendMarker(dst, from, " bytes")
	return append(dst, part[from:]...)
}

// appendMarker appends "[... N lines omitted ...]" on a line of its own.
func appendMarker(dst []byte, n int, unit string) []byte {
	if len(dst) > 0 && dst[len(dst)-1] != '\n' {
		dst = append(dst, '\n')
	}
	dst = append(dst, "[... "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, unit...)
	return append(dst, " omitted ...]\n"...)
}
