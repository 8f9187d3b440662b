package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
	"switchboard/store"
	"switchboard/store/money"
	"switchboard/upstream"
)

// benchBody is a ~1 KB chat request, the size of a short agent turn.
var benchBody = `{"model":"alias-model","messages":[{"role":"system","content":"` + strings.Repeat("You are a helpful assistant. ", 20) +
	`"},{"role":"user","content":"` + strings.Repeat("Summarise the file. ", 20) + `"}],"temperature":0.2,"stream":true}`

// hotPath runs what the gateway does for one pass-through request before
// the bytes go upstream (Server.prepare and the upstream request): key
// lookup, the attribution headers' checks, field reads, routing and target order, the cost savers' checks
// (compression, web search, response cache: all off), splice, the
// upstream request's URL and headers and, when billed, the key's limits,
// budgets and reservation (released again, a journal write like the
// settle that ends a real call). Unbilled, billing is off.
func hotPath(s *Server, c *call, h *fasthttp.RequestHeader, body []byte, billed bool) error {
	c.start = time.Now()
	k, err := c.rt.keys.authenticate(h, c.start)
	if err != nil {
		return err
	}
	c.key = k
	if err := checkAttribution(h); err != nil {
		return err
	}
	c.strips = c.strips[:0]
	c.rt.billing.disabled = !billed
	defer func() { c.rt.billing.disabled = false }()
	if _, err := s.prepare(c, body); err != nil {
		return err
	}
	if c.resv != nil {
		if err := s.store.Release(c.resv); err != nil {
			return err
		}
		c.resv = nil
	}
	c.target.Provider.SetRequest(&c.req, upstream.ChatCompletions, "", s.upstreamBody(c, body))
	return nil
}

// hotPathCase is one way through the hot path.
type hotPathCase struct {
	name   string
	body   []byte
	billed bool
	h      *fasthttp.RequestHeader
}

// newHotPathFixture starts a gateway and returns a call and the cases:
// billing off, an operator key, and a metered key with RPM/TPM limits, a
// daily budget and credit, calling a priced model.
func newHotPathFixture(t testing.TB) (*Server, *call, []hotPathCase) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	var op fasthttp.RequestHeader
	op.Set("Authorization", "Bearer "+testKey)
	secret := billingTestKey(t, g, "bench", 1000*money.Dollar, func(k *store.Key) {
		k.RPM, k.TPM, k.DailyLimit = 1<<30, 1<<30, 1000*money.Dollar
	})
	var metered fasthttp.RequestHeader
	metered.Set("Authorization", "Bearer "+secret)
	metered.Set("x-switchboard-user", "alice@example.com")
	metered.Set("x-switchboard-session", "3f2a9c1e-sess")
	metered.Set("x-switchboard-tags", "team-a, nightly,ci/main")
	c := callPool.Get().(*call)
	c.srv, c.rt, c.surface, c.format, c.ctx = g.srv, g.srv.rt.Load(), surfaceChat, formatOf(surfaceChat.format), new(fasthttp.RequestCtx)
	c.requestID = g.srv.appendRequestID(c.requestID[:0])
	priced := []byte(strings.Replace(benchBody, "alias-model", "mock/mock-model", 1))
	return g.srv, c, []hotPathCase{
		{"billing-off", []byte(benchBody), false, &op},
		{"operator", []byte(benchBody), true, &op},
		{"metered", priced, true, &metered},
	}
}

func BenchmarkHotPath(b *testing.B) {
	s, c, cases := newHotPathFixture(b)
	for _, hc := range cases {
		b.Run(hc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(hc.body)))
			for b.Loop() {
				if err := hotPath(s, c, hc.h, hc.body, hc.billed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHotPathAllocationBudget holds the pre-upstream work of a
// pass-through request to its allocation budget: none without billing;
// with it, the reservation and its request id string.
func TestHotPathAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race; make test checks the budget in its non-race run")
	}
	s, c, cases := newHotPathFixture(t)
	for _, hc := range cases {
		budget := 0.0
		if hc.billed {
			budget = 2
		}
		allocs := testing.AllocsPerRun(200, func() {
			if err := hotPath(s, c, hc.h, hc.body, hc.billed); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > budget {
			t.Errorf("%s: hot path allocates %.1f times per request, budget %.0f", hc.name, allocs, budget)
		}
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
	c.srv, c.rt, c.surface, c.format = &Server{}, &runtimeState{}, surfaceChat, formatOf(surfaceChat.format)
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
			req.Header.SetContentType("application/json")
			req.SetBodyRaw(body)
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Fatalf("%v %d", err, resp.StatusCode())
			}
		}
	})
}

// providerStream fetches one streamed answer of format f from the mock,
// as a provider of that format sends it.
func providerStream(b *testing.B, m *mock.Server, f upstream.Format) string {
	b.Helper()
	path, body := clientFormats[f].request("bench-model", false, true)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI(m.URL() + path)
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("x-api-key", "k")
	req.Header.Set("x-goog-api-key", "k")
	req.Header.Set("anthropic-version", "2023-06-01")
	req.SetBodyString(body)
	if err := fasthttp.Do(req, resp); err != nil || resp.StatusCode() != 200 {
		b.Fatalf("mock %s: %v %d %s", path, err, resp.StatusCode(), resp.Body())
	}
	return string(resp.Body())
}

// BenchmarkTranslatedRelay measures the relay translating a stream, for
// each pair of client and provider formats: decode the provider's event,
// encode the client's, keep the usage, add the cost. One op is one
// stream of the mock's (8 text deltas and the framing events); events/op
// says how many provider events that is.
func BenchmarkTranslatedRelay(b *testing.B) {
	m := startMock(b, mock.Options{})
	for _, pf := range clientFormats {
		stream := providerStream(b, m, pf.format)
		events := strings.Count(stream, "data:")
		for _, cf := range clientFormats {
			if cf.format == pf.format {
				continue
			}
			b.Run(cf.name+"-from-"+pf.name, func(b *testing.B) {
				c := callPool.Get().(*call)
				c.srv, c.rt = &Server{}, &runtimeState{}
				c.surface = surfaceFor(cf.format)
				c.format = formatOf(cf.format)
				c.target.Provider = &upstream.Provider{Name: "bench", Format: pf.format}
				buf := make([]byte, 4096)
				r := strings.NewReader(stream)
				b.ReportAllocs()
				b.SetBytes(int64(len(stream)))
				for b.Loop() {
					r.Reset(stream)
					c.resp.SetBodyStream(r, -1)
					if err := c.relay.stream.Open("bench", &c.resp, 0); err != nil {
						b.Fatal(err)
					}
					c.translation().reset()
					c.relay.translate, c.relay.done = true, false
					for {
						if _, err := c.relay.Read(buf); err != nil {
							break
						}
					}
					if c.errMsg != "" {
						b.Fatal(c.errMsg)
					}
					c.relay.stream.Close()
					c.relay.in, c.relay.head, c.relay.pending = c.relay.in[:0], 0, nil
				}
				b.ReportMetric(float64(events), "events/op")
			})
		}
	}
}

// surfaceFor is the chat surface of client format f.
func surfaceFor(f upstream.Format) *surface {
	switch f {
	case upstream.FormatAnthropic:
		return surfaceMessages
	case upstream.FormatResponses:
		return surfaceResponses
	case upstream.FormatGemini:
		return surfaceStream
	}
	return surfaceChat
}
