package compress

import (
	"strings"
	"unicode/utf8"

	"switchboard/upstream/canon"
)

// Dedupe. A coding agent reads the same file twice, runs the same tests
// again, or pastes the same text; the later copy says nothing new. Each
// piece of content of at least Options.MinDedupe bytes (a tool result's
// text, or a text block) is looked up by its exact bytes; the first copy
// stays, and every later copy becomes a pointer back to it:
//
//	[same content as the read_file result of call toolu_01 above]
//	[same text as the user message above that begins "Here is the log:"]
//
// Keeping the first copy, not the last, is what keeps compression
// prefix-stable: whether a block becomes a pointer depends only on what
// came before it, so a turn compresses to the same bytes on every later
// request and stays in the provider's prompt cache (DESIGN.md,
// "Compression and prompt caching"). Keeping the last copy would rewrite
// an old turn each time its content is sent again.
//
// The copies of one piece of content form a group of members in
// document order. A member is a holder (the content is there) or a
// pointer (it refers to the holder before it). Middle-out may drop a
// holder whose pointers stay: relocate then puts the content back into
// the first pointer that stays, which becomes the holder the later
// pointers refer to, so a pointer never dangles. (Truncate leaves alone
// a holder that a protected pointer needs.)

// member is one copy of deduplicated content: the block at msg (-1: the
// system prompt), blk.
type member struct {
	msg, blk int32
	group    int32
	ref      int32 // a pointer's holder (an index into members)
	holder   bool
	dead     bool // dropped by middle-out
}

// group is one piece of content sent more than once: its first member,
// whether pointers to it are not worth it (they would cost as many
// tokens as the content), relocate's state (cur, lost), and the pointer
// text for holder ptrFor.
type group struct {
	first     int32
	skip      bool
	cur, lost int32
	ptrFor    int32
	ptr       string
}

func (c *compressor) dedupe() {
	r := c.r
	minLen := c.o.MinDedupe
	for i := range r.System {
		if b := &r.System[i]; b.Kind == canon.BlockText && len(b.Text) >= minLen {
			c.see(-1, i, b.Text)
		}
	}
	for mi := range r.Messages {
		m := &r.Messages[mi]
		for bi := range m.Content {
			b := &m.Content[bi]
			var key string
			switch b.Kind {
			case canon.BlockToolUse:
				if _, ok := c.names[b.ID]; !ok && b.ID != "" {
					c.names[b.ID] = b.Name
				}
				continue
			case canon.BlockText:
				key = b.Text
			case canon.BlockToolResult:
				var ok bool
				if key, ok = resultText(b.Content); !ok {
					continue
				}
			default:
				continue
			}
			if len(key) >= minLen && c.see(mi, bi, key) {
				c.rep.Changed[Dedupe]++
			}
		}
	}
}

// see records the content key of the block at (mi, bi); it reports
// whether the block was a later copy, now a pointer.
func (c *compressor) see(mi, bi int, key string) bool {
	g, dup := c.seen[key]
	if !dup {
		g = int32(len(c.groups))
		c.groups = append(c.groups, group{first: int32(len(c.members)), ptrFor: -1})
		c.seen[key] = g
		c.members = append(c.members, member{msg: int32(mi), blk: int32(bi), group: g, ref: -1, holder: true})
		return false
	}
	// The holder is the group's first member: Dedupe runs before any
	// stage that moves content. A pointer must cost fewer tokens than the
	// content (a long run of blanks may not); if it does not for one
	// copy, it does not for any.
	grp := &c.groups[g]
	if grp.skip {
		return false
	}
	if TextTokens(c.pointerText(grp.first)) >= TextTokens(key) {
		grp.skip = true
		return false
	}
	m := member{msg: int32(mi), blk: int32(bi), group: g, ref: grp.first}
	c.members = append(c.members, m)
	c.setPointer(&m, m.ref)
	return true
}

// resultText returns a tool result's content as one text, and false if
// it is empty or holds anything but text (an image is never deduped).
// Several text blocks are joined by newlines.
func resultText(content []canon.Block) (string, bool) {
	switch {
	case len(content) == 0:
		return "", false
	case len(content) == 1:
		return content[0].Text, content[0].Kind == canon.BlockText
	}
	n := 0
	for i := range content {
		if content[i].Kind != canon.BlockText {
			return "", false
		}
		n += len(content[i].Text) + 1
	}
	var sb strings.Builder
	sb.Grow(n)
	for i := range content {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(content[i].Text)
	}
	return sb.String(), true
}

// block returns the block member m stands at.
func (c *compressor) block(m *member) *canon.Block {
	if m.msg < 0 {
		return &c.r.System[m.blk]
	}
	return &c.r.Messages[m.msg].Content[m.blk]
}

