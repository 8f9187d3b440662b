package telemetry

import (
	"context"
	"io"
	"log"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/telemetry/otlptest"
)

// BenchmarkTracedCall measures what a sampled call costs its request path:
// the server span, one attempt span with its upstream traceparent, the
// end with every attribute and the GenAI metrics. Export runs on the
// queue's goroutine, to a loopback receiver; its CPU time is counted too.
func BenchmarkTracedCall(b *testing.B) {
	rcv, err := otlptest.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer rcv.Close()
	ratio := 1.0
	cfg := configs.Telemetry{OTLPEndpoint: rcv.URL, ServiceName: "bench", SampleRatio: &ratio, QueueSize: 1 << 16,
		ExportTimeout: configs.Duration(10 * time.Second), MetricsInterval: configs.Duration(time.Hour)}
	tel, err := New(cfg, log.New(io.Discard, "", 0))
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	var in fasthttp.RequestHeader
	in.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	var out fasthttp.Request
	r := Result{RequestModel: "gpt-4o", ResponseModel: "gpt-4o-2024-08-06", Provider: "openai", InputTokens: 1200, OutputTokens: 300,
		Cost: 6000000, Costed: true, Stream: true, Attempts: 1, Status: 200, RequestID: []byte("req_0123456789abcdef")}
	var c Call
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		tel.Start(&c, &in, "chat", now)
		c.StartAttempt(&out, "openai", "gpt-4o-2024-08-06", 1)
		res := r
		c.End(&res, now)
	}
}
