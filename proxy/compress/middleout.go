package compress

import (
	"strconv"

	"switchboard/upstream/canon"
)

// MiddleOut (lossy). When the prompt is still over budget, whole
// messages go from the middle of the conversation: never the system
// prompt, never the first user turn (every message before the first
// assistant message: the task, and for Codex the environment context
// before it), never the last KeepLast messages, never a system or
// developer message, and never a tool call without its result or a
// result without its call. The dropped messages are replaced by one user
// message "[N earlier messages omitted]".
//
// Which messages, and prefix stability: OpenRouter's middle-out takes
// from the exact middle, which moves with every turn and would turn
// every later request into a prompt-cache miss. Here the dropped range
// starts right after the first user turn and ends at the first cut point
// (a boundary no tool call/result pair crosses) where the dropped tokens
// reach the excess rounded up to a multiple of budget/2. The range so
// depends only on the turns it covers and on the excess rounded coarsely:
// while a conversation grows by less than budget/2 tokens the same
// messages are dropped and the turns after them keep their bytes.
//
// Each step re-bills the whole prompt at the uncached price once, so the
// step size trades context for money: after a step the prompt is between
// half the budget and the budget. Replaying the corpus's five longest
// sessions with a 32k budget and Anthropic's cache prices (BenchmarkSession),
// steps of budget/2 saved 32% of the input cost, budget/4 16% (less than
// the lossless stages alone, 24%): smaller steps rewrite the cached
// prefix too often to pay for what they drop.
//
// A dedupe pointer whose holder is dropped receives the content back
// (see relocate in dedupe.go); the tokens that costs count when choosing
// the range.

// span is the first and last message mentioning a tool call id.
type span struct{ lo, hi int32 }

// headEnd returns the index of the first assistant message: everything
// before it is the system messages and the first user turn.
func headEnd(ms []canon.Message) int {
	for i := range ms {
		if ms[i].Role == canon.RoleAssistant {
			return i
		}
	}
	return len(ms)
}

// computeSpans marks in c.crossed every boundary (boundary b is between
// messages b-1 and b) that a tool call and its result straddle: a call
// id's first and last mention must stay on the same side of a cut. Calls
// and results without an id count as one id "", so nothing between the
// first and the last of them is dropped: they may pair by position.
func (c *compressor) computeSpans() {
	ms := c.r.Messages
	for i := range ms {
		for j := range ms[i].Content {
			b := &ms[i].Content[j]
			if b.Kind != canon.BlockToolUse && b.Kind != canon.BlockToolResult {
				continue
			}
			if sp, ok := c.spans[b.ID]; ok {
				sp.lo, sp.hi = min(sp.lo, int32(i)), max(sp.hi, int32(i))
				c.spans[b.ID] = sp
			} else {
				c.spans[b.ID] = span{int32(i), int32(i)}
			}
		}
	}
	c.crossed = grow(c.crossed, len(ms)+2)
	mark := func(lo, hi int) {
		if hi > lo {
			c.crossed[lo+1]++
			c.crossed[hi+1]--
		}
	}
	for _, sp := range c.spans {
		mark(int(sp.lo), int(sp.hi))
	}
	for b := 1; b < len(c.crossed); b++ {
		c.crossed[b] += c.crossed[b-1]
	}
}

// canCut reports whether a cut may fall at boundary b.
func (c *compressor) canCut(b int) bool { return c.crossed[b] == 0 }

// tailStart returns the first protected message at the end: KeepLast
// from the end, moved earlier until no call/result pair straddles it,
// never before head.
func (c *compressor) tailStart(head int) int {
	t := max(head, len(c.r.Messages)-c.o.KeepLast)
	for t > head && !c.canCut(t) {
		t--
	}
	return t
}

// noteTokens is about what the "[N earlier messages omitted]" message
// costs.
const noteTokens = 12

// middleOut drops messages from head on (see above) and returns where
// the protected tail now starts.
func (c *compressor) middleOut(head, tail, budget int) int {
	ms := c.r.Messages
	s := head
	for s < tail && !c.canCut(s) {
		s++
	}
	if s >= tail {
		return tail
	}
	step := max(budget/2, 1)
	target := (c.total + noteTokens - budget + step - 1) / step * step
	dropped := func(lo, hi int) func(m *member) bool {
		return func(m *member) bool {
			return m.msg >= int32(lo) && m.msg < int32(hi) && !ms[m.msg].Role.IsSystem()
		}
	}
	staying := func(lo, hi int) func(m *member) bool {
		d := dropped(lo, hi)
		return func(m *member) bool { return !d(m) }
	}
	acc, e, last := 0, -1, -1
	for i := s; i < tail; i++ {
		if !ms[i].Role.IsSystem() {
			acc += c.msgTok[i]
		}
		if !c.canCut(i + 1) {
			continue
		}
		last = i + 1
		if acc >= target && acc-c.relocate(dropped(s, last), staying(s, last), false) >= target {
			e = last
			break
		}
	}
	if e < 0 {
		e = last
	}
	if e <= s || !c.anyDroppable(s, e) {
		return tail
	}
	c.relocate(dropped(s, e), staying(s, e), true)
	return c.dropRange(s, e, tail)
}

// anyDroppable reports whether [s, e) holds a message that is not a
// system message.
func (c *compressor) anyDroppable(s, e int) bool {
	for i := s; i < e; i++ {
		if !c.r.Messages[i].Role.IsSystem() {
			return true
		}
	}
	return false
}

// dropRange removes the non-system messages of [s, e), puts the note
// after the system messages kept there, and keeps the token accounting,
// dirty marks and dedupe members in step. It returns the new tail.
func (c *compressor) dropRange(s, e, tail int) int {
	ms := c.r.Messages
	n := 0
	w := s
	shift := func(from, to int) {
		ms[to] = ms[from]
		c.msgTok[to] = c.msgTok[from]
		c.dirty[to] = c.dirty[from]
	}
	var kept []span // kept system messages of the range: old index, new
	for i := s; i < e; i++ {
		if ms[i].Role.IsSystem() {
			kept = append(kept, span{int32(i), int32(w)})
			shift(i, w)
			w++
			continue
		}
		c.total -= c.msgTok[i]
		n++
	}
	ms[w] = canon.Message{Role: canon.RoleUser, Content: []canon.Block{{Kind: canon.BlockText, Text: omittedNote(n)}}}
	c.msgTok[w], c.dirty[w] = 0, true
	w++
	removed := e - w
	for i := e; i < len(ms); i++ {
		shift(i, i-removed)
	}
	newLen := len(ms) - removed
	clear(ms[newLen:])
	c.r.Messages = ms[:newLen]
	c.msgTok = c.msgTok[:newLen]
	c.dirty = c.dirty[:newLen]
	for i := range c.members {
		m := &c.members[i]
		switch {
		case m.msg < int32(s) || m.dead:
		case m.msg < int32(e):
			m.dead = true
			for _, k := range kept {
				if k.lo == m.msg {
					m.msg, m.dead = k.hi, false
				}
			}
		default:
			m.msg -= int32(removed)
		}
	}
	c.rep.Changed[MiddleOut] += n
	return tail - removed
}

// omittedNote is the text that stands for n dropped messages.
func omittedNote(n int) string {
	if n == 1 {
		return "[1 earlier message omitted]"
	}
	return "[" + strconv.Itoa(n) + " earlier messages omitted]"
}
