package proxy

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
	"switchboard/store"
)

// failoverYAML routes model names over targets that fail in one way each
// (the mock's directives), then a healthy one. "slow" is the mock again
// with a short first-byte timeout.
const failoverYAML = `
routes:
  - {model: after-500, targets: [mock/mock-model+status=500, mock/mock-model]}
  - {model: after-429, targets: [mock/mock-model+status=429+retry_after=30, mock/mock-model]}
  - {model: after-reset, targets: [mock/mock-model+reset=0, mock/mock-model]}
  - {model: after-stall, targets: [mock/mock-model+delay=5s, mock/mock-model]}
  - {model: after-down, targets: [down/down-model, mock/mock-model]}
  - {model: all-5xx, targets: [mock/mock-model+status=502, mock/mock-model+status=503]}
  - {model: all-down, targets: [down/a, down/b]}
  - {model: bad-request, targets: [mock/mock-model+status=400, mock/mock-model]}
  - {model: mid-stream, targets: [mock/mock-model+reset=2, mock/mock-model]}
  - model: pricey
    targets: [mock/dear, mock/cheap]
  - model: budget
    targets: [down/a, down/b, down/c, mock/mock-model]
    retry: {attempts: 2}
billing:
  prices:
    mock/dear: {input: "10", output: "30"}
    mock/cheap: {input: "0.1", output: "0.3"}
`

func TestFailoverBeforeTheFirstByte(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	for _, c := range []struct {
		model, trail string
		calls        int64 // requests the mock gets: every attempt is counted
	}{
		{"after-500", "mock/mock-model+status=500 (500)", 2},
		{"after-429", "mock/mock-model+status=429+retry_after=30 (429)", 2},
		{"after-reset", "mock/mock-model+reset=0 (error)", 2},
		{"after-down", "down/down-model (unreachable)", 1},
	} {
		before := g.Mock.Requests()
		r := g.post(t, "/v1/chat/completions", chat(c.model, ""))
		if n := g.Mock.Requests() - before; n != c.calls {
			t.Errorf("%s: the mock got %d requests, want %d", c.model, n, c.calls)
		}
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", c.model, r.status, r.body)
		}
		if r.header[headerAttempts] != "2" || r.header[headerFallback] != c.trail {
			t.Errorf("%s: attempts %q, fallback %q; want 2 and %q", c.model, r.header[headerAttempts], r.header[headerFallback], c.trail)
		}
		if got := g.Mock.LastRequest().Body; !strings.Contains(string(got), `"model":"mock-model"`) {
			t.Errorf("%s: the last upstream call was %s", c.model, got)
		}
	}
	var sb strings.Builder
	metrics.WritePrometheus(&sb, false)
	if !strings.Contains(sb.String(), `switchboard_upstream_failures_total{provider="down",model="other",reason="unreachable"}`) &&
		!strings.Contains(sb.String(), `switchboard_upstream_failures_total{provider="down",model="down-model",reason="unreachable"}`) {
		t.Errorf("no failure metric for the down target:\n%s", grepLines(sb.String(), "upstream_failures"))
	}
	if !strings.Contains(sb.String(), `switchboard_upstream_attempts_total{provider="mock",model="mock-model"}`) {
		t.Errorf("no attempts counter for mock/mock-model:\n%s", grepLines(sb.String(), "attempts_total"))
	}
	if !strings.Contains(sb.String(), `switchboard_target_breaker_state{provider="mock",model="mock-model"} 0`) {
		t.Errorf("no breaker gauge for mock/mock-model:\n%s", grepLines(sb.String(), "breaker_state"))
	}
}

// TestFailoverOnAStallUsesTheFirstByteTimeout: the mock provider's
// first_byte timeout in the test config is 2s.
func TestFailoverOnAStallUsesTheFirstByteTimeout(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	r := g.post(t, "/v1/chat/completions", chat("after-stall", ""))
	// The stalled target would have answered after 5s: the fallback
	// reason says its first-byte timeout cut it.
	if r.status != 200 || r.header[headerFallback] != "mock/mock-model+delay=5s (timeout-first)" {
		t.Fatalf("status %d, fallback %q: %s", r.status, r.header[headerFallback], r.body)
	}
}

