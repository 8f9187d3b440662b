package responses_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
	"switchboard/upstream/responses"
)

var update = flag.Bool("update", false, "rewrite the expected sections of the golden files in testdata/")

// TestGolden runs every file in testdata/golden: a header of '#'
// comments and a kind line ("request", "response" or "stream"), then
// sections:
//
//	-- input --      the Responses body, or the stream's data payloads, one a line
//	-- canon --      the canonical value (non-zero fields), or events one a line
//	-- responses --  re-encoded as Responses (round trip)
//	-- openai --     encoded as OpenAI Chat Completions
//	-- anthropic --  encoded as Anthropic Messages
//
// With -update every section but input is rewritten:
// go test ./upstream/responses -run Golden -update
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			header, order, sections := readGolden(t, path)
			kind := header[len(header)-1]
			var got map[string]string
			switch kind {
			case "request":
				got = runRequest(t, sections["input"])
			case "response":
				got = runResponse(t, sections["input"])
			case "stream":
				got = runStream(t, sections["input"])
			default:
				t.Fatalf("unknown kind %q", kind)
			}
			changed := false
			for _, name := range []string{"canon", "responses", "openai", "anthropic"} {
				g := got[name]
				if w, ok := sections[name]; !ok || w != g {
					changed = true
					if !*update {
						t.Errorf("section %s:\n got:\n%s\nwant:\n%s", name, g, w)
					}
				}
			}
			if *update && changed {
				var b strings.Builder
				for _, h := range header {
					b.WriteString(h + "\n")
				}
				_ = order
				b.WriteString("-- input --\n" + sections["input"] + "\n")
				for _, name := range []string{"canon", "responses", "openai", "anthropic"} {
					b.WriteString("-- " + name + " --\n" + got[name] + "\n")
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func readGolden(t *testing.T, path string) (header, order []string, sections map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sections = map[string]string{}
	var cur string
	var body []string
	flush := func() {
		if cur != "" {
			sections[cur] = strings.Join(body, "\n")
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasPrefix(l, "-- ") && strings.HasSuffix(l, " --") {
			flush()
			cur, body = strings.TrimSuffix(strings.TrimPrefix(l, "-- "), " --"), nil
			order = append(order, cur)
			continue
		}
		if cur == "" {
			header = append(header, l)
			continue
		}
		body = append(body, l)
	}
	flush()
	if len(header) == 0 {
		t.Fatal("no header")
	}
	return header, order, sections
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
		"responses": strings.TrimSuffix(string(rOut), "\n"),
		"openai":    strings.TrimSuffix(string(oOut), "\n"),
		"anthropic": strings.TrimSuffix(string(aOut), "\n"),
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
