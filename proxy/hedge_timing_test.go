package proxy

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
)

// BenchmarkHedgedLoopback is BenchmarkGatewayLoopback on a hedged route
// whose first target always answers in time: what a hedged route costs
// a call that needs no hedge (its request to the next target built, the
// timer armed and stopped, a pooled hedge).
func BenchmarkHedgedLoopback(b *testing.B) {
	g := startGateway(b, mock.Options{}, `log:
  access: false
routes:
  - {model: hedged, targets: [mock/mock-model, mock/mock-model+chunks=8], hedge: {after: 10m}}
`)
	body := []byte(strings.Replace(strings.Replace(benchBody, `,"stream":true`, "", 1), "alias-model", "hedged", 1))
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
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 || len(resp.Header.Peek(headerHedged)) > 0 {
				b.Fatalf("%v %d hedged %q", err, resp.StatusCode(), resp.Header.Peek(headerHedged))
			}
		}
	})
}
