package responses_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
	"switchboard/upstream/responses"
)

// TestGolden runs every file in testdata/translate, a datadriven command
// file per case: '#' comments, then the Responses input decoded, and its
// decoded value encoded in each format:
//
//	decode-request | decode-response | decode-stream
//	the Responses body, or the stream's data payloads, one a line
//	----
//	the canonical value (non-zero fields), or the events one a line
//
//	encode to=responses | to=openai | to=anthropic
//	----
//	re-encoded as Responses (round trip), or as OpenAI Chat Completions,
//	or as Anthropic Messages: a body indented, or a stream
//
// A body that cannot be decoded shows "error: ..." and has no encode
// commands; every other case encodes to all three formats. -rewrite
// rewrites every expected output:
// go test ./upstream/responses -run Golden -rewrite
func TestGolden(t *testing.T) {
	files := 0
	datadriven.Walk(t, "testdata/translate", func(t *testing.T, path string) {
		files++
		var kind string
		var got map[string]string
		encoded := map[string]bool{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if k, ok := strings.CutPrefix(d.Cmd, "decode-"); ok {
				if got != nil {
					d.Fatalf(t, "a second decode command")
				}
				switch kind = k; kind {
				case "request":
					got = runRequest(t, d.Input)
				case "response":
					got = runResponse(t, d.Input)
				case "stream":
					got = runStream(t, d.Input)
				default:
					d.Fatalf(t, "unknown kind %q", kind)
				}
				return got["canon"] + "\n"
			}
			if d.Cmd != "encode" {
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			var to string
			d.ScanArgs(t, "to", &to)
			out, ok := got[to]
			if !ok {
				d.Fatalf(t, "encode: nothing decoded to encode to %q", to)
			}
			encoded[to] = true
			if kind == "stream" {
				return out // the bytes as sent
			}
			// A body and a newline, so that the file shows a newline that
			// ends the body.
			return out + "\n"
		})
		if got == nil {
			t.Fatalf("%s: no decode command", path)
		}
		for _, to := range []string{"responses", "openai", "anthropic"} {
			if _, ok := got[to]; ok && !encoded[to] {
				t.Fatalf("%s: no encode to=%s command", path, to)
			}
		}
	})
	if files == 0 {
		t.Fatal("no golden files in testdata/translate")
	}
}

// readCase returns the kind and input of the decode command of the
// golden file at path, for the tests that reuse the golden inputs (round
// trips, benchmarks). It runs and checks nothing.
func readCase(tb testing.TB, path string) (kind, input string) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	found := false
	datadriven.RunTestFromStringAny(tb, string(data), func(tb testing.TB, d *datadriven.TestData) string {
		if k, ok := strings.CutPrefix(d.Cmd, "decode-"); ok && !found {
			kind, input, found = k, d.Input, true
		}
		return d.Expected
	})
	if !found {
		tb.Fatalf("%s: no decode command", path)
	}
	return kind, input
}

// dump shows v as indented JSON without its zero values.
func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "error: " + err.Error()
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return "error: " + err.Error()
	}
	x = prune(x)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(x)
	return strings.TrimSuffix(out.String(), "\n")
}

func prune(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			e = prune(e)
			if isZero(e) {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		return v
	case []any:
		for i := range v {
			v[i] = prune(v[i])
		}
	}
	return x
}

func isZero(x any) bool {
	switch v := x.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case float64:
		return v == 0
	case bool:
		return !v
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

func indent(b []byte, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var out bytes.Buffer
	if e := json.Indent(&out, b, "", "  "); e != nil {
		return "invalid JSON: " + e.Error() + "\n" + string(b)
	}
	return out.String()
}

func runRequest(t *testing.T, input string) map[string]string {
	var r canon.Request
	if err := responses.DecodeRequest([]byte(input), &r); err != nil {
		return map[string]string{"canon": "error: " + err.Error()}
	}
	return map[string]string{
		"canon":     dump(&r),
		"responses": indent(responses.EncodeRequest(nil, &r, responses.EncodeOptions{})),
		"openai":    indent(openai.EncodeRequest(nil, &r, openai.EncodeOptions{})),
		"anthropic": indent(anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{DefaultMaxTokens: 32000})),
	}
}

func runResponse(t *testing.T, input string) map[string]string {
	var r canon.Response
	if err := responses.DecodeResponse([]byte(input), &r); err != nil {
		return map[string]string{"canon": "error: " + err.Error()}
	}
	if r.Created == 0 {
		r.Created = 1700000000
	}
	return map[string]string{
		"canon":     dump(&r),
		"responses": indent(responses.EncodeResponse(nil, &r)),
		"openai":    indent(openai.EncodeResponse(nil, &r), nil),
		"anthropic": indent(anthropic.EncodeResponse(nil, &r)),
	}
}

func runStream(t *testing.T, input string) map[string]string {
	var d responses.StreamDecoder
	var re responses.StreamEncoder
	var oe openai.StreamEncoder
	var ae anthropic.StreamEncoder
	var lines []string
	var rOut, oOut, aOut []byte
	var evs []canon.Event
	var err error
	encode := func() {
		for i := range evs {
			ev := &evs[i]
			if ev.Type == canon.EventMessageStart {
				ev.Created = 1700000000
			}
			lines = append(lines, eventLine(ev))
			var e1, e2, e3 error
			rOut, e1 = re.Append(rOut, ev)
			oOut, e2 = oe.Append(oOut, ev)
			aOut, e3 = ae.Append(aOut, ev)
			for _, e := range []error{e1, e2, e3} {
				if e != nil {
					lines = append(lines, "encode error: "+e.Error())
				}
			}
		}
	}
	for _, p := range strings.Split(input, "\n") {
		if p == "" {
			continue
		}
		evs, err = d.Decode(evs[:0], []byte(p))
		encode()
		if err != nil {
			lines = append(lines, "error: "+err.Error())
			break
		}
	}
	if err == nil {
		evs, err = d.End(evs[:0])
		encode()
		if err != nil {
			lines = append(lines, "end: "+err.Error())
		}
	}
	return map[string]string{
		"canon":     strings.Join(lines, "\n"),
		"responses": string(rOut),
		"openai":    string(oOut),
		"anthropic": string(aOut),
	}
}

func eventLine(ev *canon.Event) string {
	s := ev.Type.String()
	switch ev.Type {
	case canon.EventMessageStart:
		s += fmt.Sprintf(" id=%s model=%s", ev.ID, ev.Model)
	case canon.EventBlockStart:
		s += fmt.Sprintf(" %d %s id=%s name=%s", ev.Index, ev.Kind, ev.ID, ev.Name)
	case canon.EventTextDelta, canon.EventToolArgsDelta, canon.EventThinkingDelta, canon.EventSignatureDelta:
		s += fmt.Sprintf(" %d %q", ev.Index, ev.Text)
	case canon.EventBlockStop:
		s += fmt.Sprintf(" %d", ev.Index)
	case canon.EventMessageDelta:
		s += fmt.Sprintf(" %s %+v", ev.StopReason, ev.Usage)
	case canon.EventError:
		s += fmt.Sprintf(" %d %s %q", ev.Error.Status, ev.Error.Type, ev.Error.Message)
	}
	return s
}
