package proxy

import (
	"bytes"
	"strings"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"

	"switchboard/configs"
	"switchboard/router"
	"switchboard/upstream"
	"switchboard/upstream/canon"
)

// Automatic prompt caching. Anthropic caches a prompt's prefix only up
// to the blocks marked cache_control, and a client that marks none pays
// the full input price on every turn of a conversation: 6-13x what the
// same agent costs with caching. When a call to an Anthropic-format
// provider carries no cache_control at all and its prompt is long enough
// to be cached, the gateway marks, as Anthropic advises, the last tool
// definition, the end of the system prompt and the last message (the
// conversation so far, which the next turn repeats): three breakpoints of
// the four allowed. The client can turn it off per request with
// `x-switchboard-prompt-cache: off` (or on, when the config has it off).

const headerPromptCache = "x-switchboard-prompt-cache"

var (
	cacheControlKey = []byte(`"cache_control"`)
	toolsKey        = []byte(`"tools"`)
	systemKey       = []byte(`"system"`)
	messagesKey     = []byte(`"messages"`)
)

// promptCache is the automatic prompt caching config, with the marker
// it writes ready.
type promptCache struct {
	auto      bool
	minTokens int64
	marker    canon.CacheControl
	wire      string // `,"cache_control":{...}`
}

func newPromptCache(c configs.PromptCache) promptCache {
	p := promptCache{auto: *c.Auto, minTokens: int64(c.MinTokens), marker: canon.CacheControl{Type: "ephemeral", TTL: c.TTL}}
	p.wire = "," + string(canon.AppendCacheControl(nil, p.marker))
	return p
}

// autoCache reports whether the call's request to Anthropic target t
// gets automatic cache breakpoints: on by config or header, the target
// speaks Anthropic, the client marked nothing itself, and the prompt
// (estimated from body) reaches the configured minimum.
func (s *Server) autoCache(c *call, t *router.Target, body []byte) bool {
	if t.Provider.Format != upstream.FormatAnthropic || !c.surface.chat {
		return false
	}
	on := c.rt.promptCache.auto
	switch string(c.ctx.Request.Header.Peek(headerPromptCache)) {
	case "off":
		on = false
	case "on", "auto":
		on = true
	}
	return on && !bytes.Contains(body, cacheControlKey) &&
		router.EstimateTokens(len(body)) >= c.rt.promptCache.minTokens
}

// markCanonRequest puts the breakpoints on a translated request.
func markCanonRequest(r *canon.Request, cc canon.CacheControl) {
	if n := len(r.Tools); n > 0 {
		r.Tools[n-1].Cache = cc
	}
	if n := len(r.System); n > 0 {
		r.System[n-1].Cache = cc
	} else if open := r.LeadingSystem(); open > 0 { // OpenAI's system messages
		if m := &r.Messages[open-1]; len(m.Content) > 0 {
			m.Content[len(m.Content)-1].Cache = cc
		}
	}
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := &r.Messages[i]
		if m.Role.IsSystem() || len(m.Content) == 0 {
			continue
		}
		if b := &m.Content[len(m.Content)-1]; cacheable(b.Kind) {
			b.Cache = cc
		}
		return
	}
}

// cacheable reports whether Anthropic takes cache_control on a block of
// kind k (not on thinking blocks).
func cacheable(k canon.BlockKind) bool {
	return k != canon.BlockThinking && k != canon.BlockRedactedThinking
}

// cacheEdits returns the edits that add the breakpoints to an Anthropic
// Messages body passed through: cache_control added to the last tool, to
// the last system block (a string system prompt becomes one text block)
// and to the last content block of the last message (a string content,
// one text block). n is search scratch space.
func cacheEdits(dst []edit, body []byte, marker string, n *ast.Node) ([]edit, error) {
	src := unsafe.String(unsafe.SliceData(body), len(body))
	if bytes.Contains(body, toolsKey) {
		if at, ok, err := lastElement(src, n, "tools"); err != nil {
			return dst, err
		} else if ok {
			dst = append(dst, insertBeforeClose(at, marker))
		}
	}
	if bytes.Contains(body, systemKey) {
		e, ok, err := markContent(src, n, marker, "system")
		if err != nil {
			return dst, err
		}
		if ok {
			dst = append(dst, e)
		}
	}
	if !bytes.Contains(body, messagesKey) {
		return dst, nil
	}
	var err error
	if *n, err = sonic.GetFromString(src, "messages"); err != nil || n.TypeSafe() != ast.V_ARRAY {
		return dst, nil // the decoder's error, if any, comes from the provider
	}
	elems, err := n.ArrayUseNode()
	if err != nil || len(elems) == 0 {
		return dst, nil
	}
	e, ok, err := markContent(src, n, marker, "messages", len(elems)-1, "content")
	if err != nil {
		return dst, err
	}
	if ok {
		dst = append(dst, e)
	}
	return dst, nil
}

// markContent returns the edit that marks the content at path: a string
// becomes a one-block array with the marker, an array gets the marker on
// its last block when that block can carry one.
func markContent(src string, n *ast.Node, marker string, path ...any) (edit, bool, error) {
	var err error
	if *n, err = sonic.GetFromString(src, path...); err != nil {
		return edit{}, false, nil // absent, or bad JSON the provider will name
	}
	switch n.TypeSafe() {
	case ast.V_STRING:
		at, err := spanOf(src, n)
		if err != nil {
			return edit{}, false, err
		}
		return edit{at: at, text: `[{"type":"text","text":` + src[at.start:at.end] + marker + `}]`}, true, nil
	case ast.V_ARRAY:
		elems, err := n.ArrayUseNode()
		if err != nil || len(elems) == 0 {
			return edit{}, false, nil
		}
		last := append(path, len(elems)-1)
		if *n, err = sonic.GetFromString(src, append(last, "type")...); err == nil {
			if typ, _ := n.String(); typ == "thinking" || typ == "redacted_thinking" {
				return edit{}, false, nil
			}
		}
		if *n, err = sonic.GetFromString(src, last...); err != nil || n.TypeSafe() != ast.V_OBJECT {
			return edit{}, false, nil
		}
		at, err := spanOf(src, n)
		if err != nil || emptyObject(src, at) {
			return edit{}, false, err
		}
		return insertBeforeClose(at, marker), true, nil
	}
	return edit{}, false, nil
}

// lastElement finds the span of the last element of the top-level array
// key, when it is an object.
func lastElement(src string, n *ast.Node, key string) (span, bool, error) {
	var err error
	if *n, err = sonic.GetFromString(src, key); err != nil || n.TypeSafe() != ast.V_ARRAY {
		return span{}, false, nil
	}
	elems, err := n.ArrayUseNode()
	if err != nil || len(elems) == 0 {
		return span{}, false, nil
	}
	if *n, err = sonic.GetFromString(src, key, len(elems)-1); err != nil || n.TypeSafe() != ast.V_OBJECT {
		return span{}, false, nil
	}
	at, err := spanOf(src, n)
	return at, err == nil && !emptyObject(src, at), err
}

// emptyObject reports whether the object at at has no members.
func emptyObject(src string, at span) bool {
	return strings.TrimSpace(src[at.start+1:at.end-1]) == ""
}

// insertBeforeClose is the edit that adds marker (`,"cache_control":...`)
// as the last member of the object at at.
func insertBeforeClose(at span, marker string) edit {
	return edit{at: span{at.end - 1, at.end - 1}, text: marker}
}