func TestEveryTargetFailing(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	r := g.post(t, "/v1/chat/completions", chat("all-5xx", ""))
	// The last provider answer goes to the client as it was.
	if r.status != 503 || !strings.Contains(r.body, `"error"`) || r.header[headerAttempts] != "2" {
		t.Fatalf("status %d attempts %q: %s", r.status, r.header[headerAttempts], r.body)
	}
	r = g.post(t, "/v1/chat/completions", chat("all-down", ""))
	if r.status != 502 || !strings.Contains(r.body, `"code":"upstream_unreachable"`) || strings.Contains(r.body, "127.0.0.1") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// The attempt budget stops the failover: 2 of 4 targets tried.
	r = g.post(t, "/v1/chat/completions", chat("budget", ""))
	if r.status != 502 || r.header[headerAttempts] != "2" {
		t.Fatalf("status %d attempts %q: %s", r.status, r.header[headerAttempts], r.body)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	r := g.post(t, "/v1/chat/completions", chat("bad-request", ""))
	if r.status != 400 || r.header[headerAttempts] != "1" || g.Mock.Requests() != 1 {
		t.Fatalf("status %d attempts %q upstream calls %d", r.status, r.header[headerAttempts], g.Mock.Requests())
	}
}

func TestMidStreamFailureIsInBandAndNotRetried(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	r := g.post(t, "/v1/chat/completions", chat("mid-stream", `,"stream":true`))
	if r.status != 200 || r.header[headerAttempts] != "1" {
		t.Fatalf("status %d attempts %q", r.status, r.header[headerAttempts])
	}
	if !strings.Contains(r.body, `data: {"error":`) || strings.Contains(r.body, "[DONE]") || g.Mock.Requests() != 1 {
		t.Fatalf("upstream calls %d, stream:\n%s", g.Mock.Requests(), r.body)
	}
}

func TestBreakerSkipsAFailingTarget(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	// Five failures in a row open the breaker of mock/mock-model+status=500;
	// after that the route goes straight to the healthy target.
	for range 5 {
		if r := g.post(t, "/v1/chat/completions", chat("after-500", "")); r.header[headerAttempts] != "2" {
			t.Fatalf("attempts %q before the breaker opened", r.header[headerAttempts])
		}
	}
	before := g.Mock.Requests()
	r := g.post(t, "/v1/chat/completions", chat("after-500", ""))
	if r.status != 200 || r.header[headerAttempts] != "1" || g.Mock.Requests() != before+1 {
		t.Fatalf("status %d attempts %q upstream calls %d", r.status, r.header[headerAttempts], g.Mock.Requests()-before)
	}
}

func TestProviderPreferencesAndFloor(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	r := g.post(t, "/v1/chat/completions", chat("pricey:floor", ""))
	if r.status != 200 || !strings.Contains(string(g.Mock.LastRequest().Body), `"model":"cheap"`) {
		t.Fatalf(":floor: status %d, upstream %s", r.status, g.Mock.LastRequest().Body)
	}
	r = g.post(t, "/v1/chat/completions", chat("pricey", ""))
	if !strings.Contains(string(g.Mock.LastRequest().Body), `"model":"dear"`) {
		t.Fatalf("priority order: upstream %s", g.Mock.LastRequest().Body)
	}
	// The provider object steers routing and never goes upstream.
	for _, extra := range []string{
		`,"provider":{"sort":"price"}`,
		`,"provider":{"sort":"price"},"temperature":1`,
	} {
		r = g.post(t, "/v1/chat/completions", `{"model":"pricey"`+extra+`,"messages":[{"role":"user","content":"hi"}]}`)
		up := string(g.Mock.LastRequest().Body)
		if r.status != 200 || strings.Contains(up, "provider") || !strings.Contains(up, `"model":"cheap"`) {
			t.Fatalf("%s: status %d, upstream %s", extra, r.status, up)
		}
	}
	r = g.post(t, "/v1/chat/completions", chat("pricey", `,"provider":{"only":["nope"]}`))
	if r.status != 400 || !strings.Contains(r.body, "nope") {
		t.Fatalf("unknown provider in only: status %d: %s", r.status, r.body)
	}
	r = g.post(t, "/v1/chat/completions", chat("pricey", `,"provider":{"max_price":{"prompt":0.01}}`))
	if r.status != 400 {
		t.Fatalf("max_price below every target: status %d: %s", r.status, r.body)
	}
}

func TestMemberSpan(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"provider":{"a":1},"model":"m"}`, `{"model":"m"}`},
		{`{"model":"m", "provider" : {"a":1} }`, `{"model":"m" }`},
		{`{"provider":{}}`, `{}`},
		{`{"model":"m","provider":null,"x":1}`, `{"model":"m","x":1}`},
	} {
		body := []byte(c.body)
		var f requestFields
		_, strip, ok, err := extensionField(body, extensionKeys[extProvider], &f.node)
		if err != nil || !ok {
			t.Fatalf("%s: %v", c.body, err)
		}
		if got := string(appendEdited(nil, body, strip)); got != c.want {
			t.Errorf("%s -> %s, want %s", c.body, got, c.want)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRequestFallbackModels(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	for _, field := range []string{"models", "fallback_models"} {
		r := g.post(t, "/v1/chat/completions", chat("all-down", `,"`+field+`":["all-down","mock/mock-model"]`))
		up := string(g.Mock.LastRequest().Body)
		if r.status != 200 || r.header[headerAttempts] != "3" || strings.Contains(up, field) {
			t.Fatalf("%s: status %d attempts %q upstream %s", field, r.status, r.header[headerAttempts], up)
		}
	}
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", `,"models":["no-such-model"]`))
	if r.status != 400 || !strings.Contains(r.body, "no-such-model") {
		t.Fatalf("unknown fallback: status %d: %s", r.status, r.body)
	}
	r = g.post(t, "/v1/chat/completions", chat("mock/mock-model", `,"models":"mock-model"`))
	if r.status != 400 {
		t.Fatalf("models not a list: status %d: %s", r.status, r.body)
	}
}

// TestContextLengthFallsBackToTheRoutesFallback: a provider saying the
// prompt is too long sends the call to the route's fallback model; any
// other 400 is the client's answer.
func TestContextLengthFallsBackToTheRoutesFallback(t *testing.T) {
	m := startMock(t, mock.Options{})
	small := startStatusServer(t, 400, `{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`)
	picky := startStatusServer(t, 400, `{"error":{"message":"temperature must be <= 2","type":"invalid_request_error","param":"temperature","code":null}}`)
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
routes:
  - {model: small, targets: [small/m], fallbacks: [big]}
  - {model: picky, targets: [picky/m], fallbacks: [big]}
  - {model: big, targets: [mock/mock-model]}
providers:
  - {name: mock, base_url: %s/v1, api_key: k}
  - {name: small, base_url: %s, api_key: k}
  - {name: picky, base_url: %s, api_key: k}
`, t.TempDir(), testKey, m.URL(), small, picky))
	r := g.post(t, "/v1/chat/completions", chat("small", ""))
	if r.status != 200 || r.header[headerFallback] != "small/m (context-length)" {
		t.Fatalf("status %d fallback %q: %s", r.status, r.header[headerFallback], r.body)
	}
	r = g.post(t, "/v1/chat/completions", chat("picky", ""))
	if r.status != 400 || !strings.Contains(r.body, "temperature") || r.header[headerAttempts] != "1" {
		t.Fatalf("status %d attempts %q: %s", r.status, r.header[headerAttempts], r.body)
	}
}

