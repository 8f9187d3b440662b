package responses_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"switchboard/upstream/canon"
	"switchboard/upstream/responses"
)

// goldenInputs returns the inputs of the golden files of kind.
func goldenInputs(tb testing.TB, kind string) []string {
	tb.Helper()
	files, _ := filepath.Glob("testdata/translate/*")
	var out []string
	for _, f := range files {
		if k, in := readCase(tb, f); k == kind {
			out = append(out, in)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no %s golden inputs", kind)
	}
	return out
}

// TestRequestRoundTrip: Responses → canon → Responses → canon gives the
// same canonical request, and encoding it again the same bytes.
func TestRequestRoundTrip(t *testing.T) {
	for _, in := range goldenInputs(t, "request") {
		var r1, r2 canon.Request
		if err := responses.DecodeRequest([]byte(in), &r1); err != nil {
			continue // refusal cases
		}
		b1, err := responses.EncodeRequest(nil, &r1, responses.EncodeOptions{})
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if err := responses.DecodeRequest(b1, &r2); err != nil {
			t.Fatalf("decode again: %v\n%s", err, b1)
		}
		// store:false is always sent, and listed as ignored.
		r1.Ignored, r2.Ignored = nil, nil
		if d1, d2 := dump(&r1), dump(&r2); d1 != d2 {
			t.Errorf("round trip changed the request:\n%s\n---\n%s", d1, d2)
		}
		b2, err := responses.EncodeRequest(nil, &r2, responses.EncodeOptions{})
		if err != nil || !bytes.Equal(b1, b2) {
			t.Errorf("second encoding differs (%v):\n%s\n%s", err, b1, b2)
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, in := range goldenInputs(t, "response") {
		var r1, r2 canon.Response
		if err := responses.DecodeResponse([]byte(in), &r1); err != nil {
			t.Fatal(err)
		}
		b, err := responses.EncodeResponse(nil, &r1)
		if err != nil {
			t.Fatal(err)
		}
		if err := responses.DecodeResponse(b, &r2); err != nil {
			t.Fatal(err)
		}
		if d1, d2 := dump(&r1), dump(&r2); d1 != d2 {
			t.Errorf("round trip changed the response:\n%s\n---\n%s", d1, d2)
		}
	}
}

// TestStreamRoundTrip: a Responses stream decoded, encoded as Responses
// and decoded again gives the same events, and the encoding's
// sequence_numbers count from 0.
func TestStreamRoundTrip(t *testing.T) {
	for _, in := range goldenInputs(t, "stream") {
		first := runStream(t, in)
		var payloads []string
		seq := 0
		for _, l := range strings.Split(first["responses"], "\n") {
			if p, ok := strings.CutPrefix(l, "data: "); ok {
				want := `"sequence_number":` + itoa(seq) + ","
				if !strings.Contains(p, want) {
					t.Errorf("event %d lacks %s: %s", seq, want, p)
				}
				seq++
				payloads = append(payloads, p)
			}
		}
		second := runStream(t, strings.Join(payloads, "\n"))
		if first["canon"] != second["canon"] {
			t.Errorf("stream round trip changed the events:\n%s\n---\n%s", first["canon"], second["canon"])
		}
		if strings.Contains(first["responses"], "[DONE]") {
			t.Error("a Responses stream has no [DONE]")
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestEncryptedContentByteForByte: encrypted_content survives a
// decode and encode in every direction unchanged, escapes included.
func TestEncryptedContentByteForByte(t *testing.T) {
	const enc = `gAAAAAB/+=\u003d=x`
	in := `{"model":"m","input":[{"type":"reasoning","summary":[],"encrypted_content":"` + enc + `"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]}`
	var r canon.Request
	if err := responses.DecodeRequest([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if got := r.Messages[0].Content[0].Signature; got != "gAAAAAB/+===x" {
		t.Fatalf("signature %q", got)
	}
	out, err := responses.EncodeRequest(nil, &r, responses.EncodeOptions{})
	if err != nil || !strings.Contains(string(out), `"encrypted_content":"gAAAAAB/+===x"`) {
		t.Fatalf("%v %s", err, out)
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct{ body, field string }{
		{`{"model":"m","input":"x","previous_response_id":"resp_1"}`, "previous_response_id"},
		{`{"model":"m","input":"x","conversation":"conv_1"}`, "conversation"},
		{`{"model":"m","input":"x","background":true}`, "background"},
		{`{"model":"m","input":"x","prompt":{"id":"p"}}`, "prompt"},
		{`{"model":"m","input":"x","include":["reasoning.encrypted_content","file_search_call.results"]}`, "include[1]"},
		{`{"model":"m","input":"x","tools":[{"type":"file_search"}]}`, "tools[0].type"},
		{`{"model":"m","input":"x","tools":[{"type":"function","name":"f"},{"type":"function","name":"g","grammar":{}}]}`, "tools[1].grammar"},
		{`{"model":"m","input":"x","tools":[{"type":"custom","name":"apply_patch"}]}`, "tools[0].type"},
		{`{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "input[0].content[0].type"},
		{`{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, "input[0].call_id"},
		{`{"model":"m","input":"x","frobnicate":1}`, "frobnicate"},
		{`{"model":"m","input":"x","tool_choice":{"type":"web_search_preview"}}`, "tool_choice.type"},
		{`{"model":"m"}`, "input"},
	}
	for _, c := range cases {
		var r canon.Request
		err := responses.DecodeRequest([]byte(c.body), &r)
		var fe *canon.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want a FieldError on %s", c.body, err, c.field)
		}
	}
	// Codex's hosted and grouping tools are left out, and say so.
	var r canon.Request
	body := `{"model":"m","input":"x","client_metadata":{"a":"b"},"tools":[{"type":"web_search","external_web_access":false},` +
		`{"type":"function","name":"exec_command","parameters":{"type":"object"}},` +
		`{"type":"namespace","name":"multi_agent_v1","tools":[{"type":"function","name":"spawn_agent"}]},{"type":"tool_search","execution":"client"}]}`
	if err := responses.DecodeRequest([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	want := []string{"client_metadata", "tools[0] (web_search)", "tools[2] (namespace)", "tools[3] (tool_search)"}
	if len(r.Tools) != 1 || r.Tools[0].Name != "exec_command" || !slices.Equal(r.Ignored, want) {
		t.Errorf("tools %+v, ignored %q; want exec_command only and %q", r.Tools, r.Ignored, want)
	}
	// What the Responses format cannot send.
	for _, r := range []canon.Request{
		{Model: "m", Stop: []string{"x"}},
		{Model: "m", TopK: new(int64)},
	} {
		if out, err := responses.EncodeRequest([]byte("keep"), &r, responses.EncodeOptions{}); err == nil || string(out) != "keep" {
			t.Errorf("encode %+v: %v %s", r, err, out)
		}
	}
}

func TestErrors(t *testing.T) {
	e := responses.DecodeError([]byte(`{"error":{"message":"Too many","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`), 429)
	if e.Status != 429 || e.Type != "rate_limit_error" || e.Message != "Too many" {
		t.Errorf("%+v", e)
	}
	e = responses.DecodeError([]byte(`<html>`), 502)
	if e.Status != 502 || e.Type != "server_error" {
		t.Errorf("%+v", e)
	}
	got := string(responses.AppendError(nil, &canon.Error{Status: 529, Type: "overloaded_error", Message: "busy"}))
	if want := `{"error":{"message":"busy","type":"server_error","param":null,"code":null}}`; got != want {
		t.Errorf("got %s", got)
	}
}

// TestStreamTruncated: a stream without response.completed is cut off.
func TestStreamTruncated(t *testing.T) {
	var d responses.StreamDecoder
	evs, err := d.Decode(nil, []byte(`{"type":"response.created","response":{"id":"r","model":"m"}}`))
	if err != nil || len(evs) != 1 {
		t.Fatal(err, evs)
	}
	if _, err := d.End(nil); !errors.Is(err, canon.ErrStreamTruncated) {
		t.Errorf("End: %v", err)
	}
	d.Reset()
	if _, err := d.End(nil); !errors.Is(err, canon.ErrStreamTruncated) {
		t.Errorf("End after Reset: %v", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, in := range goldenInputs(f, "request") {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r canon.Request
		if responses.DecodeRequest(body, &r) != nil {
			return
		}
		out, err := responses.EncodeRequest(nil, &r, responses.EncodeOptions{})
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, in := range goldenInputs(f, "response") {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r canon.Response
		if responses.DecodeResponse(body, &r) != nil {
			return
		}
		out, err := responses.EncodeResponse(nil, &r)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	})
}

func FuzzStreamDecoder(f *testing.F) {
	for _, in := range goldenInputs(f, "stream") {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d responses.StreamDecoder
		var e responses.StreamEncoder
		var evs []canon.Event
		var out []byte
		for _, p := range bytes.Split(data, []byte("\n")) {
			var err error
			if evs, err = d.Decode(evs[:0], p); err != nil {
				return
			}
			for i := range evs {
				out, _ = e.Append(out, &evs[i])
			}
		}
		_, _ = d.End(evs[:0])
		for _, l := range bytes.Split(out, []byte("\n")) {
			if p, ok := bytes.CutPrefix(l, []byte("data: ")); ok && !json.Valid(p) {
				t.Fatalf("invalid JSON: %s", p)
			}
		}
	})
}
