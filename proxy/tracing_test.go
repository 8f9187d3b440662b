package proxy

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"switchboard/bench/mock"
	"switchboard/telemetry/otlptest"
)

// tracedYAML routes a model over a failing target and a good one, and
// prices the mock's model so that calls have a cost.
const tracedYAML = `
routes:
  - {model: after-500, targets: [mock/mock-model+status=500, mock/mock-model]}
billing:
  prices:
    mock/mock-model: {input: "1", output: "2"}
`

// startTracedGateway starts an OTLP receiver and a gateway exporting to
// it with the telemetry settings in tel (YAML under telemetry:).
func startTracedGateway(t *testing.T, tel string) (*gateway, *otlptest.Receiver) {
	t.Helper()
	rcv, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rcv.Close)
	g := startGateway(t, mock.Options{}, tracedYAML+"telemetry:\n  otlp_endpoint: "+rcv.URL+"\n  metrics_interval: 1h\n"+tel)
	return g, rcv
}

// flushTelemetry exports what the gateway's telemetry holds, spans and
// metrics, as its shutdown does.
func flushTelemetry(t *testing.T, g *gateway) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.srv.tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// attr returns a span attribute's value as text, and whether it is set.
func attr(s *tracepb.Span, key string) (string, bool) {
	return attrIn(s.Attributes, key)
}

func attrIn(kvs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue, true
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10), true
		case *commonpb.AnyValue_BoolValue:
			return strconv.FormatBool(v.BoolValue), true
		}
		return kv.Value.String(), true
	}
	return "", false
}

// wantAttrs checks a span's attributes: key, want, key, want, ...; a want
// of "*" asks only that the attribute is set.
func wantAttrs(t *testing.T, s *tracepb.Span, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		got, ok := attr(s, kv[i])
		if !ok || kv[i+1] != "*" && got != kv[i+1] {
			t.Errorf("span %q: %s = %q (set %v), want %q", s.Name, kv[i], got, ok, kv[i+1])
		}
	}
}

// byKind splits spans into the server spans and the client spans.
func byKind(spans []*tracepb.Span) (server, client []*tracepb.Span) {
	for _, s := range spans {
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = append(server, s)
		case tracepb.Span_SPAN_KIND_CLIENT:
			client = append(client, s)
		}
	}
	return server, client
}

// traceparent formats a W3C traceparent of a span.
func traceparent(traceID, spanID []byte, flags string) string {
	return "00-" + hex.EncodeToString(traceID) + "-" + hex.EncodeToString(spanID) + "-" + flags
}

