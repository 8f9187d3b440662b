package gemini_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/gemini"
	"switchboard/upstream/openai"
)

// TestGolden runs every file in testdata/translate, a datadriven command
// file per case: '#' comments, then the Gemini input decoded, and its
// decoded value encoded in each format:
//
//	decode-request | decode-response | decode-stream
//	a Gemini body, or an SSE stream
//	----
//	the canonical value as JSON without zero fields, or the events one a line
//
//	encode to=gemini | to=openai | to=anthropic
//	----
//	the re-encoding (gemini) or translation: a body indented, or a stream
//
// Streams show "\r" as the two characters \r. A body that cannot be
// decoded shows "error: ..." and has no encode commands; every other
// case encodes to all three formats. -rewrite rewrites every expected
// output: go test ./upstream/gemini -run Golden -rewrite
func TestGolden(t *testing.T) {
	files := 0
	datadriven.Walk(t, "testdata/translate", func(t *testing.T, path string) {
		files++
		var c *goldenCase
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if kind, ok := strings.CutPrefix(d.Cmd, "decode-"); ok {
				if c != nil {
					d.Fatalf(t, "a second decode command")
				}
				c = &goldenCase{kind: kind, input: d.Input, encoded: map[string]bool{}}
				return c.decode(t) + "\n"
			}
			if d.Cmd != "encode" {
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			var to string
			d.ScanArgs(t, "to", &to)
			if c == nil || c.failed {
				d.Fatalf(t, "encode: nothing decoded before")
			}
			c.encoded[to] = true
			return c.encode(t, to)
		})
		if c == nil {
			t.Fatalf("%s: no decode command", path)
		}
		for _, to := range []string{"gemini", "openai", "anthropic"} {
			if !c.failed && !c.encoded[to] {
				t.Fatalf("%s: no encode to=%s command", path, to)
			}
		}
	})
	if files == 0 {
		t.Fatal("no golden files in testdata/translate")
	}
}

// goldenCase is the state of one golden file: what its decode command
// decoded.
type goldenCase struct {
	kind    string // request, response or stream
	input   string
	failed  bool // the request or response did not decode
	req     canon.Request
	resp    canon.Response
	events  []canon.Event
	encoded map[string]bool
}

// readCase returns the kind and input of the decode command of the
// golden file at path, for the tests that reuse the golden inputs (round
// trips, fuzz seeds, benchmarks). It runs and checks nothing.
func readCase(tb testing.TB, path string) *goldenCase {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var c *goldenCase
	datadriven.RunTestFromStringAny(tb, string(data), func(tb testing.TB, d *datadriven.TestData) string {
		if kind, ok := strings.CutPrefix(d.Cmd, "decode-"); ok && c == nil {
			c = &goldenCase{kind: kind, input: d.Input}
		}
		return d.Expected
	})
	if c == nil {
		tb.Fatalf("%s: no decode command", path)
	}
	return c
}

// goldenFiles returns the paths of the golden files.
func goldenFiles(tb testing.TB) []string {
	files, err := filepath.Glob("testdata/translate/*")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden files: %v", err)
	}
	return files
}

// decode decodes the input and returns the canonical value, or the
// error.
func (c *goldenCase) decode(t *testing.T) string {
	in := []byte(c.input)
	switch c.kind {
	case "request":
		if err := gemini.DecodeRequest(in, &c.req); err != nil {
			c.failed = true
			return "error: " + err.Error()
		}
		return asJSON(&c.req)
	case "response":
		if err := gemini.DecodeResponse(in, &c.resp); err != nil {
			c.failed = true
			return "error: " + err.Error()
		}
		return asJSON(&c.resp)
	case "stream":
		evs, lines, err := decodeStream(payloads(c.input))
		if err != nil {
			lines = append(lines, "end: "+err.Error())
		}
		c.events = evs
		return strings.Join(lines, "\n")
	}
	t.Fatalf("unknown kind %q", c.kind)
	return ""
}

// encode encodes what was decoded in format to. A body's output is its
// indented JSON and a newline, so that the file shows a newline that
// ends the body; a stream's is its bytes as sent.
func (c *goldenCase) encode(t *testing.T, to string) string {
	switch c.kind + " " + to {
	case "request gemini":
		return indent(gemini.EncodeRequest(nil, &c.req, gemini.EncodeOptions{})) + "\n"
	case "request openai":
		return indent(openai.EncodeRequest(nil, &c.req, openai.EncodeOptions{TopK: true})) + "\n"
	case "request anthropic":
		return indent(anthropic.EncodeRequest(nil, &c.req, anthropic.EncodeOptions{DefaultMaxTokens: 4096})) + "\n"
	case "response gemini":
		return indent(gemini.EncodeResponse(nil, &c.resp)) + "\n"
	case "response openai":
		fixed := c.resp
		fixed.Created = 1767225600 // OpenAI wants a time; Gemini has none
		return indent(openai.EncodeResponse(nil, &fixed), nil) + "\n"
	case "response anthropic":
		return indent(anthropic.EncodeResponse(nil, &c.resp)) + "\n"
	case "stream gemini":
		var g gemini.StreamEncoder
		return encodeStream(c.events, g.Append)
	case "stream openai":
		var o openai.StreamEncoder
		return encodeStream(created(c.events), o.Append)
	case "stream anthropic":
		var a anthropic.StreamEncoder
		return encodeStream(created(c.events), a.Append)
	}
	t.Fatalf("cannot encode a %s to %q", c.kind, to)
	return ""
}

