package openai_test

import (
	"fmt"
	"strings"
	"testing"

	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// decodeAll feeds payloads to a fresh decoder, then ends the stream,
// and returns the events, one per line.
func decodeAll(t *testing.T, payloads ...string) (string, error) {
	t.Helper()
	var d openai.StreamDecoder
	var out []string
	var evs []canon.Event
	var err error
	for _, p := range payloads {
		evs, err = d.Decode(evs[:0], []byte(p))
		for i := range evs {
			out = append(out, line(&evs[i]))
		}
		if err != nil {
			return strings.Join(out, "\n"), err
		}
	}
	evs, err = d.End(evs[:0])
	for i := range evs {
		out = append(out, line(&evs[i]))
	}
	return strings.Join(out, "\n"), err
}

func line(ev *canon.Event) string {
	switch ev.Type {
	case canon.EventBlockStart:
		return fmt.Sprintf("%s %d %s %s %s", ev.Type, ev.Index, ev.Kind, ev.ID, ev.Name)
	case canon.EventTextDelta, canon.EventToolArgsDelta, canon.EventThinkingDelta:
		return fmt.Sprintf("%s %d %q", ev.Type, ev.Index, ev.Text)
	case canon.EventBlockStop:
		return fmt.Sprintf("%s %d", ev.Type, ev.Index)
	case canon.EventMessageDelta:
		return fmt.Sprintf("%s %s in=%d out=%d", ev.Type, ev.StopReason, ev.Usage.Input, ev.Usage.Output)
	}
	return ev.Type.String()
}

func chunk(delta, finish string) string {
	if finish != "" {
		finish = `"` + finish + `"`
	} else {
		finish = "null"
	}
	return `{"id":"c","model":"m","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]}`
}

func TestStreamDecoder(t *testing.T) {
	f := func(name, want string, payloads ...string) {
		t.Helper()
		got, err := decodeAll(t, payloads...)
		if err != nil {
			got = strings.TrimPrefix(got+"\nerror: "+err.Error(), "\n")
		}
		if got != want {
			t.Errorf("%s:\n got:\n%s\nwant:\n%s", name, got, want)
		}
	}
	// Ollama numbers every parallel call 0: a new id with a name is a
	// new call; a continuation that repeats a fresh id is not.
	f("ollama parallel calls at index 0", `message_start
block_start 0 tool_use a f
tool_args_delta 0 "{}"
block_start 1 tool_use b g
tool_args_delta 1 "{\"x\":"
tool_args_delta 1 "1}"
block_stop 0
block_stop 1
message_delta tool_use in=0 out=0
message_stop`,
		chunk(`{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]}`, ""),
		chunk(`{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{\"x\":"}}]}`, ""),
		chunk(`{"tool_calls":[{"index":0,"id":"b2","function":{"arguments":"1}"}}]}`, ""),
		chunk(`{}`, "tool_calls"), "[DONE]")
	// Several hosts put the usage in the finish chunk.
	f("usage with the finish", `message_start
block_start 0 text  
text_delta 0 "hi"
block_stop 0
message_delta end_turn in=3 out=1
message_stop`,
		chunk(`{"content":"hi"}`, ""),
		`{"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`,
		"[DONE]")
	// A host that ends after the finish without [DONE] ends cleanly.
	f("finish without [DONE]", `message_start
block_start 0 text  
text_delta 0 "hi"
block_stop 0
message_delta max_tokens in=0 out=0
message_stop`,
		chunk(`{"content":"hi"}`, ""), chunk(`{}`, "length"))
	// [DONE] without a finish_reason still ends the message.
	f("[DONE] without finish", `message_start
block_start 0 text  
text_delta 0 "hi"
block_stop 0
message_delta end_turn in=0 out=0
message_stop`,
		chunk(`{"content":"hi"}`, ""), "[DONE]", chunk(`{"content":"late"}`, ""))
	// A refusal is text with stop reason refusal.
	f("refusal", `message_start
block_start 0 text  
text_delta 0 "I can't."
block_stop 0
message_delta refusal in=0 out=0
message_stop`,
		chunk(`{"refusal":"I can't."}`, ""), chunk(`{}`, "stop"), "[DONE]")
	// A call without id gets one, so that Anthropic clients can answer it.
	f("call without id", `message_start
block_start 0 tool_use call_0 f
tool_args_delta 0 "{}"
block_stop 0
message_delta tool_use in=0 out=0
message_stop`,
		chunk(`{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]}`, "tool_calls"), "[DONE]")
	// Reasoning after text opens a new thinking block.
	f("reasoning after text", `message_start
block_start 0 thinking  
thinking_delta 0 "a"
block_stop 0
block_start 1 text  
text_delta 1 "b"
block_stop 1
block_start 2 thinking  
thinking_delta 2 "c"
block_stop 2
message_delta end_turn in=0 out=0
message_stop`,
		chunk(`{"reasoning":"a"}`, ""), chunk(`{"content":"b"}`, ""), chunk(`{"reasoning_content":"c"}`, "stop"), "[DONE]")
	f("truncated", "message_start\nblock_start 0 text  \ntext_delta 0 \"hi\"\nerror: "+canon.ErrStreamTruncated.Error(),
		chunk(`{"content":"hi"}`, ""))
	f("bad index", "message_start\nerror: tool_calls.index: want 0 to 1023, got 5000",
		chunk(`{"tool_calls":[{"index":5000,"id":"a","function":{"name":"f"}}]}`, ""))
	f("not JSON", "error: chunk: invalid JSON at line 1, column 1: eof", "{")
}

func TestStreamEncoderRefusesEventsOutOfOrder(t *testing.T) {
	var e openai.StreamEncoder
	if _, err := e.Append(nil, &canon.Event{Type: canon.EventTextDelta}); err == nil {
		t.Fatal("a delta before message_start was accepted")
	}
	out, err := e.Append(nil, &canon.Event{Type: canon.EventMessageStart, ID: "x", Model: "m", Created: 1})
	if err != nil || !strings.Contains(string(out), `"role":"assistant"`) {
		t.Fatalf("message_start: %v %s", err, out)
	}
	if _, err := e.Append(nil, &canon.Event{Type: canon.EventToolArgsDelta, Index: 3, Text: "{"}); err == nil {
		t.Fatal("arguments of a block that never started were accepted")
	}
	out, _ = e.Append(nil, &canon.Event{Type: canon.EventMessageStop})
	if want := "data: [DONE]\n\n"; !strings.HasSuffix(string(out), want) {
		t.Fatalf("message_stop wrote %q", out)
	}
	if out, _ = e.Append(nil, &canon.Event{Type: canon.EventTextDelta, Text: "late"}); len(out) != 0 {
		t.Fatalf("an event after the end wrote %q", out)
	}
}

func TestErrorBodies(t *testing.T) {
	e := openai.DecodeError([]byte(`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`), 429)
	if e.Status != 429 || e.Message != "Rate limit reached" {
		t.Fatalf("decoded %+v", e)
	}
	if got := string(openai.AppendError(nil, &e)); got != `{"error":{"message":"Rate limit reached","type":"rate_limit_error","param":null,"code":null}}` {
		t.Fatalf("encoded %s", got)
	}
	e = openai.DecodeError([]byte(`<html>bad gateway</html>`), 502)
	if e.Status != 502 || e.Type != "server_error" {
		t.Fatalf("decoded a non-JSON body as %+v", e)
	}
	ov := canon.Error{Status: 529, Type: "overloaded_error", Message: "Overloaded"}
	if got := string(openai.AppendError(nil, &ov)); got != `{"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}` {
		t.Fatalf("encoded %s", got)
	}
}
