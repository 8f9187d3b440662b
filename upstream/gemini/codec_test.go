package gemini_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unsafe"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/gemini"
	"switchboard/upstream/openai"
)

const hello = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]`

// TestRefused checks that what cannot be translated is refused with a
// *canon.FieldError naming the field.
func TestRefused(t *testing.T) {
	for _, c := range []struct{ body, field string }{
		{hello + `,"cachedContent":"cachedContents/x"}`, "cachedContent"},
		{hello + `,"tools":[{"googleSearch":{}}]}`, "tools[0].googleSearch"},
		{hello + `,"tools":[{"codeExecution":{}}]}`, "tools[0].codeExecution"},
		{hello + `,"tools":[{"functionDeclarations":[{"name":"f","behavior":"NON_BLOCKING"}]}]}`, "tools[0].functionDeclarations[0].behavior"},
		{hello + `,"tools":[{"functionDeclarations":[{"description":"no name"}]}]}`, "tools[0].functionDeclarations[0].name"},
		{hello + `,"toolConfig":{"functionCallingConfig":{"mode":"VALIDATED"}}}`, "toolConfig.functionCallingConfig.mode"},
		{hello + `,"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["a","b"]}}}`, "toolConfig.functionCallingConfig.allowedFunctionNames"},
		{hello + `,"generationConfig":{"presencePenalty":0.5}}`, "generationConfig.presencePenalty"},
		{hello + `,"generationConfig":{"candidateCount":2}}`, "generationConfig.candidateCount"},
		{hello + `,"generationConfig":{"responseModalities":["IMAGE"]}}`, "generationConfig.responseModalities"},
		{hello + `,"generationConfig":{"responseMimeType":"text/x.enum"}}`, "generationConfig.responseMimeType"},
		{hello + `,"generationConfig":{"thinkingConfig":{"thinkingBudget":-5}}}`, "generationConfig.thinkingConfig.thinkingBudget"},
		{hello + `,"unknownThing":1}`, "unknownThing"},
		{`{"contents":[]}`, "contents"},
		{`{"contents":[{"role":"tool","parts":[{"text":"x"}]}]}`, "contents[0].role"},
		{`{"contents":[{"role":"user","parts":[{"executableCode":{"language":"PYTHON","code":"1"}}]}]}`, "contents[0].parts[0].executableCode"},
		{`{"contents":[{"role":"user","parts":[{"fileData":{"fileUri":"x"},"videoMetadata":{}}]}]}`, "contents[0].parts[0].videoMetadata"},
		{`{"contents":[{"role":"user","parts":[{"functionCall":{"name":"f"}}]}]}`, "contents[0].parts[0].functionCall"},
		{`{"contents":[{"role":"model","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}`, "contents[0].parts[0].functionResponse"},
		{`{"contents":[{"role":"user","parts":[{}]}]}`, "contents[0].parts[0]"},
		{`{"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":""}}]},"contents":[{"parts":[{"text":"x"}]}]}`, "systemInstruction.parts[0]"},
	} {
		var r canon.Request
		err := gemini.DecodeRequest([]byte(c.body), &r)
		var fe *canon.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: want a field error, got %v", c.body, err)
			continue
		}
		if fe.Field != c.field {
			t.Errorf("%s: field %q, want %q (%v)", c.body, fe.Field, c.field, err)
		}
	}
}

