package compress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"switchboard/upstream/canon"
)

// Conversation builders and the invariants every test checks.

// conv builds a conversation: a system prompt, then turns.
type conv struct {
	r     canon.Request
	calls int
}

func newConv(system string) *conv {
	c := &conv{}
	if system != "" {
		c.r.System = []canon.Block{{Kind: canon.BlockText, Text: system}}
	}
	c.r.Tools = []canon.Tool{{Name: "read_file", Description: "Reads a file.", Schema: `{"type":"object"}`}}
	return c
}

func (c *conv) say(role canon.Role, texts ...string) *conv {
	m := canon.Message{Role: role}
	for _, t := range texts {
		m.Content = append(m.Content, canon.Block{Kind: canon.BlockText, Text: t})
	}
	c.r.Messages = append(c.r.Messages, m)
	return c
}

// call is a tool call and its result; id is generated when empty.
type call struct{ id, name, input, result string }

// exchange appends an assistant turn (text, then the calls) and the user
// turn holding their results.
func (c *conv) exchange(text string, calls ...call) *conv {
	a := canon.Message{Role: canon.RoleAssistant}
	if text != "" {
		a.Content = append(a.Content, canon.Block{Kind: canon.BlockText, Text: text})
	}
	u := canon.Message{Role: canon.RoleUser}
	for _, cl := range calls {
		if cl.id == "" {
			c.calls++
			cl.id = fmt.Sprintf("call_%02d", c.calls)
		}
		if cl.input == "" {
			cl.input = `{}`
		}
		a.Content = append(a.Content, canon.Block{Kind: canon.BlockToolUse, ID: cl.id, Name: cl.name, Input: cl.input})
		u.Content = append(u.Content, canon.Block{Kind: canon.BlockToolResult, ID: cl.id, Content: []canon.Block{{Kind: canon.BlockText, Text: cl.result}}})
	}
	c.r.Messages = append(c.r.Messages, a, u)
	return c
}

func (c *conv) req() *canon.Request { return cloneRequest(&c.r) }

// cloneRequest copies r deeply enough for Compress to rewrite the copy.
func cloneRequest(r *canon.Request) *canon.Request {
	c := *r
	c.System = cloneBlocks(r.System)
	c.Tools = slices.Clone(r.Tools)
	c.Messages = slices.Clone(r.Messages)
	for i := range c.Messages {
		c.Messages[i].Content = cloneBlocks(c.Messages[i].Content)
	}
	return &c
}

func cloneBlocks(bs []canon.Block) []canon.Block {
	if bs == nil {
		return nil
	}
	out := slices.Clone(bs)
	for i := range out {
		out[i].Content = cloneBlocks(out[i].Content)
	}
	return out
}

// lines returns n numbered lines of filler, as a file read shows them.
func lines(prefix string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%6d\t%s line %d: the quick brown fox jumps over the lazy dog\n", i, prefix, i)
	}
	return b.String()
}

// checkPairs fails unless every tool call in r has exactly one result,
// in the next message, and every result answers exactly one call.
func checkPairs(t testing.TB, r *canon.Request, what string) {
	t.Helper()
	if p := pairProblem(r); p != "" {
		t.Fatalf("%s: %s", what, p)
	}
}

// pairProblem says what is wrong with r's calls and results, or "".
func pairProblem(r *canon.Request) string {
	uses, results := map[string]int{}, map[string]int{}
	for i, m := range r.Messages {
		for _, b := range m.Content {
			switch b.Kind {
			case canon.BlockToolUse:
				if _, dup := uses[b.ID]; dup {
					return fmt.Sprintf("call %q made twice", b.ID)
				}
				uses[b.ID] = i
			case canon.BlockToolResult:
				if _, dup := results[b.ID]; dup {
					return fmt.Sprintf("call %q answered twice", b.ID)
				}
				results[b.ID] = i
			}
		}
	}
	for id, i := range uses {
		j, ok := results[id]
		if !ok {
			return fmt.Sprintf("call %q (message %d) has no result", id, i)
		}
		if j != i+1 {
			return fmt.Sprintf("call %q in message %d answered in message %d", id, i, j)
		}
	}
	for id, j := range results {
		if _, ok := uses[id]; !ok {
			return fmt.Sprintf("result %q (message %d) answers no call", id, j)
		}
	}
	return ""
}

// pairing returns, for r, the set of call ids made once and answered
// once after, and the set of the others.
func pairing(r *canon.Request) (paired, orphans map[string]bool) {
	type seen struct{ uses, results, useAt, resultAt int }
	ids := map[string]*seen{}
	get := func(id string) *seen {
		if ids[id] == nil {
			ids[id] = &seen{}
		}
		return ids[id]
	}
	for i, m := range r.Messages {
		for _, b := range m.Content {
			switch b.Kind {
			case canon.BlockToolUse:
				s := get(b.ID)
				s.uses++
				s.useAt = i
			case canon.BlockToolResult:
				s := get(b.ID)
				s.results++
				s.resultAt = i
			}
		}
	}
	paired, orphans = map[string]bool{}, map[string]bool{}
	for id, s := range ids {
		if s.uses == 1 && s.results == 1 && s.useAt < s.resultAt {
			paired[id] = true
		} else {
			orphans[id] = true
		}
	}
	return paired, orphans
}

// checkNoNewOrphans fails if compression broke a pair that was whole in
// before, or created a call or result with an id that was not there.
// (An id used twice may end up paired when middle-out drops one use.)
func checkNoNewOrphans(t testing.TB, before, after *canon.Request) {
	t.Helper()
	pb, ob := pairing(before)
	pa, oa := pairing(after)
	for id := range oa {
		if !ob[id] {
			t.Fatalf("compression left call %q without its pair (was paired: %v)", id, pb[id])
		}
	}
	for id := range pa {
		if !pb[id] && !ob[id] {
			t.Fatalf("pair %q appeared from nowhere", id)
		}
	}
}

