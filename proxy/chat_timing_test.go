package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
	"switchboard/upstream"
)

// benchBody is a ~1 KB chat request, the size of a short agent turn.
var benchBody = `{"model":"alias-model","messages":[{"role":"system","content":"` + strings.Repeat("You are a helpful assistant. ", 20) +
	`"},{"role":"user","content":"` + strings.Repeat("Summarise the file. ", 20) + `"}],"temperature":0.2,"stream":true}`

// hotPath runs what the gateway does for one pass-through request before
// the bytes go upstream: key lookup, field reads, routing, splice, and the
// upstream request's URL and headers.
func hotPath(s *Server, c *call, h *fasthttp.RequestHeader, body []byte) error {
	if _, err := s.keys.authenticate(h, time.Now()); err != nil {
		return err
	}
	out, err := s.prepare(c, body)
	if err != nil {
		return err
	}
	c.target.Provider.SetRequest(&c.req, upstream.ChatCompletions, out)
	return nil
}

func newHotPathFixture(t testing.TB) (*Server, *call, *fasthttp.RequestHeader) {
	g := startGateway(t, mock.Options{}, "")
	var h fasthttp.RequestHeader
	h.Set("Authorization", "Bearer "+testKey)
	c := callPool.Get().(*call)
	return g.srv, c, &h
}

func BenchmarkHotPath(b *testing.B) {
	s, c, h := newHotPathFixture(b)
	for _, bc := range []struct{ name, body string }{
		{"alias+stream", benchBody},
		{"same-model", strings.Replace(strings.Replace(benchBody, "alias-model", "mock-model", 1), `,"stream":true`, "", 1)},
	} {
		body := []byte(bc.body)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := hotPath(s, c, h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHotPathAllocationBudget holds the pre-upstream work of a
// pass-through request to its allocation budget.
func TestHotPathAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race; make test checks the budget in its non-race run")
	}
	s, c, h := newHotPathFixture(t)
	body := []byte(benchBody)
	const budget = 0
	allocs := testing.AllocsPerRun(200, func() {
		if err := hotPath(s, c, h, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > budget {
		t.Fatalf("hot path allocates %.1f times per request, budget %d", allocs, budget)
	}
}

// streamBody is a canned upstream stream: role chunk, 8 content chunks,
// finish chunk, usage chunk, [DONE].
var streamBody = func() string {
	var b strings.Builder
	chunk := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}],"usage":null}` + "\n\n"
	for i := 0; i < 10; i++ {
		b.WriteString(chunk)
	}
	b.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}()

// BenchmarkRelay measures the SSE relay per event: framing, usage capture,
// usage-chunk hiding. One op is one 12-event stream.
func BenchmarkRelay(b *testing.B) {
	c := callPool.Get().(*call)
	c.srv = &Server{}
	buf := make([]byte, 4096)
	r := strings.NewReader(streamBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(streamBody)))
	for b.Loop() {
		r.Reset(streamBody)
		c.resp.SetBodyStream(r, -1)
		if err := c.relay.stream.Open("bench", &c.resp, 0); err != nil {
			b.Fatal(err)
		}
		c.relay.dropUsage = true
		c.relay.done = false
		for {
			_, err := c.relay.Read(buf)
			if err != nil {
				break
			}
		}
		c.relay.stream.Close()
		c.relay.in, c.relay.head, c.relay.pending = c.relay.in[:0], 0, nil
	}
}

// BenchmarkGatewayLoopback is one whole non-streaming call through the
// real gateway to the mock over loopback, client included: allocations
// here are those of all three.
func BenchmarkGatewayLoopback(b *testing.B) {
	g := startGateway(b, mock.Options{}, "log:\n  access: false\n")
	body := []byte(strings.Replace(benchBody, `,"stream":true`, "", 1))
	client := &fasthttp.HostClient{Addr: strings.TrimPrefix(g.URL, "http://")}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			req.Header.SetMethod("POST")
			req.SetRequestURI(g.URL + "/v1/chat/completions")
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.SetBodyRaw(body)
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Fatalf("%v %d", err, resp.StatusCode())
			}
		}
	})
}
