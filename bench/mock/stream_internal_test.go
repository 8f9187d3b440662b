package mock

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// streamOf builds the stream answering a request with faults f on ep in
// process, and returns its bytes.
func streamOf(t *testing.T, ep endpoint, f faults, setup func(*call)) []byte {
	t.Helper()
	s := &Server{opts: Options{Chunks: defaultChunks}}
	var ctx fasthttp.RequestCtx
	ctx.Request.SetBodyString(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	c := call{ctx: &ctx, f: f, seq: 1}
	c.req.Model = "m"
	if setup != nil {
		setup(&c)
	}
	s.stream(&c, ep)
	b, err := io.ReadAll(ctx.Response.BodyStream())
	if err != nil {
		t.Fatal(err)
	}
	if err := ctx.Response.CloseBodyStream(); err != nil {
		t.Fatal(err)
	}
	return b
}

// frame is one event of a stream: its name and data.
type frame struct{ name, data string }

// frames splits an SSE stream whose events end with sep.
func frames(t *testing.T, b []byte, sep string) []frame {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	if !bytes.HasSuffix(b, []byte(sep)) {
		t.Fatalf("stream does not end with %q: %q", sep, b)
	}
	var out []frame
	for _, ev := range strings.Split(strings.TrimSuffix(string(b), sep), sep) {
		var fr frame
		if name, rest, ok := strings.Cut(ev, "\n"); ok && strings.HasPrefix(name, "event: ") {
			fr.name, ev = strings.TrimPrefix(name, "event: "), rest
		}
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.ContainsAny(data, "\r\n") {
			t.Fatalf("malformed event %q", ev)
		}
		fr.data = data
		out = append(out, fr)
	}
	return out
}

// FuzzStreams builds every surface's stream for random answer shapes and
// in-band errors, and checks the framing and the invariants each surface
// promises.
func FuzzStreams(f *testing.F) {
	f.Add(uint8(8), uint8(0), uint8(0), int8(-1), uint8(0))
	f.Add(uint8(2), uint8(3), uint8(0), int8(4), uint8(0xff))
	f.Add(uint8(0), uint8(1), uint8(2), int8(0), uint8(0x12))
	f.Fuzz(func(t *testing.T, chunks, thinking, tools uint8, streamErr int8, flags uint8) {
		ff := noFaults()
		ff.chunks, ff.thinking, ff.tools = int(chunks%24), int(thinking%5), int(tools%5)
		ff.streamErr = max(-1, int(streamErr)%40)
		setup := func(c *call) {
			c.summary, c.encrypted, c.thoughts, c.sse = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 == 0
		}
		ep := [...]endpoint{endpointChat, endpointCompletions, endpointMessages, endpointResponses, endpointStreamGenerate}[int(flags>>4)%5]
		b := streamOf(t, ep, ff, setup)
		var c call
		setup(&c)

		if ep == endpointStreamGenerate && !c.sse {
			var items []json.RawMessage
			if err := json.Unmarshal(b, &items); err != nil || len(items) == 0 {
				t.Fatalf("JSON array stream %q: %v", b, err)
			}
			if last := string(items[len(items)-1]); (ff.streamErr >= 0) != strings.HasPrefix(last, `{"error":`) {
				t.Fatalf("streamerror=%d, last item %s", ff.streamErr, last)
			}
			return
		}
		sep := "\n\n"
		if ep == endpointStreamGenerate {
			sep = "\r\n\r\n"
		}
		fr := frames(t, b, sep)
		if len(fr) == 0 {
			t.Fatalf("empty stream")
		}
		failed := 0
		for i, e := range fr {
			if e.data == "[DONE]" {
				if ep != endpointChat && ep != endpointCompletions || i != len(fr)-1 || ff.streamErr >= 0 {
					t.Fatalf("[DONE] at %d of %d", i, len(fr))
				}
				continue
			}
			var ev struct {
				Type           string          `json:"type"`
				SequenceNumber *int            `json:"sequence_number"`
				Error          json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal([]byte(e.data), &ev); err != nil {
				t.Fatalf("event %d %q: %v", i, e.data, err)
			}
			switch ep {
			case endpointMessages:
				if ev.Type != e.name {
					t.Fatalf("event %q carries type %q", e.name, ev.Type)
				}
			case endpointResponses:
				if ev.Type != e.name || ev.SequenceNumber == nil || *ev.SequenceNumber != i {
					t.Fatalf("event %d %q: type %q sequence_number %v", i, e.name, ev.Type, ev.SequenceNumber)
				}
			}
			if e.name == "error" || e.name == "response.failed" || e.name == "" && len(ev.Error) > 0 {
				failed++
				if i != len(fr)-1 {
					t.Fatalf("in-band error at %d of %d", i, len(fr))
				}
			}
		}
		if want := min(1, ff.streamErr+1); failed != want {
			t.Fatalf("streamerror=%d: %d error events, want %d", ff.streamErr, failed, want)
		}
	})
}