func TestTraceOfACallContinuesTheClientsTrace(t *testing.T) {
	g, rcv := startTracedGateway(t, "")
	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := g.post(t, "/v1/chat/completions", chat("mock-model", ""), "traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var answer struct {
		Usage struct {
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(r.body), &answer); err != nil {
		t.Fatal(err)
	}
	spans, err := rcv.WaitSpans(2, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	server, client := byKind(spans)
	if len(server) != 1 || len(client) != 1 {
		t.Fatalf("got %d server and %d client spans, want 1 and 1", len(server), len(client))
	}
	call, attempt := server[0], client[0]
	if got := hex.EncodeToString(call.TraceId); got != clientTrace || hex.EncodeToString(call.ParentSpanId) != clientSpan {
		t.Errorf("call span in trace %s under %x, want the client's %s under %s", got, call.ParentSpanId, clientTrace, clientSpan)
	}
	if string(attempt.TraceId) != string(call.TraceId) || string(attempt.ParentSpanId) != string(call.SpanId) {
		t.Errorf("attempt span is not the call span's child: parent %x, call %x", attempt.ParentSpanId, call.SpanId)
	}
	if call.Name != "chat mock-model" || attempt.Name != "chat mock-model" {
		t.Errorf("span names %q and %q, want \"chat mock-model\"", call.Name, attempt.Name)
	}
	in, out := strconv.FormatInt(answer.Usage.PromptTokens, 10), strconv.FormatInt(answer.Usage.CompletionTokens, 10)
	// input x $1/M + output x $2/M, in exact decimal dollars.
	cost := fmt.Sprintf("0.%09d", answer.Usage.PromptTokens*1000+answer.Usage.CompletionTokens*2000)
	wantAttrs(t, call,
		"gen_ai.operation.name", "chat",
		"gen_ai.request.model", "mock-model",
		"gen_ai.response.model", "mock-model",
		"gen_ai.provider.name", "mock",
		"gen_ai.usage.input_tokens", in,
		"gen_ai.usage.output_tokens", out,
		"switchboard.cost_usd", cost,
		"switchboard.cache_hit", "false",
		"switchboard.attempts", "1",
		"switchboard.request_id", r.header["x-request-id"],
		"http.response.status_code", "200")
	wantAttrs(t, attempt,
		"gen_ai.request.model", "mock-model",
		"gen_ai.response.model", "mock-model",
		"gen_ai.provider.name", "mock",
		"gen_ai.usage.input_tokens", in,
		"switchboard.attempt", "1")
	if _, ok := attr(call, "switchboard.fallback_reason"); ok {
		t.Errorf("a call without failover has a fallback reason")
	}
	// The provider got the attempt's traceparent: its spans join the trace.
	if got, want := g.Mock.LastRequest().Headers["traceparent"], traceparent(call.TraceId, attempt.SpanId, "01"); got != want {
		t.Errorf("upstream traceparent %q, want %q", got, want)
	}

	flushTelemetry(t, g)
	wantHistogram(t, rcv.Metrics(), "gen_ai.client.operation.duration", 1, "gen_ai.provider.name", "mock", "gen_ai.request.model", "mock-model", "gen_ai.operation.name", "chat")
	wantHistogram(t, rcv.Metrics(), "gen_ai.client.token.usage", 2, "gen_ai.response.model", "mock-model")
}

// wantHistogram checks that metrics hold histogram name with count
// points in all, each with the attributes kv (key, value, ...).
func wantHistogram(t *testing.T, ms []*metricpb.Metric, name string, count uint64, kv ...string) {
	t.Helper()
	var n uint64
	for _, m := range ms {
		if m.Name != name {
			continue
		}
		for _, p := range m.GetHistogram().GetDataPoints() {
			n += p.Count
			for i := 0; i+1 < len(kv); i += 2 {
				if got, _ := attrIn(p.Attributes, kv[i]); got != kv[i+1] {
					t.Errorf("%s: %s = %q, want %q", name, kv[i], got, kv[i+1])
				}
			}
		}
	}
	if n != count {
		t.Errorf("%s: %d recorded, want %d", name, n, count)
	}
}

func TestTraceOfAFailoverHasASpanPerAttempt(t *testing.T) {
	g, rcv := startTracedGateway(t, "")
	r := g.post(t, "/v1/chat/completions", chat("after-500", ""))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	spans, err := rcv.WaitSpans(3, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	server, client := byKind(spans)
	if len(server) != 1 || len(client) != 2 {
		t.Fatalf("got %d server and %d client spans, want 1 and 2", len(server), len(client))
	}
	call := server[0]
	first, second := client[0], client[1]
	if n, _ := attr(first, "switchboard.attempt"); n == "2" {
		first, second = second, first
	}
	for _, a := range client {
		if string(a.ParentSpanId) != string(call.SpanId) {
			t.Errorf("attempt %q is not the call span's child", a.Name)
		}
	}
	wantAttrs(t, first,
		"switchboard.attempt", "1",
		"gen_ai.request.model", "mock-model+status=500",
		"switchboard.fallback_reason", "500",
		"error.type", "500",
		"http.response.status_code", "500")
	if first.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("the failed attempt's status is %v, want an error", first.Status)
	}
	wantAttrs(t, second, "switchboard.attempt", "2", "gen_ai.request.model", "mock-model", "http.response.status_code", "200")
	if _, ok := attr(second, "switchboard.fallback_reason"); ok || second.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("the attempt that answered has a fallback reason or an error: %v", second.Status)
	}
	wantAttrs(t, call,
		"switchboard.attempts", "2",
		"switchboard.fallback_reason", r.header[headerFallback],
		"gen_ai.request.model", "after-500",
		"gen_ai.response.model", "mock-model")
	if got, want := g.Mock.LastRequest().Headers["traceparent"], traceparent(call.TraceId, second.SpanId, "01"); got != want {
		t.Errorf("the second attempt's upstream traceparent %q, want %q", got, want)
	}
}

func TestTraceSampleRatioZeroExportsNoSpan(t *testing.T) {
	g, rcv := startTracedGateway(t, "  sample_ratio: 0\n")
	for range 3 {
		if r := g.post(t, "/v1/chat/completions", chat("mock-model", "")); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	// Unsampled, the trace still reaches the provider, flagged so.
	if tp := g.Mock.LastRequest().Headers["traceparent"]; !strings.HasPrefix(tp, "00-") || !strings.HasSuffix(tp, "-00") {
		t.Errorf("upstream traceparent %q, want an unsampled one", tp)
	}
	flushTelemetry(t, g)
	if spans := rcv.Spans(); len(spans) != 0 {
		t.Errorf("sample_ratio 0 exported %d spans", len(spans))
	}
	// The metrics count every call, sampled or not.
	wantHistogram(t, rcv.Metrics(), "gen_ai.client.operation.duration", 3)
}

func TestStalledCollectorDropsSpansAndBlocksNoCall(t *testing.T) {
	g, rcv := startTracedGateway(t, "  queue_size: 2\n  export_timeout: 1m\n")
	rcv.Stall()
	defer rcv.Release()
	if r := g.post(t, "/v1/chat/completions", chat("mock-model", "")); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// The queue's exporter sends the first call's spans and is held: the
	// queue now fills with the next calls' spans and drops the rest.
	if err := rcv.WaitHeld(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	dropped := func() string {
		var sb strings.Builder
		metrics.WritePrometheus(&sb, false)
		return grepLines(sb.String(), "switchboard_trace_spans_dropped_total")
	}
	before := droppedSpans(t, dropped())
	const calls = 20
	for range calls {
		if r := g.post(t, "/v1/chat/completions", chat("mock-model", "")); r.status != 200 {
			t.Fatalf("a call with the collector stalled: status %d: %s", r.status, r.body)
		}
	}
	// Two spans a call; two fit the queue.
	if got := droppedSpans(t, dropped()) - before; got != 2*calls-2 {
		t.Errorf("%d spans dropped, want %d", got, 2*calls-2)
	}
	rcv.Release()
	flushTelemetry(t, g)
	if n := len(rcv.Spans()); n != 4 {
		t.Errorf("the collector got %d spans once released, want the first call's 2 and the 2 queued", n)
	}
}

// droppedSpans reads the counter's value from its /metrics line.
func droppedSpans(t *testing.T, line string) int {
	t.Helper()
	_, v, ok := strings.Cut(strings.TrimSpace(line), " ")
	n, err := strconv.Atoi(v)
	if !ok || err != nil {
		t.Fatalf("cannot read switchboard_trace_spans_dropped_total from %q", line)
	}
	return n
}