// setPointer makes m's block a pointer to holder h.
func (c *compressor) setPointer(m *member, h int32) {
	text := c.pointerText(h)
	b := c.block(m)
	if b.Kind == canon.BlockToolResult {
		var cache canon.CacheControl
		if n := len(b.Content); n > 0 {
			cache = b.Content[n-1].Cache
		}
		if cap(b.Content) == 0 {
			b.Content = make([]canon.Block, 1)
		}
		b.Content = b.Content[:1]
		b.Content[0] = canon.Block{Kind: canon.BlockText, Text: text, Cache: cache}
	} else {
		b.Text = text
	}
	c.markDirty(int(m.msg))
}

// pointerText returns the text of a pointer to holder h: for a tool
// result, the tool's name and call id; for a text, its speaker and first
// words. It depends on the holder alone, so it is the same on every
// request.
func (c *compressor) pointerText(h int32) string {
	hm := &c.members[h]
	g := &c.groups[hm.group]
	if g.ptrFor == h {
		return g.ptr
	}
	b := c.block(hm)
	var text string
	switch {
	case b.Kind == canon.BlockToolResult && b.ID != "":
		if name := c.names[b.ID]; name != "" {
			text = "[same content as the " + name + " result of call " + b.ID + " above]"
		} else {
			text = "[same content as the result of call " + b.ID + " above]"
		}
	case b.Kind == canon.BlockToolResult:
		s, _ := resultText(b.Content)
		text = `[same content as the tool result above that begins "` + excerpt(s) + `"]`
	case hm.msg < 0:
		text = `[same text as the system prompt above that begins "` + excerpt(b.Text) + `"]`
	default:
		text = "[same text as the " + string(c.r.Messages[hm.msg].Role) + ` message above that begins "` + excerpt(b.Text) + `"]`
	}
	g.ptrFor, g.ptr = h, text
	return text
}

// excerptLen is the most bytes of a text a pointer quotes.
const excerptLen = 60

// excerpt returns the first non-blank line of s, trimmed and cut to
// excerptLen bytes on a rune boundary ("..." marks a cut).
func excerpt(s string) string {
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) <= excerptLen {
			return line
		}
		cut := excerptLen
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		return line[:cut] + "..."
	}
	return ""
}

// relocate moves content out of holders that are about to be lost
// (dropped): for each group, the first later pointer that
// is eligible (will stay whole) receives a copy of the lost holder's
// content and becomes the holder the eligible pointers after it refer
// to. Pointers that are not eligible are left as they are. It returns
// the tokens this adds (each content put back, less its pointer); with
// apply false it only computes them.
func (c *compressor) relocate(lost, eligible func(m *member) bool, apply bool) int {
	for i := range c.groups {
		c.groups[i].cur, c.groups[i].lost = -1, -1
	}
	cost := 0
	for i := range c.members {
		m := &c.members[i]
		if m.dead {
			continue
		}
		g := &c.groups[m.group]
		if m.holder {
			if lost(m) {
				g.cur, g.lost = -1, int32(i)
			} else {
				g.cur = int32(i)
			}
			continue
		}
		if !eligible(m) {
			continue
		}
		switch {
		case g.cur < 0 && g.lost >= 0:
			h := &c.members[g.lost]
			cost += blockTokens(c.block(h)) - blockTokens(c.block(m))
			g.cur = int32(i)
			if apply {
				c.materialize(m, h)
				m.holder, m.ref = true, -1
			}
		case apply && g.cur >= 0 && m.ref != g.cur:
			m.ref = g.cur
			c.setPointer(m, g.cur)
		}
	}
	return cost
}

// materialize copies holder h's current content into m's block.
func (c *compressor) materialize(m, h *member) {
	src, dst := c.block(h), c.block(m)
	var text string
	if src.Kind == canon.BlockToolResult {
		if dst.Kind == canon.BlockToolResult {
			var cache canon.CacheControl
			if n := len(dst.Content); n > 0 {
				cache = dst.Content[n-1].Cache
			}
			dst.Content = append([]canon.Block(nil), src.Content...)
			for i := range dst.Content {
				dst.Content[i].Cache = canon.CacheControl{}
			}
			dst.Content[len(dst.Content)-1].Cache = cache
			c.markDirty(int(m.msg))
			return
		}
		text, _ = resultText(src.Content)
	} else {
		text = src.Text
	}
	if dst.Kind == canon.BlockToolResult {
		dst.Content[0].Text = text
	} else {
		dst.Text = text
	}
	c.markDirty(int(m.msg))
}
