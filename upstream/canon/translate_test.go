package canon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// TestTranslateGolden runs every file in testdata/translate, a
// datadriven command file per case: '#' comments (the documented example
// it is built from), then
//
//	translate from=<format> to=<format> [option=value...]
//	the source body, or SSE stream
//	----
//	the translated body (indented), or SSE stream, or "error: ..."
//
// and, after a stream's translation, the canonical events it relayed:
//
//	events
//	----
//	one event a line
//
// Formats are openai-request, anthropic-request, openai-response,
// anthropic-response, openai-stream and anthropic-stream. Output with
// blank lines (streams) sits between two "----" lines. -rewrite rewrites
// every expected output:
// go test ./upstream/canon -run TranslateGolden -rewrite
func TestTranslateGolden(t *testing.T) {
	files := 0
	datadriven.Walk(t, "testdata/translate", func(t *testing.T, path string) {
		files++
		var stream *translateCase
		var events string
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "translate":
				if stream != nil {
					d.Fatalf(t, "the stream translated before has no events command")
				}
				c := newTranslateCase(t, d)
				out, evs := c.run(t)
				stream, events = nil, evs
				if c.isStream() {
					stream = c
				}
				return out
			case "events":
				if stream == nil {
					d.Fatalf(t, "events: no stream translated before")
				}
				stream = nil
				return events
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
		if stream != nil {
			t.Fatalf("%s: a stream translation without events after it", path)
		}
	})
	if files == 0 {
		t.Fatal("no golden files in testdata/translate")
	}
}

// translateCase is one translate command: the formats, the options
// (from=, to= and option=value arguments) and the input.
type translateCase struct {
	from, to string
	opts     map[string]string
	input    string
}

func newTranslateCase(t testing.TB, d *datadriven.TestData) *translateCase {
	t.Helper()
	c := &translateCase{opts: map[string]string{}, input: d.Input}
	for _, arg := range d.CmdArgs {
		v := arg.SingleVal(t)
		switch arg.Key {
		case "from":
			c.from = v
		case "to":
			c.to = v
		default:
			c.opts[arg.Key] = v
		}
	}
	if c.from == "" || c.to == "" || c.input == "" {
		d.Fatalf(t, "want from=, to= and an input")
	}
	return c
}

// readCase returns the translate command of the golden file at path, for
// the tests that reuse the golden inputs (round trips, fuzz seeds,
// benchmarks). It runs and checks nothing.
func readCase(tb testing.TB, path string) *translateCase {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var c *translateCase
	datadriven.RunTestFromStringAny(tb, string(data), func(tb testing.TB, d *datadriven.TestData) string {
		if d.Cmd == "translate" && c == nil {
			c = newTranslateCase(tb, d)
		}
		return d.Expected
	})
	if c == nil {
		tb.Fatalf("%s: no translate command", path)
	}
	return c
}

func (c *translateCase) isStream() bool { return strings.HasSuffix(c.to, "-stream") }

func (c *translateCase) bool(name string) bool { return c.opts[name] == "true" }

func (c *translateCase) int(t testing.TB, name string) int64 {
	if c.opts[name] == "" {
		return 0
	}
	n, err := strconv.ParseInt(c.opts[name], 10, 64)
	if err != nil {
		t.Fatalf("option %s: %v", name, err)
	}
	return n
}

// run translates the input and returns the output and, for a stream,
// the events, one a line. A body's output is its indented JSON and a
// newline, so that the file shows a newline that ends the body; a
// stream's is its bytes as sent.
func (c *translateCase) run(t *testing.T) (out, events string) {
	in := []byte(c.input)
	fromKind, _, _ := strings.Cut(c.from, "-")
	toKind, what, _ := strings.Cut(c.to, "-")
	switch what {
	case "request":
		var r canon.Request
		if err := decodeRequest(fromKind, in, &r); err != nil {
			return "error: " + err.Error() + "\n", ""
		}
		out, err := encodeRequest(toKind, &r, c, t)
		return withIgnored(indent(t, out, err), r.Ignored) + "\n", ""
	case "response":
		var r canon.Response
		if err := decodeResponse(fromKind, in, &r); err != nil {
			return "error: " + err.Error() + "\n", ""
		}
		if toKind == "openai" && r.Created == 0 {
			r.Created = c.int(t, "created")
		}
		out, err := encodeResponse(toKind, &r)
		return indent(t, out, err) + "\n", ""
	case "stream":
		events, out := translateStream(t, fromKind, toKind, in, c)
		return out, events
	}
	t.Fatalf("unknown target %q", c.to)
	return "", ""
}

func decodeRequest(format string, body []byte, r *canon.Request) error {
	if format == "openai" {
		return openai.DecodeRequest(body, r)
	}
	return anthropic.DecodeRequest(body, r)
}

func encodeRequest(format string, r *canon.Request, c *translateCase, t *testing.T) ([]byte, error) {
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

func newStream(from, to string, c *translateCase, t *testing.T) (streamDecoder, streamEncoder) {
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
// report. It returns the events, one a line, and the encoded stream.
func translateStream(t *testing.T, from, to string, in []byte, c *translateCase) (string, string) {
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
			return strings.Join(events, "\n") + "\n", string(out)
		}
	}
	buf, err := d.End(buf[:0])
	emit(buf)
	if errors.Is(err, canon.ErrStreamTruncated) {
		events = append(events, "end: "+err.Error())
		emit([]canon.Event{{Type: canon.EventError, Error: canon.Error{Status: 502, Type: "api_error", Message: err.Error()}}})
	}
	return strings.Join(events, "\n") + "\n", string(out)
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
