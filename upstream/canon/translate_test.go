package canon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

var update = flag.Bool("update", false, "rewrite the expected sections of the golden files in testdata/")

// TestTranslateGolden runs every file in testdata/translate: one case per
// file, a header of '#' comments (the documented example it is built
// from) and a command line, then sections:
//
//	translate from=<format> to=<format> [option=value...]
//	-- input --
//	the source body, or SSE stream
//	-- canon --          (streams only)
//	the canonical events, one per line
//	-- output --
//	the translated body (indented), or SSE stream, or "error: ..."
//
// Formats are openai-request, anthropic-request, openai-response,
// anthropic-response, openai-stream and anthropic-stream. With -update
// the canon and output sections are rewritten:
// go test ./upstream/canon -run TranslateGolden -update
func TestTranslateGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/translate/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			c := readCase(t, path)
			got := c.run(t)
			changed := false
			for _, name := range []string{"canon", "output"} {
				want, ok := c.sections[name]
				if g, has := got[name]; has && (!ok || g != want) {
					changed = true
					if !*update {
						t.Errorf("%s: section %s:\n got:\n%s\nwant:\n%s", path, name, g, want)
					}
				}
			}
			if *update && changed {
				c.write(t, path, got)
			}
		})
	}
}

type goldenCase struct {
	header   []string // comment lines and the command line
	from, to string
	opts     map[string]string
	order    []string
	sections map[string]string
}

func readCase(t testing.TB, path string) *goldenCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &goldenCase{opts: map[string]string{}, sections: map[string]string{}}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	i := 0
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "-- "); i++ {
		l := lines[i]
		c.header = append(c.header, l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fields := strings.Fields(l)
		if fields[0] != "translate" {
			t.Fatalf("%s:%d: want a translate command, got %q", path, i+1, l)
		}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "from":
				c.from = v
			case "to":
				c.to = v
			default:
				c.opts[k] = v
			}
		}
	}
	var name string
	var body []string
	flush := func() {
		if name != "" {
			c.order = append(c.order, name)
			c.sections[name] = strings.Join(body, "\n")
		}
	}
	for ; i < len(lines); i++ {
		if n, ok := strings.CutPrefix(lines[i], "-- "); ok && strings.HasSuffix(n, " --") {
			flush()
			name, body = strings.TrimSuffix(n, " --"), nil
			continue
		}
		body = append(body, lines[i])
	}
	flush()
	if c.from == "" || c.to == "" || c.sections["input"] == "" {
		t.Fatalf("%s: want from=, to= and an input section", path)
	}
	return c
}

