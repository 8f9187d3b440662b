package canon_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// TestRequestRoundTrip decodes every request of the golden files and
// encodes it again in its own format, with the options that keep what a
// provider of that format takes (markers, top_k, reasoning_content,
// system messages in place): the result must mean the same as the
// input. Forms that mean the same are compared alike (content as a
// string or as one text block, max_tokens or max_completion_tokens,
// null or absent); fields reported in Request.Ignored are left out.
func TestRequestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/translate/*-request-*")
	n := 0
	for _, path := range files {
		c := readCase(t, path)
		format, _, _ := strings.Cut(c.from, "-")
		in := []byte(c.input)
		var r canon.Request
		if err := decodeRequest(format, in, &r); err != nil {
			continue // the error cases
		}
		var out []byte
		var err error
		if format == "openai" {
			out, err = openai.EncodeRequest(nil, &r, openai.EncodeOptions{ReasoningContent: true, CacheControl: true, TopK: true})
		} else {
			out, err = anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{SystemMessages: true})
		}
		if err != nil {
			t.Errorf("%s: encode: %v", path, err)
			continue
		}
		want, got := normalize(t, format, in, r.Ignored), normalize(t, format, out, nil)
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Errorf("%s: round trip differs\n got: %s\nwant: %s", path, g, w)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d requests round-tripped", n)
	}
}

// normalize parses a request body and rewrites the forms of format that
// mean the same into one.
func normalize(t *testing.T, format string, body []byte, ignored []string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	for _, name := range ignored {
		delete(m, name)
	}
	dropNulls(m)
	textBlocks := func(v any) any {
		if s, ok := v.(string); ok {
			return []any{map[string]any{"type": "text", "text": s}}
		}
		return v
	}
	if format == "openai" {
		if v, ok := m["max_tokens"]; ok {
			m["max_completion_tokens"] = v
			delete(m, "max_tokens")
		}
		if s, ok := m["stop"].(string); ok {
			m["stop"] = []any{s}
		}
		for _, msg := range m["messages"].([]any) {
			msg := msg.(map[string]any)
			msg["content"] = textBlocks(msg["content"])
			if a, ok := msg["annotations"].([]any); ok && len(a) == 0 {
				delete(msg, "annotations")
			}
		}
		return m
	}
	m["system"] = textBlocks(m["system"])
	for _, msg := range m["messages"].([]any) {
		msg := msg.(map[string]any)
		msg["content"] = textBlocks(msg["content"])
		for _, b := range msg["content"].([]any) {
			if b := b.(map[string]any); b["type"] == "tool_result" {
				b["content"] = textBlocks(b["content"])
			}
		}
	}
	return m
}

func dropNulls(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
				continue
			}
			dropNulls(e)
		}
	case []any:
		for _, e := range v {
			dropNulls(e)
		}
	}
}

// TestRoleDeveloperRoundTrip checks that OpenAI's developer role stays
// developer in OpenAI and is a system prompt to Anthropic.
func TestRoleDeveloperRoundTrip(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"developer","content":"Be terse."},{"role":"user","content":"Hi"},{"role":"developer","content":"Now be verbose."}]}`
	var r canon.Request
	if err := openai.DecodeRequest([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	out, err := openai.EncodeRequest(nil, &r, openai.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"m","messages":[{"role":"developer","content":"Be terse."},{"role":"user","content":"Hi"},{"role":"developer","content":"Now be verbose."}]}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	out, err = anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{DefaultMaxTokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	want = `{"model":"m","max_tokens":100,"system":[{"type":"text","text":"Be terse."}],"messages":[{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"<system>\nNow be verbose.\n</system>"}]}]}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

// TestThinkingSignatureByteForByte checks that thinking blocks an
// Anthropic client sends back come out byte for byte, signature and
// redacted data included, whatever their characters.
func TestThinkingSignatureByteForByte(t *testing.T) {
	sig := `EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/=`
	body := `{"model":"m","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[` +
		`{"role":"user","content":"q"},` +
		`{"role":"assistant","content":[{"type":"thinking","thinking":"Let me think \"hard\"\n","signature":"` + sig + `"},{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj"},{"type":"text","text":"a"}]},` +
		`{"role":"user","content":"again"}]}`
	var r canon.Request
	if err := anthropic.DecodeRequest([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	out, err := anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var in, got struct {
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if string(got.Messages[1].Content) != string(in.Messages[1].Content) {
		t.Fatalf("assistant turn changed:\n got %s\nwant %s", got.Messages[1].Content, in.Messages[1].Content)
	}
}
