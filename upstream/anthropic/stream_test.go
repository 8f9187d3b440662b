package anthropic_test

import (
	"slices"
	"strings"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// TestStreamEncoderNoEmptyTextBlock checks that a text block that never
// gets text is not written, and that the blocks after it are numbered
// as written.
func TestStreamEncoderNoEmptyTextBlock(t *testing.T) {
	var e anthropic.StreamEncoder
	var out []byte
	for _, ev := range []canon.Event{
		{Type: canon.EventMessageStart, ID: "msg_1", Model: "m"},
		{Type: canon.EventBlockStart, Index: 0, Kind: canon.BlockText},
		{Type: canon.EventTextDelta, Index: 0, Text: ""},
		{Type: canon.EventBlockStop, Index: 0},
		{Type: canon.EventBlockStart, Index: 1, Kind: canon.BlockToolUse, ID: "call_1", Name: "f"},
		{Type: canon.EventToolArgsDelta, Index: 1, Text: `{"a":1}`},
		{Type: canon.EventBlockStart, Index: 2, Kind: canon.BlockText},
		{Type: canon.EventTextDelta, Index: 2, Text: "done"},
		{Type: canon.EventMessageDelta, StopReason: canon.StopToolUse},
		{Type: canon.EventMessageStop},
	} {
		var err error
		if out, err = e.Append(out, &ev); err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if d, ok := strings.CutPrefix(l, "data: "); ok && !strings.Contains(d, "message_") {
			got = append(got, d)
		}
	}
	want := []string{
		`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"call_1","name":"f","input":{}}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}`,
		`{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"done"}}`,
		`{"type":"content_block_stop","index":0}`,
		`{"type":"content_block_stop","index":1}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStreamEncoderRefusesEventsOutOfOrder(t *testing.T) {
	var e anthropic.StreamEncoder
	if _, err := e.Append(nil, &canon.Event{Type: canon.EventBlockStart, Kind: canon.BlockText}); err == nil {
		t.Fatal("a block before message_start was accepted")
	}
	if _, err := e.Append(nil, &canon.Event{Type: canon.EventMessageStart}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Append(nil, &canon.Event{Type: canon.EventTextDelta, Index: 4, Text: "x"}); err == nil {
		t.Fatal("a delta of a block that never started was accepted")
	}
	if _, err := e.Append(nil, &canon.Event{Type: canon.EventBlockStart, Kind: canon.BlockFile}); err == nil {
		t.Fatal("a file block was accepted in a stream")
	}
	out, _ := e.Append(nil, &canon.Event{Type: canon.EventError, Error: canon.Error{Status: 429, Type: "rate_limit_exceeded", Message: "slow down"}})
	if want := "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}\n\n"; string(out) != want {
		t.Fatalf("error event: got %q, want %q", out, want)
	}
	if out, _ = e.Append(nil, &canon.Event{Type: canon.EventMessageStop}); len(out) != 0 {
		t.Fatalf("an event after the error wrote %q", out)
	}
}

// TestStreamDecoderUsage checks that usage from message_start and
// message_delta is merged, the later value of a field winning.
func TestStreamDecoderUsage(t *testing.T) {
	var d anthropic.StreamDecoder
	var evs []canon.Event
	for _, p := range []string{
		`{"type":"message_start","message":{"id":"m","model":"x","usage":{"input_tokens":10,"cache_read_input_tokens":100,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}`,
		`{"type":"some_future_event"}`,
		`{"type":"message_delta","delta":{"stop_reason":"pause_turn"},"usage":{"output_tokens":7}}`,
		`{"type":"message_stop"}`,
	} {
		var err error
		if evs, err = d.Decode(evs, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.End(nil); err != nil {
		t.Fatal(err)
	}
	want := canon.Usage{Input: 10, CacheRead: 100, Output: 7}
	if d.Usage() != want {
		t.Fatalf("usage %+v, want %+v", d.Usage(), want)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type.String())
	}
	if got := strings.Join(types, " "); got != "message_start block_start text_delta message_delta message_stop" {
		t.Fatalf("events: %s", got)
	}
	if evs[3].StopReason != canon.StopPauseTurn || evs[3].Usage != want {
		t.Fatalf("message_delta %+v", evs[3])
	}
}

func TestErrorBodies(t *testing.T) {
	e := anthropic.DecodeError([]byte(`{"type":"error","error":{"type":"not_found_error","message":"The requested resource could not be found."},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`), 404)
	if e.Status != 404 || e.Type != "not_found_error" {
		t.Fatalf("decoded %+v", e)
	}
	oe := canon.Error{Status: 500, Type: "server_error", Message: "boom"}
	if got := string(anthropic.AppendError(nil, &oe)); got != `{"type":"error","error":{"type":"api_error","message":"boom"}}` {
		t.Fatalf("encoded %s", got)
	}
	for status, typ := range map[int]string{400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
		403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
		500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error"} {
		e := canon.Error{Status: status}
		if got := string(anthropic.AppendError(nil, &e)); !strings.Contains(got, `"type":"`+typ+`"`) {
			t.Errorf("status %d: %s, want type %s", status, got, typ)
		}
	}
	var r canon.Response
	err := anthropic.DecodeResponse([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`), &r)
	if ce, ok := err.(*canon.Error); !ok || ce.Status != 529 {
		t.Fatalf("an error answer decoded as %v", err)
	}
}

// TestClaudeCodeRequestTranslates: the hints Claude Code sends (a
// per-turn output_config on a mid-conversation system message, thinking
// display, a deferred tool, context management) are accepted, listed in
// Ignored, and the request encodes for an OpenAI-format provider with
// every tool, the system prompt and both turns.
func TestClaudeCodeRequestTranslates(t *testing.T) {
	body := `{"model":"claude-opus-5-5","max_tokens":128000,"stream":true,
	"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
	"thinking":{"type":"adaptive","display":"omitted"},"output_config":{"effort":"medium"},
	"metadata":{"user_id":"{\"device_id\":\"d\"}"},
	"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2"},{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],
	"messages":[{"role":"user","content":[{"type":"text","text":"say hi"}]},
	  {"role":"system","content":[{"type":"text","text":"# Environment","cache_control":{"type":"ephemeral"}}],"output_config":{"effort":"medium"}}],
	"tools":[{"name":"Bash","description":"Run","input_schema":{"type":"object"}},
	  {"name":"WebFetch","description":"Fetch","input_schema":{"type":"object"},"defer_loading":true}]}`
	var r canon.Request
	if err := anthropic.DecodeRequest([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	want := []string{"context_management", "messages[].output_config", "tools[].defer_loading", "thinking.display"}
	if !slices.Equal(r.Ignored, want) {
		t.Fatalf("ignored %v, want %v", r.Ignored, want)
	}
	out, err := openai.EncodeRequest(nil, &r, openai.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"name":"Bash"`, `"name":"WebFetch"`, `You are Claude Code.`, `say hi`, `# Environment`, `"reasoning_effort":"medium"`} {
		if !strings.Contains(string(out), s) {
			t.Fatalf("no %s in %s", s, out)
		}
	}
}

// TestSamplingLeftOutWithThinking: Anthropic refuses temperature, top_k
// and a top_p under 0.95 with thinking on, so the encoder leaves them out
// and lists them in Ignored; without thinking they go as they are.
func TestSamplingLeftOutWithThinking(t *testing.T) {
	temp, topP, topK := 0.0, 0.5, int64(5)
	for _, mode := range []canon.ThinkingMode{canon.ThinkingAdaptive, canon.ThinkingUnset} {
		r := canon.Request{Model: "m", MaxTokens: 1000, Temperature: &temp, TopP: &topP, TopK: &topK,
			Messages:  []canon.Message{{Role: canon.RoleUser, Content: []canon.Block{{Kind: canon.BlockText, Text: "hi"}}}},
			Reasoning: canon.Reasoning{Mode: mode}}
		out, err := anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(string(out), `"temperature":0`) && strings.Contains(string(out), `"top_p":0.5`) && strings.Contains(string(out), `"top_k":5`)
		switch mode {
		case canon.ThinkingAdaptive:
			want := []string{"temperature (with thinking)", "top_p (with thinking)", "top_k (with thinking)"}
			if strings.Contains(string(out), "temperature") || strings.Contains(string(out), "top_") || !slices.Equal(r.Ignored, want) {
				t.Errorf("with thinking: %s, ignored %q", out, r.Ignored)
			}
		default:
			if !has || len(r.Ignored) != 0 {
				t.Errorf("without thinking: %s, ignored %q", out, r.Ignored)
			}
		}
	}
}

// TestThinkingGivesWayToAForcedTool: Anthropic refuses thinking with a
// forced tool choice; the forced tool is the client's contract, so the
// thinking is left out, and said so.
func TestThinkingGivesWayToAForcedTool(t *testing.T) {
	r := canon.Request{Model: "m", MaxTokens: 100,
		Messages:   []canon.Message{{Role: canon.RoleUser, Content: []canon.Block{{Kind: canon.BlockText, Text: "hi"}}}},
		Tools:      []canon.Tool{{Name: "f", Schema: `{"type":"object"}`}},
		ToolChoice: canon.ToolChoice{Mode: canon.ToolChoiceAny},
		Reasoning:  canon.Reasoning{Mode: canon.ThinkingEnabled, Effort: "high"}}
	out, err := anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{})
	if err != nil || strings.Contains(string(out), `"thinking"`) || !strings.Contains(string(out), `"tool_choice":{"type":"any"`) ||
		!slices.Equal(r.Ignored, []string{"reasoning (with a forced tool_choice)"}) {
		t.Fatalf("%v: %s, ignored %q", err, out, r.Ignored)
	}
}
