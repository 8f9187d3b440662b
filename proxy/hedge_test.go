package proxy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"switchboard/bench/mock"
	"switchboard/router"
	"switchboard/telemetry/otlptest"
)

// hedgeGateway is a gateway in front of two mocks: "slow" is the second
// mock, whose answers the tests hold and release; "mock" (OpenAI format),
// "anth" (Anthropic format) and "held" (long timeouts) are the first.
// A target that holds never answers by itself, so who wins a race does
// not depend on timing.
type hedgeGateway struct {
	*gateway
	slow *mock.Server
}

const hold = "+hold=30s+holdafter=0" // silent before the headers until the connection closes

func startHedgeGateway(t *testing.T) *hedgeGateway {
	t.Helper()
	m, m2 := startMock(t, mock.Options{}), startMock(t, mock.Options{})
	long := "timeouts: {connect: 1s, first_byte: 60s, idle: 60s, total: 120s}"
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %[1]s
auth: {keys: [{name: test, key: %[2]s}]}
billing:
  prices:
    slow/mock-model%[5]s: {input: "1", output: "2"}
    slow/mock-model: {input: "1", output: "2"}
    mock/mock-model: {input: "1", output: "2"}
    mock/mock-model+status=503: {input: "1", output: "2"}
    held/mock-model%[5]s: {input: "1", output: "2"}
    anth/claude-mock: {input: "3", output: "15"}
    anth/claude-mock+status=422: {input: "3", output: "15"}
providers:
  - {name: mock, base_url: %[3]s/v1, api_key: sk-upstream-secret, models: [mock-model]}
  - {name: anth, format: anthropic, base_url: %[3]s/v1, api_key: sk-ant-upstream, models: [claude-mock]}
  - {name: held, base_url: %[3]s/v1, api_key: sk-upstream-secret, %[6]s}
  - {name: slow, base_url: %[4]s/v1, api_key: sk-upstream-secret, %[6]s}
routes:
  - {model: hedge-wins, targets: [slow/mock-model%[5]s, mock/mock-model], hedge: {after: 20ms}}
  - {model: hedge-to-anthropic, targets: [slow/mock-model%[5]s, anth/claude-mock], hedge: {after: 20ms}}
  - {model: first-wins, targets: [slow/mock-model%[5]s, held/mock-model%[5]s], hedge: {after: 20ms}}
  - {model: no-need, targets: [mock/mock-model, held/mock-model%[5]s], hedge: {after: 10m}}
  - {model: by-p95, targets: [slow/mock-model%[5]s, mock/mock-model], hedge: {after: p95}}
  - {model: both-fail, targets: [slow/mock-model%[5]s, mock/mock-model+status=503, anth/claude-mock], hedge: {after: 20ms}}
  - {model: hedge-refused, targets: [slow/mock-model%[5]s, anth/claude-mock+status=422, mock/mock-model], hedge: {after: 20ms}}
`, t.TempDir(), testKey, m.URL(), m2.URL(), hold, long))
	return &hedgeGateway{gateway: g, slow: m2}
}

// postAsync posts in the background; the answer comes on the channel.
func (g *hedgeGateway) postAsync(t *testing.T, path, body string, headers ...string) <-chan result {
	ch := make(chan result, 1)
	go func() { ch <- g.post(t, path, body, headers...) }()
	return ch
}

// waitClosed waits until m's hold number i saw its connection close.
func waitClosed(t *testing.T, m *mock.Server, i int) {
	t.Helper()
	waitFor(t, 20*time.Second, func() string {
		if h := m.Holds(); len(h) <= i || h[i].Closed.IsZero() {
			return fmt.Sprintf("hold %d of %d did not see its connection close", i, len(h))
		}
		return ""
	})
}

// hedges reads switchboard_hedges_total for route and result.
func hedges(route, result string) uint64 {
	return metrics.GetOrCreateCounter(`switchboard_hedges_total{route="` + route + `",result="` + result + `"}`).Get()
}

// TestHedgeWinsOverASlowFirstTarget: the first target holds its answer,
// so the hedge to the next target answers first, streamed or not, in the
// client's format or translated (an OpenAI-format target to an Anthropic
// client, an Anthropic-format hedge to an OpenAI client); the first's
// upstream connection is closed, the call billed once for the hedge, and
// the first's estimated prompt recorded as hedge waste.
func TestHedgeWinsOverASlowFirstTarget(t *testing.T) {
	g := startHedgeGateway(t)
	won, wasted := hedges("hedge-wins", "won_hedge"), metrics.GetOrCreateCounter(`switchboard_hedge_waste_tokens_total{route="hedge-wins"}`).Get()
	for n, c := range []struct {
		name, path, body, model, want string
		headers                       []string
	}{
		{"chat", "/v1/chat/completions", chat("hedge-wins", ""), "mock-model", `"chat.completion"`, nil},
		{"chat stream", "/v1/chat/completions", chat("hedge-wins", `,"stream":true`), "mock-model", "data: [DONE]", nil},
		{"messages from chat", "/v1/messages", messagesBody("hedge-wins", ""), "mock-model", `"type":"message"`, anthropicHeaders(testKey)},
		{"messages stream from chat", "/v1/messages", messagesBody("hedge-wins", `,"stream":true`), "mock-model", "event: message_stop", anthropicHeaders(testKey)},
		{"chat to an anthropic hedge", "/v1/chat/completions", chat("hedge-to-anthropic", ""), "claude-mock", `"chat.completion"`, nil},
		{"chat stream to an anthropic hedge", "/v1/chat/completions", chat("hedge-to-anthropic", `,"stream":true`), "claude-mock", "data: [DONE]", nil},
	} {
		before := g.Mock.Requests()
		r := g.post(t, c.path, c.body, c.headers...)
		if r.status != 200 || !strings.Contains(r.body, c.want) {
			t.Fatalf("%s: status %d: %s", c.name, r.status, r.body)
		}
		if r.header[headerHedged] != "1" || r.header[headerAttempts] != "2" || r.header[headerFallback] != "" {
			t.Errorf("%s: hedged %q attempts %q fallback %q", c.name, r.header[headerHedged], r.header[headerAttempts], r.header[headerFallback])
		}
		if got := g.Mock.Requests() - before; got != 1 {
			t.Errorf("%s: the hedge's mock got %d requests", c.name, got)
		}
		waitClosed(t, g.slow, n)
		e := entryOf(t, g.gateway, r)
		if e.UpstreamModel != c.model || e.Attempts != 2 || e.Cost <= 0 || e.InputTokens == 0 {
			t.Errorf("%s: billed %+v", c.name, e)
		}
		if e.HedgeWasteTokens != router.EstimateTokens(len(g.slow.LastRequest().Body)) || e.HedgeWasteCost <= 0 {
			t.Errorf("%s: hedge waste %d tokens %s, want the first's estimated prompt, %d", c.name,
				e.HedgeWasteTokens, e.HedgeWasteCost, router.EstimateTokens(len(g.slow.LastRequest().Body)))
		}
	}
	waitFor(t, 20*time.Second, noCallsLeft)
	if n := hedges("hedge-wins", "won_hedge") - won; n != 4 {
		t.Errorf("%d hedges won counted, want 4", n)
	}
	if metrics.GetOrCreateCounter(`switchboard_hedge_waste_tokens_total{route="hedge-wins"}`).Get() == wasted {
		t.Error("no hedge waste counted")
	}
}

// TestHedgeLosesToTheFirstTarget: both targets hold; the test releases
// the first's answer once the hedge is waiting, so the first wins and the
// hedge's connection is closed, its prompt recorded as waste.
func TestHedgeLosesToTheFirstTarget(t *testing.T) {
	g := startHedgeGateway(t)
	won := hedges("first-wins", "won_first")
	for n, stream := range []string{"", `,"stream":true`} {
		ch := g.postAsync(t, "/v1/chat/completions", chat("first-wins", stream))
		waitHold(t, g.slow, 1)
		waitHold(t, g.Mock, 1) // the hedge is sent
		g.slow.ReleaseHolds()
		r := <-ch
		if r.status != 200 || r.header[headerHedged] != "1" || r.header[headerAttempts] != "2" || r.header[headerProvider] != "slow" {
			t.Fatalf("stream %q: status %d hedged %q attempts %q provider %q: %s", stream, r.status,
				r.header[headerHedged], r.header[headerAttempts], r.header[headerProvider], r.body)
		}
		waitClosed(t, g.Mock, n)
		e := entryOf(t, g.gateway, r)
		if e.Provider != "slow" || e.Attempts != 2 || e.HedgeWasteTokens == 0 || e.HedgeWasteCost <= 0 {
			t.Errorf("stream %q: entry %+v", stream, e)
		}
	}
	waitFor(t, 20*time.Second, noCallsLeft)
	if n := hedges("first-wins", "won_first") - won; n != 2 {
		t.Errorf("%d hedges lost counted, want 2", n)
	}
}

// TestNoHedgeForAFastFirstTarget: a first target that answers before
// the hedge's delay is the only call made.
func TestNoHedgeForAFastFirstTarget(t *testing.T) {
	g := startHedgeGateway(t)
	for _, stream := range []string{"", `,"stream":true`} {
		before := g.Mock.Requests()
		r := g.post(t, "/v1/chat/completions", chat("no-need", stream))
		if r.status != 200 || r.header[headerHedged] != "" || r.header[headerAttempts] != "1" || g.Mock.Requests()-before != 1 {
			t.Fatalf("stream %q: status %d hedged %q attempts %q: %s", stream, r.status, r.header[headerHedged], r.header[headerAttempts], r.body)
		}
		if e := entryOf(t, g.gateway, r); e.HedgeWasteTokens != 0 {
			t.Errorf("stream %q: hedge waste %d", stream, e.HedgeWasteTokens)
		}
	}
}

// TestHedgeAtP95NeedsSamples: with after: p95, a target with fewer than
// 20 observed times to first byte is not hedged; with 20 it is.
func TestHedgeAtP95NeedsSamples(t *testing.T) {
	g := startHedgeGateway(t)
	var first *router.Health
	for _, tg := range g.srv.Router().Tracked() {
		if tg.Provider.Name == "slow" && tg.Model == "mock-model"+hold {
			first = tg.Health
		}
	}
	if first == nil {
		t.Fatal("the slow target is not tracked")
	}
	for range minHedgeSamples - 2 {
		first.ObserveFirstByte(false, time.Millisecond)
	}
	// 18 samples: no hedge; the call's own is the 19th.
	for k := 0; k < 2; k++ {
		before := g.Mock.Requests()
		ch := g.postAsync(t, "/v1/chat/completions", chat("by-p95", ""))
		waitHold(t, g.slow, 1)
		g.slow.ReleaseHolds()
		r := <-ch
		if r.status != 200 || r.header[headerHedged] != "" || g.Mock.Requests() != before {
			t.Fatalf("call %d with %d samples: status %d hedged %q: %s", k, minHedgeSamples-2+k, r.status, r.header[headerHedged], r.body)
		}
	}
	// 20 samples of a few ms at most: the next call is hedged.
	r := g.post(t, "/v1/chat/completions", chat("by-p95", ""))
	if r.status != 200 || r.header[headerHedged] != "1" || r.header[headerProvider] != "mock" {
		t.Fatalf("with %d samples: status %d hedged %q provider %q: %s", minHedgeSamples, r.status, r.header[headerHedged], r.header[headerProvider], r.body)
	}
	if _, ok := first.FirstByteQuantile(true, 0.95, 1); ok {
		t.Error("buffered calls counted as streamed ones")
	}
}

// TestHedgeBothFailing: when the first target and the hedge both fail,
// the call fails over to the target after the hedge, as without hedging.
func TestHedgeBothFailing(t *testing.T) {
	g := startHedgeGateway(t)
	failed, before := hedges("both-fail", "failed"), g.Mock.Requests()
	ch := g.postAsync(t, "/v1/chat/completions", chat("both-fail", ""))
	waitHold(t, g.slow, 1)
	// Once the hedge (a 503) is sent, the test breaks the first's
	// connection: the mock closes it with the hold.
	waitFor(t, 20*time.Second, func() string {
		if g.Mock.Requests() == before {
			return "the hedge was not sent"
		}
		return ""
	})
	_ = g.slow.Close()
	r := <-ch
	if r.status != 200 || r.header[headerProvider] != "anth" || r.header[headerAttempts] != "3" || r.header[headerHedged] != "1" {
		t.Fatalf("status %d provider %q attempts %q hedged %q fallback %q: %s", r.status, r.header[headerProvider],
			r.header[headerAttempts], r.header[headerHedged], r.header[headerFallback], r.body)
	}
	if want := "slow/mock-model" + hold + " (error), mock/mock-model+status=503 (503)"; r.header[headerFallback] != want {
		t.Errorf("fallback %q, want %q", r.header[headerFallback], want)
	}
	if e := entryOf(t, g.gateway, r); e.Provider != "anth" || e.Attempts != 3 || e.HedgeWasteTokens != 0 {
		t.Errorf("entry %+v", e)
	}
	if n := hedges("both-fail", "failed") - failed; n != 1 {
		t.Errorf("%d failed hedges counted, want 1", n)
	}
}

// TestHedgeRefusedAfterTheFirstFailed: the first attempt breaks and the
// hedge, of another format, gets a final refusal: the client gets that
// refusal, translated from the hedge's own answer, not the first's.
func TestHedgeRefusedAfterTheFirstFailed(t *testing.T) {
	g := startHedgeGateway(t)
	before := g.Mock.Requests()
	ch := g.postAsync(t, "/v1/chat/completions", chat("hedge-refused", ""))
	waitHold(t, g.slow, 1)
	waitFor(t, 20*time.Second, func() string {
		if g.Mock.Requests() == before {
			return "the hedge was not sent"
		}
		return ""
	})
	_ = g.slow.Close()
	r := <-ch
	if r.status != 422 || r.header[headerProvider] != "anth" || r.header[headerHedged] != "1" {
		t.Fatalf("status %d provider %q hedged %q: %s", r.status, r.header[headerProvider], r.header[headerHedged], r.body)
	}
	if !strings.Contains(r.body, `"error":{`) || !strings.Contains(r.body, "mock: injected status 422") || strings.Contains(r.body, `"type":"error"`) {
		t.Errorf("the refusal is not the hedge's answer in OpenAI's error shape: %s", r.body)
	}
}

// TestHedgeAttemptsHaveSpansOfTheirOwn: a hedged call's trace has a
// client span per attempt, both children of the call's: the cancelled
// first marked switchboard.hedge_lost, the hedge that answered marked
// switchboard.hedge with the answer's attributes.
func TestHedgeAttemptsHaveSpansOfTheirOwn(t *testing.T) {
	rcv, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rcv.Close)
	g := startGateway(t, mock.Options{}, `
routes:
  - {model: hedged, targets: [mock/mock-model`+hold+`, mock/mock-model], hedge: {after: 20ms}}
telemetry:
  otlp_endpoint: `+rcv.URL+`
  metrics_interval: 1h
`)
	r := g.post(t, "/v1/chat/completions", chat("hedged", ""))
	if r.status != 200 || r.header[headerHedged] != "1" {
		t.Fatalf("status %d hedged %q: %s", r.status, r.header[headerHedged], r.body)
	}
	spans, err := rcv.WaitSpans(3, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	server, client := byKind(spans)
	if len(server) != 1 || len(client) != 2 {
		t.Fatalf("got %d server and %d client spans, want 1 and 2", len(server), len(client))
	}
	first, second := client[0], client[1]
	if a, _ := attr(first, "switchboard.attempt"); a != "1" {
		first, second = second, first
	}
	for _, s := range client {
		if string(s.ParentSpanId) != string(server[0].SpanId) {
			t.Errorf("span %q is not the call span's child", s.Name)
		}
	}
	wantAttrs(t, first, "switchboard.attempt", "1", "switchboard.hedge_lost", "true")
	wantAttrs(t, second, "switchboard.attempt", "2", "switchboard.hedge", "true", "gen_ai.response.model", "mock-model",
		"http.response.status_code", "200")
	if _, lost := attr(second, "switchboard.hedge_lost"); lost {
		t.Error("the winning hedge is marked lost")
	}
	wantAttrs(t, server[0], "switchboard.attempts", "2")
}

// TestClientLeavingEndsBothAttempts: a client that hangs up while both
// attempts of a hedged call wait ends both, and each provider sees its
// connection closed.
func TestClientLeavingEndsBothAttempts(t *testing.T) {
	g := startHedgeGateway(t)
	for n, stream := range []string{"", `,"stream":true`} {
		c := g.rawConn(t)
		sendRaw(c, chat("first-wins", stream))
		waitHold(t, g.slow, 1)
		waitHold(t, g.Mock, 1)
		_ = c.Close()
		waitClosed(t, g.slow, n)
		waitClosed(t, g.Mock, n)
	}
	waitFor(t, 20*time.Second, noCallsLeft)
}
