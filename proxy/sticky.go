package proxy

import (
	"hash/maphash"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
)

// Sticky routing: the turns of one conversation go to the target that
// served it before, while that target is healthy, so that the provider's
// prompt cache holds its prefix (router.Affinity). A conversation is
// named by the client's session header, else by a hash of its opening
// (the system prompt and the first message), which every later turn
// repeats. Only routes with a choice of targets, ordered at random or by
// measurement, pay for it.

// affinityTTL is how long a conversation stays with its target after
// its last call: longer than Anthropic's 1-hour cache.
const affinityTTL = 2 * time.Hour

// affinitySize bounds the conversations remembered.
const affinitySize = 1 << 17

// sessionHeaders are the headers clients name a conversation with:
// Switchboard's own, Codex CLI's and Claude Code's.
var sessionHeaders = [...]string{"x-switchboard-session", "session_id", "session-id", "x-session-id", "x-claude-code-session-id"}

var affinitySeed = maphash.MakeSeed()

// conversationKey names the call's conversation for sticky routing, or
// reports false when the body has nothing to name it by.
func (c *call) conversationKey(body []byte) (uint64, bool) {
	var h maphash.Hash
	h.SetSeed(affinitySeed)
	h.WriteString(c.plan.Route.Model)
	for _, name := range sessionHeaders {
		if v := c.ctx.Request.Header.Peek(name); len(v) > 0 {
			h.Write(v)
			return h.Sum64(), true
		}
	}
	src := unsafe.String(unsafe.SliceData(body), len(body))
	n := &c.fields.node
	found := false
	for _, paths := range c.format.openings {
		for _, path := range paths {
			var err error
			if *n, err = sonic.GetFromString(src, path...); err != nil {
				continue
			}
			raw, err := n.Raw()
			if err != nil {
				continue
			}
			h.WriteString(raw)
			found = true
			break
		}
	}
	return h.Sum64(), found
}

// stick puts the conversation's earlier target first among the first
// route's targets and remembers to record the one that serves it. Only
// for routes whose order varies (router.Route.Varies).
func (s *Server) stick(c *call, body []byte) {
	n := c.plan.NextRoute(0)
	if n < 2 {
		return
	}
	key, ok := c.conversationKey(body)
	if !ok {
		return
	}
	c.sticky.key, c.sticky.on = key, true
	if s.affinity.Prefer(c.plan.Targets[:n], key, c.start) {
		c.ctx.Response.Header.Set(headerSticky, "1")
	}
}

// headerSticky is set when the call went first to the target that served
// its conversation before.
const headerSticky = "x-switchboard-sticky"