var (
	resultPointer = regexp.MustCompile(`^\[same content as the (?:\S+ )?result of call (\S+) above\]$`)
	textPointer   = regexp.MustCompile(`^\[same (?:text|content) as the (?:(\w+) message|system prompt|tool result) above that begins "(.*)"\]$`)
)

// content returns what a block says: its text, or a tool result's texts
// joined; ok is false for blocks that carry no text content.
func content(b *canon.Block) (string, bool) {
	switch b.Kind {
	case canon.BlockText:
		return b.Text, true
	case canon.BlockToolResult:
		return resultText(b.Content)
	}
	return "", false
}

// equivalent reports whether after says what before said: the same
// bytes, the same JSON compacted, or the same words with code fences
// verbatim (and, in tool results, the same lines).
func equivalent(before, after string, result bool) bool {
	if before == after {
		return true
	}
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(before)) == nil && buf.String() == after {
		return true
	}
	if !slices.Equal(strings.Fields(before), strings.Fields(after)) {
		return false
	}
	if !slices.Equal(fenced(before), fenced(after)) {
		return false
	}
	return !result || strings.Count(before, "\n") == strings.Count(after, "\n")
}

// fenced returns the lines inside and on code fences, verbatim.
func fenced(s string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimLeft(l, " ")
		fence := strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")
		if in || fence {
			out = append(out, l)
		}
		if fence {
			in = !in
		}
	}
	return out
}

// checkLossless fails unless after (Compress with lossless stages only)
// says everything before said: block for block, each text is equivalent
// to the original, or is a pointer to an earlier block whose content is
// equivalent to it; thinking blocks and tool inputs are untouched; and
// every distinct content of before is still in after.
func checkLossless(t testing.TB, before, after *canon.Request) {
	t.Helper()
	if len(before.Messages) != len(after.Messages) || len(before.System) != len(after.System) {
		t.Fatalf("lossless stages changed the shape: %d messages -> %d", len(before.Messages), len(after.Messages))
	}
	type loc struct{ msg, blk int }
	var kept []string // every non-pointer content of after
	var earlier []struct {
		at   loc
		b    *canon.Block
		role string
	}
	check := func(at loc, role string, ob, nb *canon.Block) {
		if ob.Kind != nb.Kind || ob.ID != nb.ID || ob.Name != nb.Name || ob.Input != nb.Input || ob.Signature != nb.Signature || ob.Data != nb.Data {
			t.Fatalf("block %v changed beyond its text: %+v -> %+v", at, *ob, *nb)
		}
		if ob.Kind == canon.BlockThinking && ob.Text != nb.Text {
			t.Fatalf("thinking block %v changed", at)
		}
		oc, ok := content(ob)
		if !ok {
			return
		}
		nc, _ := content(nb)
		result := ob.Kind == canon.BlockToolResult
		if m := resultPointer.FindStringSubmatch(nc); m != nil && !equivalent(oc, nc, result) {
			target := findResult(after, m[1], at.msg)
			if target == nil {
				t.Fatalf("pointer %q at %v: no earlier result of call %s", nc, at, m[1])
			}
			tc, _ := content(target)
			if !equivalent(oc, tc, true) {
				t.Fatalf("pointer at %v points to different content:\n%q\nvs\n%q", at, oc, tc)
			}
		} else if m := textPointer.FindStringSubmatch(nc); m != nil && !equivalent(oc, nc, result) {
			found := false
			for _, e := range earlier {
				ec, _ := content(e.b)
				if excerpt(ec) == m[2] && equivalent(oc, ec, false) {
					found = true
				}
			}
			if !found {
				t.Fatalf("text pointer %q at %v resolves to no equivalent earlier block", nc, at)
			}
		} else if !equivalent(oc, nc, result) {
			t.Fatalf("block %v (%s) is not equivalent:\n%q\n->\n%q", at, ob.Kind, oc, nc)
		} else {
			kept = append(kept, nc)
		}
		earlier = append(earlier, struct {
			at   loc
			b    *canon.Block
			role string
		}{at, nb, role})
	}
	for i := range before.System {
		check(loc{-1, i}, "system", &before.System[i], &after.System[i])
	}
	for i := range before.Messages {
		om, nm := &before.Messages[i], &after.Messages[i]
		if om.Role != nm.Role || len(om.Content) != len(nm.Content) {
			t.Fatalf("message %d changed role or block count", i)
		}
		for j := range om.Content {
			check(loc{i, j}, string(om.Role), &om.Content[j], &nm.Content[j])
		}
	}
	// Every distinct content of before is still there, as is or in
	// an equivalent form.
	distinct := map[string]bool{}
	collect := func(bs []canon.Block) {
		for i := range bs {
			if c, ok := content(&bs[i]); ok && c != "" {
				distinct[c] = bs[i].Kind == canon.BlockToolResult
			}
		}
	}
	collect(before.System)
	for i := range before.Messages {
		collect(before.Messages[i].Content)
	}
	for c, result := range distinct {
		if !slices.ContainsFunc(kept, func(k string) bool { return equivalent(c, k, result) }) {
			t.Fatalf("content lost: %.200q", c)
		}
	}
}

// findResult returns the result of call id in a message before msg.
func findResult(r *canon.Request, id string, msg int) *canon.Block {
	for i := 0; i <= msg && i < len(r.Messages); i++ {
		for j := range r.Messages[i].Content {
			if b := &r.Messages[i].Content[j]; b.Kind == canon.BlockToolResult && b.ID == id {
				return b
			}
		}
	}
	return nil
}