// startStatusServer serves every request with status and body on a
// loopback port and returns its URL.
func startStatusServer(t *testing.T, status int, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(status)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(body)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// TestRouteTimeoutsOverrideTheProviders: the route's first-byte timeout
// (300ms) cuts a stall the provider's (2s) would have waited out.
func TestRouteTimeoutsOverrideTheProviders(t *testing.T) {
	g := startGateway(t, mock.Options{}, `
routes:
  - model: quick
    targets: [mock/mock-model+delay=1s, mock/mock-model]
    timeouts: {first_byte: 300ms}
`)
	// Under the provider's 2s timeout the delayed target would have
	// answered: that it timed out is the route's timeout.
	r := g.post(t, "/v1/chat/completions", chat("quick", ""))
	if r.status != 200 || r.header[headerFallback] != "mock/mock-model+delay=1s (timeout-first)" {
		t.Fatalf("status %d fallback %q: %s", r.status, r.header[headerFallback], r.body)
	}
	// The provider's own calls keep its timeout.
	if r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+delay=1s", "")); r.status != 200 {
		t.Fatalf("outside the route: status %d: %s", r.status, r.body)
	}
}

// TestClientGoneStopsTheFailover: once the client hung up, no further
// target is tried.
func TestClientGoneStopsTheFailover(t *testing.T) {
	g := startGateway(t, mock.Options{}, `
routes:
  - model: slow-chain
    targets: [mock/mock-model+delay=1500ms+status=500, mock/mock-model+status=503, mock/mock-model]
`)
	c := g.rawConn(t)
	body := chat("slow-chain", "")
	sendRaw(c, body)
	time.Sleep(200 * time.Millisecond)
	_ = c.Close() // gone while the first target is still thinking
	time.Sleep(2 * time.Second)
	if n := g.Mock.Requests(); n != 1 {
		t.Fatalf("the mock got %d requests: the failover went on without a client", n)
	}
}