func TestIgnored(t *testing.T) {
	var r canon.Request
	body := hello + `,"safetySettings":[],"labels":{"a":"b"},"generationConfig":{"seed":4}}`
	if err := gemini.DecodeRequest([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Ignored, ","); got != "safetySettings,labels,generationConfig.seed" {
		t.Errorf("Ignored = %s", got)
	}
}

// TestEncodeFromOpenAI encodes an OpenAI request with a mid-conversation
// system message, an effort, and tool results as text.
func TestEncodeFromOpenAI(t *testing.T) {
	body := `{"model":"gpt","max_completion_tokens":10000,"reasoning_effort":"high","messages":[
		{"role":"system","content":"Be brief."},
		{"role":"user","content":"weather?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"w","arguments":"{\"c\":1}"}}]},
		{"role":"tool","tool_call_id":"call_abc","content":"sunny"},
		{"role":"system","content":"Answer in French."},
		{"role":"user","content":"thanks"}]}`
	var r canon.Request
	if err := openai.DecodeRequest([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	out, err := gemini.EncodeRequest(nil, &r, gemini.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"contents":[{"role":"user","parts":[{"text":"weather?"}]},` +
		`{"role":"model","parts":[{"functionCall":{"name":"w","args":{"c":1}}}]},` +
		`{"role":"user","parts":[{"functionResponse":{"name":"w","response":{"output":"sunny"}}},{"text":"<system>\nAnswer in French.\n</system>"},{"text":"thanks"}]}],` +
		`"systemInstruction":{"parts":[{"text":"Be brief."}]},` +
		`"generationConfig":{"maxOutputTokens":10000,"thinkingConfig":{"thinkingBudget":8000,"includeThoughts":true}}}`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// A tool result whose call is not in the request cannot be named.
	r.Messages = r.Messages[3:]
	if _, err := gemini.EncodeRequest(nil, &r, gemini.EncodeOptions{}); err == nil || !strings.Contains(err.Error(), "call_abc") {
		t.Errorf("orphan tool result: %v", err)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		body   string
		status int
		want   canon.Error
	}{
		{`{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}`, 429, canon.Error{Status: 429, Type: "RESOURCE_EXHAUSTED", Message: "Quota exceeded"}},
		{`[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]`, 400, canon.Error{Status: 400, Type: "INVALID_ARGUMENT", Message: "bad"}},
		{`<html>`, 502, canon.Error{Status: 502, Type: "INTERNAL", Message: "provider answered status 502"}},
	} {
		if got := gemini.DecodeError([]byte(c.body), c.status); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.body, got, c.want)
		}
	}
	for _, c := range []struct {
		e    canon.Error
		want string
	}{
		{canon.Error{Status: 529, Type: "overloaded_error", Message: "busy"}, `{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}`},
		{canon.Error{Status: 429, Type: "rate_limit_error", Message: "slow"}, `{"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED"}}`},
		{canon.Error{Status: 400, Type: "FAILED_PRECONDITION", Message: "x"}, `{"error":{"code":400,"message":"x","status":"FAILED_PRECONDITION"}}`},
	} {
		if got := string(gemini.AppendError(nil, &c.e)); got != c.want {
			t.Errorf("%+v: got %s, want %s", c.e, got, c.want)
		}
	}
	var r canon.Response
	err := gemini.DecodeResponse([]byte(`{"error":{"code":500,"message":"boom","status":"INTERNAL"}}`), &r)
	var ce *canon.Error
	if !errors.As(err, &ce) || ce.Status != 500 || ce.Type != "INTERNAL" {
		t.Errorf("error answer: %v", err)
	}
}

func TestResponseBlocked(t *testing.T) {
	var r canon.Response
	if err := gemini.DecodeResponse([]byte(`{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":7}}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.StopReason != canon.StopContentFilter || len(r.Content) != 0 || r.Usage.Input != 7 {
		t.Errorf("got %+v", r)
	}
}

func TestStreamTruncated(t *testing.T) {
	_, _, err := decodeStream([]string{`{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}`})
	if !errors.Is(err, canon.ErrStreamTruncated) {
		t.Errorf("got %v, want ErrStreamTruncated", err)
	}
}

func TestStreamEncoderRefuses(t *testing.T) {
	var e gemini.StreamEncoder
	if _, err := e.Append(nil, &canon.Event{Type: canon.EventTextDelta}); err == nil {
		t.Error("a delta before message_start was accepted")
	}
	e.Reset()
	evs := []canon.Event{
		{Type: canon.EventMessageStart},
		{Type: canon.EventBlockStart, Kind: canon.BlockToolUse, Name: "f"},
		{Type: canon.EventToolArgsDelta, Text: `{"a":`},
		{Type: canon.EventBlockStop},
	}
	var err error
	for i := range evs {
		if _, err = e.Append(nil, &evs[i]); err != nil {
			break
		}
	}
	if err == nil {
		t.Error("truncated arguments were accepted")
	}
}

// seeds adds the golden inputs of a kind.
func seeds(f *testing.F, kind string) {
	for _, path := range goldenFiles(f) {
		if c := readCase(f, path); c.kind == kind {
			f.Add([]byte(c.input))
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
}

func checkEncoded(t *testing.T, what string, out []byte, err error) {
	t.Helper()
	if err != nil {
		var fe *canon.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: want a field error, got %T %v", what, err, err)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("%s: not JSON: %s", what, out)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	seeds(f, "request")
	f.Fuzz(func(t *testing.T, body []byte) {
		var r canon.Request
		if gemini.DecodeRequest(body, &r) != nil {
			return
		}
		out, err := gemini.EncodeRequest(nil, &r, gemini.EncodeOptions{})
		checkEncoded(t, "gemini", out, err)
		out, err = openai.EncodeRequest(nil, &r, openai.EncodeOptions{TopK: true})
		checkEncoded(t, "openai", out, err)
		out, err = anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{DefaultMaxTokens: 1000})
		checkEncoded(t, "anthropic", out, err)
	})
}

func FuzzDecodeResponse(f *testing.F) {
	seeds(f, "response")
	f.Fuzz(func(t *testing.T, body []byte) {
		var r canon.Response
		if gemini.DecodeResponse(body, &r) != nil {
			return
		}
		out, err := gemini.EncodeResponse(nil, &r)
		checkEncoded(t, "gemini", out, err)
		out, err = anthropic.EncodeResponse(nil, &r)
		checkEncoded(t, "anthropic", out, err)
	})
}

func FuzzStreamDecoder(f *testing.F) {
	for _, path := range goldenFiles(f) {
		if c := readCase(f, path); c.kind == "stream" {
			for _, p := range payloads(c.input) {
				f.Add([]byte(p))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d gemini.StreamDecoder
		var e gemini.StreamEncoder
		evs, err := d.Decode(nil, data)
		if err != nil {
			return
		}
		for i := range evs {
			out, err := e.Append(nil, &evs[i])
			if err != nil {
				t.Fatalf("event %d %v: %v", i, evs[i].Type, err)
			}
			for _, p := range payloads(string(out)) {
				if !json.Valid([]byte(p)) {
					t.Fatalf("not JSON: %s", p)
				}
			}
		}
	})
}

// TestEncodeDropsEmptyTurn encodes an assistant turn holding only
// reasoning without a signature: Gemini refuses a content without parts.
func TestEncodeDropsEmptyTurn(t *testing.T) {
	r := canon.Request{Messages: []canon.Message{
		{Role: canon.RoleUser, Content: []canon.Block{{Kind: canon.BlockText, Text: "a"}}},
		{Role: canon.RoleAssistant, Content: []canon.Block{{Kind: canon.BlockThinking, Text: "hmm"}}},
		{Role: canon.RoleUser, Content: []canon.Block{{Kind: canon.BlockText, Text: "b"}}},
	}}
	out, err := gemini.EncodeRequest(nil, &r, gemini.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"contents":[{"role":"user","parts":[{"text":"a"},{"text":"b"}]}]}`
	if string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

// TestStreamEncoderCopiesWhatItKeeps: an event's strings may point into
// a decoder's buffer that the next event overwrites, so the id, model,
// tool name and a pending signature must be the encoder's own copies.
func TestStreamEncoderCopiesWhatItKeeps(t *testing.T) {
	buf := make([]byte, 29)
	view := func(i, j int) string { return unsafe.String(&buf[i], j-i) }
	evs := []canon.Event{
		{Type: canon.EventMessageStart, ID: view(0, 6), Model: view(6, 13)},
		{Type: canon.EventBlockStart, Index: 0, Kind: canon.BlockThinking},
		{Type: canon.EventSignatureDelta, Index: 0, Text: view(24, 29)},
		{Type: canon.EventBlockStop, Index: 0},
		{Type: canon.EventBlockStart, Index: 1, Kind: canon.BlockToolUse, ID: "call_0", Name: view(13, 24)},
		{Type: canon.EventToolArgsDelta, Index: 1, Text: `{"a":1}`},
		{Type: canon.EventBlockStop, Index: 1},
	}
	var e gemini.StreamEncoder
	var out []byte
	const text = "resp-1model-1get_weathersig-1"
	for i := range evs {
		copy(buf, text) // the event's strings are valid during Append only
		var err error
		if out, err = e.Append(out, &evs[i]); err != nil {
			t.Fatal(err)
		}
		copy(buf, strings.Repeat("X", len(text)))
	}
	for _, want := range []string{`"name":"get_weather"`, `"thoughtSignature":"sig-1"`, `"modelVersion":"model-1"`, `"responseId":"resp-1"`} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("want %s in:\n%s", want, out)
		}
	}
}
