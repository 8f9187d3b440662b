package canon_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// agentRequest returns an Anthropic request of about size bytes shaped
// like a coding agent's: a system prompt, three tools, and turns of user
// text, assistant text with a tool call, and a tool result.
func agentRequest(size int) []byte {
	schema := func(props ...string) map[string]any {
		p := map[string]any{}
		for _, name := range props {
			p[name] = map[string]any{"type": "string", "description": "The " + name + " to use."}
		}
		return map[string]any{"type": "object", "properties": p, "required": props}
	}
	req := map[string]any{
		"model": "claude-sonnet-4-5", "max_tokens": 8192, "stream": true,
		"system": []any{map[string]any{"type": "text", "text": "You are a coding agent. Read files, run commands and edit code to complete the task. Be concise.", "cache_control": map[string]any{"type": "ephemeral"}}},
		"tools": []any{
			map[string]any{"name": "read_file", "description": "Read a file from the workspace.", "input_schema": schema("path")},
			map[string]any{"name": "bash", "description": "Run a shell command and return its output.", "input_schema": schema("command", "cwd")},
			map[string]any{"name": "edit_file", "description": "Replace text in a file.", "input_schema": schema("path", "old", "new")},
		},
	}
	msgs := []any{map[string]any{"role": "user", "content": "Fix the failing test in router/cost_test.go."}}
	for i := 0; ; i++ {
		body, _ := json.Marshal(map[string]any{"model": req["model"], "max_tokens": req["max_tokens"], "stream": true,
			"system": req["system"], "tools": req["tools"], "messages": msgs})
		if len(body) >= size {
			return body
		}
		id := fmt.Sprintf("toolu_%03d", i)
		msgs = append(msgs,
			map[string]any{"role": "assistant", "content": []any{
				map[string]any{"type": "text", "text": "Let me look at the next file."},
				map[string]any{"type": "tool_use", "id": id, "name": "read_file", "input": map[string]any{"path": fmt.Sprintf("router/file%d.go", i)}},
			}},
			map[string]any{"role": "user", "content": []any{
				map[string]any{"type": "tool_result", "tool_use_id": id, "content": strings.Repeat("func f() { return }\n", 12)},
			}})
	}
}

// requestBodies returns the agent request of about size bytes in both
// formats.
func requestBodies(b *testing.B, size int) (openaiBody, anthropicBody []byte) {
	anthropicBody = agentRequest(size)
	var r canon.Request
	if err := anthropic.DecodeRequest(anthropicBody, &r); err != nil {
		b.Fatal(err)
	}
	openaiBody, err := openai.EncodeRequest(nil, &r, openai.EncodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return openaiBody, anthropicBody
}

func BenchmarkTranslateRequest(b *testing.B) {
	for _, size := range []int{1 << 10, 30 << 10} {
		oa, an := requestBodies(b, size)
		b.Run(fmt.Sprintf("openai-to-anthropic/%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(oa)))
			var r canon.Request
			var dst []byte
			for b.Loop() {
				if err := openai.DecodeRequest(oa, &r); err != nil {
					b.Fatal(err)
				}
				var err error
				if dst, err = anthropic.EncodeRequest(dst[:0], &r, anthropic.EncodeOptions{DefaultMaxTokens: 8192}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("anthropic-to-openai/%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(an)))
			var r canon.Request
			var dst []byte
			for b.Loop() {
				if err := anthropic.DecodeRequest(an, &r); err != nil {
					b.Fatal(err)
				}
				var err error
				if dst, err = openai.EncodeRequest(dst[:0], &r, openai.EncodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// streamPayloads returns the data payloads of a golden stream.
func streamPayloads(tb testing.TB, name string) [][]byte {
	return dataPayloads([]byte(readCase(tb, "testdata/translate/"+name).input))
}

// translator relays one stream event at a time, as the proxy does.
type translator struct {
	d        streamDecoder
	e        streamEncoder
	reset    func()
	payloads [][]byte
	next     int
	evs      []canon.Event
	out      []byte
}

func newTranslator(tb testing.TB, from, to, golden string) *translator {
	tr := &translator{payloads: streamPayloads(tb, golden)}
	switch from + ">" + to {
	case "anthropic>openai":
		d, e := &anthropic.StreamDecoder{}, &openai.StreamEncoder{IncludeUsage: true, Created: 1}
		tr.d, tr.e, tr.reset = d, e, func() { d.Reset(); e.Reset() }
	case "openai>anthropic":
		d, e := &openai.StreamDecoder{}, &anthropic.StreamEncoder{}
		tr.d, tr.e, tr.reset = d, e, func() { d.Reset(); e.Reset() }
	}
	return tr
}

// step translates the next payload, starting the stream over after its
// last one.
func (tr *translator) step() error {
	if tr.next == len(tr.payloads) {
		tr.next = 0
		tr.reset()
	}
	var err error
	if tr.evs, err = tr.d.Decode(tr.evs[:0], tr.payloads[tr.next]); err != nil {
		return err
	}
	tr.next++
	tr.out = tr.out[:0]
	for i := range tr.evs {
		if tr.out, err = tr.e.Append(tr.out, &tr.evs[i]); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkTranslateStreamEvent measures one upstream stream event
// decoded and encoded in the client's format, over the events of a tool
// call stream (text, tool call starts, argument deltas, stop, usage).
func BenchmarkTranslateStreamEvent(b *testing.B) {
	for _, c := range []struct{ from, to, golden string }{
		{"anthropic", "openai", "anthropic-stream-to-openai-tool-use"},
		{"openai", "anthropic", "openai-stream-to-anthropic-parallel-tool-calls"},
	} {
		b.Run(c.from+"-to-"+c.to, func(b *testing.B) {
			tr := newTranslator(b, c.from, c.to, c.golden)
			b.ReportAllocs()
			for b.Loop() {
				if err := tr.step(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStreamTranslationAllocation holds the stream translators to their
// allocation budget: a whole stream, relayed event by event with reused
// decoder, encoder and buffers, allocates only the tool call ids the
// OpenAI decoder keeps across payloads, and the usage objects.
func TestStreamTranslationAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what allocates")
	}
	for _, c := range []struct {
		from, to, golden string
		budget           float64
	}{
		{"anthropic", "openai", "anthropic-stream-to-openai-tool-use", 0},
		{"openai", "anthropic", "openai-stream-to-anthropic-parallel-tool-calls", 0},
	} {
		tr := newTranslator(t, c.from, c.to, c.golden)
		for range tr.payloads { // warm up: buffers reach their size
			if err := tr.step(); err != nil {
				t.Fatal(err)
			}
		}
		n := testing.AllocsPerRun(50, func() {
			for range tr.payloads {
				if err := tr.step(); err != nil {
					t.Fatal(err)
				}
			}
		})
		if n > c.budget {
			t.Errorf("%s to %s: %v allocations per stream of %d events, budget %v", c.from, c.to, n, len(tr.payloads), c.budget)
		}
	}
}