// TestTimeBudgetStopsTheFailover: no attempt starts after the route's
// budget; the client gets the last answer.
func TestTimeBudgetStopsTheFailover(t *testing.T) {
	g := startGateway(t, mock.Options{}, `
routes:
  - model: slow-fail
    targets: [mock/mock-model+delay=50ms+status=500, mock/mock-model+delay=1200ms+status=502, mock/mock-model]
    retry: {attempts: 3, budget: 600ms}
`)
	// The first attempt ends at ~50ms, well inside the budget; the second
	// at ~1.25s, well past it (under the provider's 2s first-byte
	// timeout): margins a loaded machine does not eat.
	r := g.post(t, "/v1/chat/completions", chat("slow-fail", ""))
	if r.status != 502 || r.header[headerAttempts] != "2" {
		t.Fatalf("status %d attempts %q: %s", r.status, r.header[headerAttempts], r.body)
	}
}

// TestClientGoneCancelsTheUpstreamCall: a non-streaming call whose client
// hangs up is dropped upstream at once (upstream.Watch), not when the
// provider answers; what the provider had is billed from an estimate.
func TestClientGoneCancelsTheUpstreamCall(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	c := g.rawConn(t)
	body := chat("mock/mock-model+delay=3s", "")
	sendRaw(c, body)
	time.Sleep(300 * time.Millisecond)
	_ = c.Close()
	var entries []store.Entry
	for deadline := time.Now().Add(3 * time.Second); len(entries) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if err := g.srv.store.Flush(); err != nil {
			t.Fatal(err)
		}
		entries, _, _ = g.srv.store.Entries("operator", store.Query{})
	}
	if len(entries) != 1 {
		t.Fatalf("%d ledger entries", len(entries))
	}
	// Dropped when the client left at 300ms, not at 3s.
	if e := entries[0]; e.Status != 499 || e.Settled != store.SettledEstimate || e.InputTokens == 0 ||
		e.OutputTokens != 0 || e.LatencyMicros > 1_000_000 {
		t.Fatalf("entry %+v", e)
	}
}

// TestOverheadLeavesOutProviderWaitsAndBackoff: a failed attempt's wait
// on its provider is upstream time, and the back-off before trying the
// same provider again is reported apart, neither counted as the
// gateway's overhead.
func TestOverheadLeavesOutProviderWaitsAndBackoff(t *testing.T) {
	g := startGateway(t, mock.Options{}, `
routes:
  - {model: slow-500, targets: [mock/mock-model+delay=300ms+status=500, mock/mock-model]}
`)
	r := g.post(t, "/v1/chat/completions", chat("slow-500", ""))
	if r.status != 200 || r.header[headerAttempts] != "2" {
		t.Fatalf("status %d attempts %q: %s", r.status, r.header[headerAttempts], r.body)
	}
	upstream, err := strconv.ParseInt(r.header["x-switchboard-upstream-us"], 10, 64)
	if err != nil {
		t.Fatalf("x-switchboard-upstream-us %q: %v", r.header["x-switchboard-upstream-us"], err)
	}
	overhead, err := strconv.ParseInt(r.header["x-switchboard-overhead-us"], 10, 64)
	if err != nil {
		t.Fatalf("x-switchboard-overhead-us %q: %v", r.header["x-switchboard-overhead-us"], err)
	}
	// The first provider took at least its 300ms delay: all of it is
	// upstream time, whatever else the machine was doing.
	if upstream < 300_000 || overhead < 0 {
		t.Fatalf("upstream %dµs, overhead %dµs: the failed attempt's 300ms wait is not upstream time", upstream, overhead)
	}
	if _, ok := r.header["x-switchboard-retry-wait-ms"]; !ok {
		t.Fatalf("no x-switchboard-retry-wait-ms after a retry on the same provider: %v", r.header)
	}
}
