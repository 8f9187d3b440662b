package proxy

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"switchboard/router"
	"switchboard/store/money"
)

func TestNextEvent(t *testing.T) {
	f := func(in string, want int) {
		t.Helper()
		if got := nextEvent([]byte(in)); got != want {
			t.Fatalf("nextEvent(%q) = %d, want %d", in, got, want)
		}
	}
	f("", 0)
	f("data: x", 0)
	f("data: x\n", 0)
	f("data: x\n\n", 9)
	f("data: x\n\ndata: y\n\n", 9)
	f("data: x\r\n\r\n", 11)
	f("data: x\r\rdata", 9)
	f("data: x\r\n\r", 0) // the last \r may be followed by \n
	f("data: x\r\n\rdata", 10)
	f("event: a\ndata: x\n\n", 18)
	f("\n", 1)
	f(": keep-alive\n\n", 14)
}

func TestEventData(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(eventData([]byte(in))); got != want {
			t.Fatalf("eventData(%q) = %q, want %q", in, got, want)
		}
	}
	f("data: {}\n\n", "{}")
	f("data:{}\n\n", "{}")
	f("event: x\r\ndata: [DONE]\r\n\r\n", "[DONE]")
	f(": comment\n\n", "")
}

// FuzzNextEvent checks the SSE framing against a line-by-line reference:
// splitting a stream into events and joining them gives the stream back,
// and each event ends in a blank line.
func FuzzNextEvent(f *testing.F) {
	for _, s := range []string{"data: a\n\ndata: b\r\n\r\n", "x\r\r\ny", "\n\n\n", "data: a\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rest := in
		var joined []byte
		for {
			n := nextEvent(rest)
			if n == 0 {
				break
			}
			if n < 0 || n > len(rest) {
				t.Fatalf("nextEvent out of range: %d of %d", n, len(rest))
			}
			ev := rest[:n]
			if !(bytes.HasSuffix(ev, []byte("\n\n")) || bytes.HasSuffix(ev, []byte("\r\r")) || bytes.HasSuffix(ev, []byte("\r\n\r\n")) ||
				bytes.HasSuffix(ev, []byte("\n\r\n")) || bytes.HasSuffix(ev, []byte("\r\n\n")) || bytes.HasSuffix(ev, []byte("\n\r")) || bytes.HasSuffix(ev, []byte("\r\r\n")) || n == 1 || n == 2) {
				t.Fatalf("event %q does not end in a blank line", ev)
			}
			joined = append(joined, ev...)
			rest = rest[n:]
		}
		if !bytes.Equal(append(joined, rest...), in) {
			t.Fatalf("events do not join back to the input")
		}
	})
}

// relayOver runs a relay over a canned upstream body and returns what the
// client would receive.
func relayOver(t testing.TB, upstreamBody string, dropUsage bool) (string, *call) {
	t.Helper()
	c := callPool.Get().(*call)
	c.srv, c.rt, c.surface, c.format = &Server{}, &runtimeState{}, surfaceChat, formatOf(surfaceChat.format)
	c.resp.SetBodyStream(strings.NewReader(upstreamBody), -1)
	if err := c.relay.stream.Open("test", &c.resp, 0); err != nil {
		t.Fatal(err)
	}
	c.relay.dropUsage = dropUsage
	c.price = router.Price{Rates: router.Rates{Input: money.Dollar, Output: 2 * money.Dollar}} // per million tokens
	var out bytes.Buffer
	buf := make([]byte, 64) // small, to split events across reads
	for {
		n, err := c.relay.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return out.String(), c
}

func TestRelayHidesUsageChunkAndKeepsUsage(t *testing.T) {
	in := "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n" +
		": comment\n\n" +
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":5}}}\n\n" +
		"data: [DONE]\n\n"
	out, c := relayOver(t, in, true)
	want := "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n: comment\n\ndata: [DONE]\n\n"
	if out != want {
		t.Fatalf("relayed\n%q\nwant\n%q", out, want)
	}
	if c.usage.Prompt() != 7 || c.usage.Output != 3 || c.usage.CacheRead != 5 || !c.reported {
		t.Fatalf("usage = %+v", c.usage)
	}
	// With usage requested the stream passes unchanged but for the cost:
	// 2 uncached prompt tokens at $1/M + 3 output tokens at $2/M; the 5
	// cached ones are free.
	out, _ = relayOver(t, in, false)
	if want := strings.Replace(in, `{"cached_tokens":5}}`, `{"cached_tokens":5},"cost":0.000008}`, 1); out != want {
		t.Fatalf("relayed\n%q\nwant\n%q", out, want)
	}
}

func TestRelayPassesUnterminatedTail(t *testing.T) {
	in := "data: {\"a\":1}\n\ndata: {\"b\":2}"
	if out, _ := relayOver(t, in, true); out != in {
		t.Fatalf("got %q", out)
	}
}
