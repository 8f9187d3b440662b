package gemini_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/gemini"
	"switchboard/upstream/openai"
)

var update = flag.Bool("update", false, "rewrite the expected sections of the golden files in testdata/")

// goldenCase is one file of testdata: a header of '#' comments and a
// "kind=request|response|stream" line, then sections "-- name --":
// input (a Gemini body, or an SSE stream), and the expected canon (the
// decoded value as JSON, or the events one per line), gemini (the
// re-encoding), openai and anthropic (the translation through those
// codecs). Streams show "\r" as the two characters \r. With -update
// the expected sections are rewritten:
// go test ./upstream/gemini -run Golden -update
type goldenCase struct {
	header   string
	kind     string
	order    []string
	sections map[string]string
}

func readCase(t testing.TB, path string) *goldenCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &goldenCase{sections: map[string]string{}}
	cur := ""
	var head, body strings.Builder
	flush := func() {
		if cur != "" {
			c.sections[cur] = strings.TrimSuffix(body.String(), "\n")
			c.order = append(c.order, cur)
		}
		body.Reset()
	}
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(l), "-- "); ok && strings.HasSuffix(name, " --") {
			flush()
			cur = strings.TrimSuffix(name, " --")
			continue
		}
		if cur == "" {
			head.WriteString(l)
			if k, ok := strings.CutPrefix(strings.TrimSpace(l), "kind="); ok {
				c.kind = k
			}
			continue
		}
		body.WriteString(l)
	}
	flush()
	c.header = head.String()
	return c
}

func (c *goldenCase) write(t *testing.T, path string, got map[string]string) {
	var b strings.Builder
	b.WriteString(c.header)
	for _, name := range []string{"input", "canon", "gemini", "openai", "anthropic"} {
		v, ok := got[name]
		if !ok {
			v, ok = c.sections[name]
		}
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "-- %s --\n%s\n", name, v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
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

func (c *goldenCase) run(t *testing.T) map[string]string {
	in := []byte(c.sections["input"])
	got := map[string]string{}
	switch c.kind {
	case "request":
		var r canon.Request
		if err := gemini.DecodeRequest(in, &r); err != nil {
			got["canon"] = "error: " + err.Error()
			return got
		}
		got["canon"] = asJSON(&r)
		got["gemini"] = indent(gemini.EncodeRequest(nil, &r, gemini.EncodeOptions{}))
		got["openai"] = indent(openai.EncodeRequest(nil, &r, openai.EncodeOptions{TopK: true}))
		got["anthropic"] = indent(anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{DefaultMaxTokens: 4096}))
	case "response":
		var r canon.Response
		if err := gemini.DecodeResponse(in, &r); err != nil {
			got["canon"] = "error: " + err.Error()
			return got
		}
		got["canon"] = asJSON(&r)
		got["gemini"] = indent(gemini.EncodeResponse(nil, &r))
		fixed := r
		fixed.Created = 1767225600 // OpenAI wants a time; Gemini has none
		got["openai"] = indent(openai.EncodeResponse(nil, &fixed), nil)
		got["anthropic"] = indent(anthropic.EncodeResponse(nil, &r))
	case "stream":
		evs, lines, err := decodeStream(payloads(c.sections["input"]))
		if err != nil {
			lines = append(lines, "end: "+err.Error())
		}
		got["canon"] = strings.Join(lines, "\n")
		var g gemini.StreamEncoder
		var o openai.StreamEncoder
		var a anthropic.StreamEncoder
		got["gemini"] = encodeStream(evs, g.Append)
		for i := range evs {
			if evs[i].Type == canon.EventMessageStart {
				evs[i].Created = 1767225600 // OpenAI wants a time; Gemini has none
			}
		}
		got["openai"] = encodeStream(evs, o.Append)
		got["anthropic"] = encodeStream(evs, a.Append)
	default:
		t.Fatalf("unknown kind %q", c.kind)
	}
	return got
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
	return strings.TrimSuffix(strings.ReplaceAll(string(out), "\r", `\r`), "\n")
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

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			c := readCase(t, path)
			got := c.run(t)
			changed := false
			for _, name := range []string{"canon", "gemini", "openai", "anthropic"} {
				g, has := got[name]
				if !has {
					continue
				}
				if want, ok := c.sections[name]; !ok || g != want {
					changed = true
					if !*update {
						t.Errorf("section %s:\n got:\n%s\nwant:\n%s", name, g, want)
					}
				}
			}
			if *update && changed {
				c.write(t, path, got)
			}
		})
	}
}

// TestRoundTrip decodes every golden Gemini input, encodes it in Gemini
// form, and checks that decoding that gives the same canonical value
// (requests and answers) or events (streams) again.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			c := readCase(t, path)
			in := []byte(c.sections["input"])
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
				evs, lines1, err1 := decodeStream(payloads(c.sections["input"]))
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