func (c *goldenCase) write(t *testing.T, path string, got map[string]string) {
	var b strings.Builder
	for _, l := range c.header {
		b.WriteString(l + "\n")
	}
	b.WriteString("-- input --\n" + c.sections["input"] + "\n")
	for _, name := range []string{"canon", "output"} {
		if g, ok := got[name]; ok {
			b.WriteString("-- " + name + " --\n" + g + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (c *goldenCase) bool(name string) bool { return c.opts[name] == "true" }

func (c *goldenCase) int(t *testing.T, name string) int64 {
	if c.opts[name] == "" {
		return 0
	}
	n, err := strconv.ParseInt(c.opts[name], 10, 64)
	if err != nil {
		t.Fatalf("option %s: %v", name, err)
	}
	return n
}

// run translates the input and returns the sections it produces.
func (c *goldenCase) run(t *testing.T) map[string]string {
	in := []byte(c.sections["input"])
	fromKind, _, _ := strings.Cut(c.from, "-")
	toKind, what, _ := strings.Cut(c.to, "-")
	switch what {
	case "request":
		var r canon.Request
		if err := decodeRequest(fromKind, in, &r); err != nil {
			return map[string]string{"output": "error: " + err.Error()}
		}
		out, err := encodeRequest(toKind, &r, c, t)
		return map[string]string{"output": withIgnored(indent(t, out, err), r.Ignored)}
	case "response":
		var r canon.Response
		if err := decodeResponse(fromKind, in, &r); err != nil {
			return map[string]string{"output": "error: " + err.Error()}
		}
		if toKind == "openai" && r.Created == 0 {
			r.Created = c.int(t, "created")
		}
		out, err := encodeResponse(toKind, &r)
		return map[string]string{"output": indent(t, out, err)}
	case "stream":
		events, out := translateStream(t, fromKind, toKind, in, c)
		return map[string]string{"canon": events, "output": out}
	}
	t.Fatalf("unknown target %q", c.to)
	return nil
}

func decodeRequest(format string, body []byte, r *canon.Request) error {
	if format == "openai" {
		return openai.DecodeRequest(body, r)
	}
	return anthropic.DecodeRequest(body, r)
}

func encodeRequest(format string, r *canon.Request, c *goldenCase, t *testing.T) ([]byte, error) {
	if format == "openai" {
		return openai.EncodeRequest(nil, r, openai.EncodeOptions{
			ReasoningContent: c.bool("reasoning_content"), CacheControl: c.bool("cache_control"),
			TopK: c.bool("top_k"), LegacyMaxTokens: c.bool("legacy_max_tokens"),
		})
	}
	return anthropic.EncodeRequest(nil, r, anthropic.EncodeOptions{
		DefaultMaxTokens: c.int(t, "default_max_tokens"), SystemMessages: c.bool("system_messages"),
	})
}

func decodeResponse(format string, body []byte, r *canon.Response) error {
	if format == "openai" {
		return openai.DecodeResponse(body, r)
	}
	return anthropic.DecodeResponse(body, r)
}

func encodeResponse(format string, r *canon.Response) ([]byte, error) {
	if format == "openai" {
		return openai.EncodeResponse(nil, r), nil
	}
	return anthropic.EncodeResponse(nil, r)
}

// streamDecoder and streamEncoder are the two codecs' stream halves.
type streamDecoder interface {
	Decode(dst []canon.Event, data []byte) ([]canon.Event, error)
	End(dst []canon.Event) ([]canon.Event, error)
}

type streamEncoder interface {
	Append(dst []byte, ev *canon.Event) ([]byte, error)
}

func newStream(from, to string, c *goldenCase, t *testing.T) (streamDecoder, streamEncoder) {
	var d streamDecoder = &anthropic.StreamDecoder{}
	if from == "openai" {
		d = &openai.StreamDecoder{}
	}
	var e streamEncoder = &anthropic.StreamEncoder{}
	if to == "openai" {
		e = &openai.StreamEncoder{IncludeUsage: c.bool("include_usage"), Created: c.int(t, "created")}
	}
	return d, e
}

// translateStream feeds the data payloads of an SSE stream to a decoder,
// and each event at once to an encoder, as the proxy's relay does; an
// upstream stream that ends early gets the in-band error the proxy would
// report. It returns the events, one per line, and the encoded stream.
func translateStream(t *testing.T, from, to string, in []byte, c *goldenCase) (string, string) {
	d, e := newStream(from, to, c, t)
	var events []string
	var out []byte
	var buf []canon.Event
	emit := func(evs []canon.Event) {
		for i := range evs {
			events = append(events, dumpEvent(&evs[i]))
			var err error
			if out, err = e.Append(out, &evs[i]); err != nil {
				out = fmt.Appendf(out, "encode error: %v\n", err)
			}
		}
	}
	for _, payload := range dataPayloads(in) {
		var err error
		buf, err = d.Decode(buf[:0], payload)
		emit(buf)
		if err != nil {
			events = append(events, "decode error: "+err.Error())
			emit([]canon.Event{{Type: canon.EventError, Error: canon.Error{Status: 502, Type: "api_error", Message: err.Error()}}})
			return strings.Join(events, "\n"), strings.TrimSuffix(string(out), "\n")
		}
	}
	buf, err := d.End(buf[:0])
	emit(buf)
	if errors.Is(err, canon.ErrStreamTruncated) {
		events = append(events, "end: "+err.Error())
		emit([]canon.Event{{Type: canon.EventError, Error: canon.Error{Status: 502, Type: "api_error", Message: err.Error()}}})
	}
	return strings.Join(events, "\n"), strings.TrimSuffix(string(out), "\n")
}

// dataPayloads returns the "data:" payloads of an SSE stream, one per
// data line.
func dataPayloads(in []byte) [][]byte {
	var out [][]byte
	for _, line := range bytes.Split(in, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			out = append(out, bytes.TrimPrefix(d, []byte(" ")))
		}
	}
	return out
}

// dumpEvent writes an event on one line, with only the fields its type
// uses.
func dumpEvent(ev *canon.Event) string {
	var b strings.Builder
	b.WriteString(ev.Type.String())
	field := func(name string, v any) { fmt.Fprintf(&b, " %s=%v", name, v) }
	usage := func(u canon.Usage) {
		fmt.Fprintf(&b, " usage=in:%d,out:%d,cache_read:%d,cache_write:%d,reasoning:%d", u.Input, u.Output, u.CacheRead, u.CacheWrite, u.Reasoning)
	}
	switch ev.Type {
	case canon.EventMessageStart:
		field("id", ev.ID)
		field("model", ev.Model)
		if ev.Created != 0 {
			field("created", ev.Created)
		}
		usage(ev.Usage)
	case canon.EventBlockStart:
		field("index", ev.Index)
		field("kind", ev.Kind)
		if ev.Kind == canon.BlockToolUse {
			field("id", ev.ID)
			field("name", ev.Name)
		}
		if ev.Text != "" {
			field("data", strconv.Quote(ev.Text))
		}
	case canon.EventTextDelta, canon.EventThinkingDelta, canon.EventToolArgsDelta, canon.EventSignatureDelta:
		field("index", ev.Index)
		b.WriteString(" " + strconv.Quote(ev.Text))
	case canon.EventBlockStop:
		field("index", ev.Index)
	case canon.EventMessageDelta:
		field("stop", ev.StopReason)
		if ev.StopSequence != "" {
			field("stop_sequence", strconv.Quote(ev.StopSequence))
		}
		usage(ev.Usage)
	case canon.EventError:
		field("status", ev.Error.Status)
		field("type", ev.Error.Type)
		field("message", strconv.Quote(ev.Error.Message))
	}
	return b.String()
}

// indent returns JSON output indented for review, or the error.
func indent(t *testing.T, out []byte, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b bytes.Buffer
	if err := json.Indent(&b, out, "", "  "); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return b.String()
}

func withIgnored(out string, ignored []string) string {
	if len(ignored) == 0 {
		return out
	}
	return "ignored: " + strings.Join(ignored, ", ") + "\n" + out
}