// created returns a copy of evs whose message start has a time: OpenAI
// wants one; Gemini has none.
func created(evs []canon.Event) []canon.Event {
	evs = slices.Clone(evs)
	for i := range evs {
		if evs[i].Type == canon.EventMessageStart {
			evs[i].Created = 1767225600
		}
	}
	return evs
}

func indent(out []byte, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b bytes.Buffer
	if e := json.Indent(&b, out, "", "  "); e != nil {
		return "invalid JSON: " + e.Error() + "\n" + string(out)
	}
	return b.String()
}

// asJSON returns v as indented JSON without its zero values, keys
// sorted.
func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "error: " + err.Error()
	}
	var m any
	if err := json.Unmarshal(b, &m); err != nil {
		return "error: " + err.Error()
	}
	b, _ = json.MarshalIndent(prune(m), "", "  ")
	return string(b)
}

func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e = prune(e); e == nil {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case []any:
		for i := range v {
			if v[i] = prune(v[i]); v[i] == nil {
				v[i] = map[string]any{}
			}
		}
		return v
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	case float64:
		if v == 0 {
			return nil
		}
	}
	return v
}

// payloads returns the data payloads of an SSE stream.
func payloads(stream string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(stream, "\r", ""), "\n") {
		if p, ok := strings.CutPrefix(l, "data:"); ok {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

// decodeStream decodes payloads with a fresh decoder and ends the
// stream; it returns copies of the events and their lines.
func decodeStream(ps []string) ([]canon.Event, []string, error) {
	var d gemini.StreamDecoder
	var all []canon.Event
	var lines []string
	var evs []canon.Event
	var err error
	for _, p := range ps {
		evs, err = d.Decode(evs[:0], []byte(p))
		for i := range evs {
			ev := evs[i]
			ev.Text = strings.Clone(ev.Text) // the decoder reuses its memory
			all = append(all, ev)
			lines = append(lines, line(&ev))
		}
		if err != nil {
			return all, lines, err
		}
	}
	evs, err = d.End(evs[:0])
	for i := range evs {
		all = append(all, evs[i])
		lines = append(lines, line(&evs[i]))
	}
	return all, lines, err
}

func encodeStream(evs []canon.Event, appendEv func([]byte, *canon.Event) ([]byte, error)) string {
	var out []byte
	for i := range evs {
		var err error
		if out, err = appendEv(out, &evs[i]); err != nil {
			out = append(out, "error: "+err.Error()+"\n"...)
			break
		}
	}
	return strings.ReplaceAll(string(out), "\r", `\r`)
}

func line(ev *canon.Event) string {
	switch ev.Type {
	case canon.EventMessageStart:
		return fmt.Sprintf("%s id=%s model=%s usage=%+v", ev.Type, ev.ID, ev.Model, ev.Usage)
	case canon.EventBlockStart:
		return fmt.Sprintf("%s %d %s %s %s", ev.Type, ev.Index, ev.Kind, ev.ID, ev.Name)
	case canon.EventTextDelta, canon.EventThinkingDelta, canon.EventSignatureDelta, canon.EventToolArgsDelta:
		return fmt.Sprintf("%s %d %q", ev.Type, ev.Index, ev.Text)
	case canon.EventBlockStop:
		return fmt.Sprintf("%s %d", ev.Type, ev.Index)
	case canon.EventMessageDelta:
		return fmt.Sprintf("%s %s usage=%+v", ev.Type, ev.StopReason, ev.Usage)
	case canon.EventError:
		return fmt.Sprintf("%s %d %s %q", ev.Type, ev.Error.Status, ev.Error.Type, ev.Error.Message)
	}
	return ev.Type.String()
}

// TestRoundTrip decodes every golden Gemini input, encodes it in Gemini
// form, and checks that decoding that gives the same canonical value
// (requests and answers) or events (streams) again.
func TestRoundTrip(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c := readCase(t, path)
			in := []byte(c.input)
			switch c.kind {
			case "request":
				var r1, r2 canon.Request
				if err := gemini.DecodeRequest(in, &r1); err != nil {
					t.Fatal(err)
				}
				out, err := gemini.EncodeRequest(nil, &r1, gemini.EncodeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if err := gemini.DecodeRequest(out, &r2); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				r1.Ignored = nil // hints are not sent
				if a, b := asJSON(&r1), asJSON(&r2); a != b {
					t.Errorf("round trip changed the request:\n%s\nthen\n%s", a, b)
				}
			case "response":
				var r1, r2 canon.Response
				if err := gemini.DecodeResponse(in, &r1); err != nil {
					t.Fatal(err)
				}
				out, err := gemini.EncodeResponse(nil, &r1)
				if err != nil {
					t.Fatal(err)
				}
				if err := gemini.DecodeResponse(out, &r2); err != nil {
					t.Fatal(err)
				}
				if a, b := asJSON(&r1), asJSON(&r2); a != b {
					t.Errorf("round trip changed the answer:\n%s\nthen\n%s", a, b)
				}
			case "stream":
				evs, lines1, err1 := decodeStream(payloads(c.input))
				var e gemini.StreamEncoder
				var out []byte
				for i := range evs {
					var err error
					if out, err = e.Append(out, &evs[i]); err != nil {
						t.Fatal(err)
					}
				}
				_, lines2, err2 := decodeStream(payloads(string(out)))
				if !errors.Is(err2, err1) {
					t.Errorf("end: %v, then %v", err1, err2)
				}
				if a, b := strings.Join(lines1, "\n"), strings.Join(lines2, "\n"); a != b {
					t.Errorf("round trip changed the events:\n%s\nthen\n%s", a, b)
				}
			}
		})
	}
}
