package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
	"switchboard/configs"
)

func TestGatewayConfigHasTheChaosRoute(t *testing.T) {
	cfg, err := configs.Load([]byte(gatewayConfig("127.0.0.1:1", t.TempDir(), "http://127.0.0.1:2", "", true)), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var route *configs.Route
	for i := range cfg.Routes {
		if cfg.Routes[i].Model == chaosModel {
			route = &cfg.Routes[i]
		}
	}
	if route == nil {
		t.Fatalf("no %q route in %+v", chaosModel, cfg.Routes)
	}
	var targets []string
	for _, rt := range route.Targets {
		targets = append(targets, rt.Target)
	}
	want := "flaky1/mock-model+" + chaosFaults + ",flaky2/mock-model+" + chaosFaults + ",good1/mock-model,good2/mock-model"
	if got := strings.Join(targets, ","); got != want {
		t.Fatalf("chaos targets %s, want %s", got, want)
	}
	if route.Retry.Attempts != chaosAttempts || route.Retry.Budget.D() != chaosBudget {
		t.Fatalf("chaos retry %+v", route.Retry)
	}
	firstByte := map[string]time.Duration{}
	for _, p := range cfg.Providers {
		if p.BaseURL != "http://127.0.0.1:2/v1" {
			t.Errorf("provider %s at %s, want the mock", p.Name, p.BaseURL)
		}
		firstByte[p.Name] = p.Timeouts.FirstByte.D()
	}
	for _, p := range chaosProviders {
		fb, ok := firstByte[p.name]
		if !ok {
			t.Fatalf("no provider %s", p.name)
		}
		if p.flaky != (fb == chaosFirstByte) {
			t.Errorf("provider %s: first-byte timeout %s", p.name, fb)
		}
	}
	// The chaos targets are priced like the plain model, so that billing
	// does the same work for both.
	for _, target := range append(chaosTargets(), "mock/"+mockModel) {
		if _, ok := cfg.Billing.Prices[target]; !ok {
			t.Errorf("no price for %s", target)
		}
	}
}

func TestParseFallback(t *testing.T) {
	got := parseFallback([]byte("flaky1/mock-model+fail=0.2+stall=5s (500), flaky2/mock-model+resetp=0.05 (timeout-first), good1/x (error), bad"))
	want := []failedAttempt{{"flaky1", "500"}, {"flaky2", "timeout-first"}, {"good1", "error"}, {"bad", "unparsed"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parseFallback = %v, want %v", got, want)
	}
	if got := parseFallback(nil); got != nil {
		t.Fatalf("no header: %v", got)
	}
}

func TestSummarizeChaos(t *testing.T) {
	plain, chaos := newChaosLog(), newChaosLog()
	for i := range 100 {
		plain.add(chaosSample{at: time.Duration(i) * 30 * time.Millisecond, took: 200 * time.Microsecond, attempts: 1}, []byte("mock"), nil)
	}
	// Second 1: 10 calls, half of them failed over, one of those with a
	// 300 ms stall; second 2: 10 calls, none; second 3: 4 calls, one
	// failed outright.
	for i := range 10 {
		s := chaosSample{at: time.Duration(i) * 90 * time.Millisecond, took: 250 * time.Microsecond, attempts: 1}
		provider, fallback := "flaky1", ""
		if i%2 == 0 {
			s.attempts, provider, fallback = 2, "flaky2", "flaky1/m (500)"
		}
		if i == 4 {
			s.attempts, s.took, provider, fallback = 3, 301*time.Millisecond, "good1", "flaky1/m (timeout-first), flaky2/m (error)"
		}
		chaos.add(s, []byte(provider), []byte(fallback))
	}
	for i := range 10 {
		chaos.add(chaosSample{at: time.Second + time.Duration(i)*90*time.Millisecond, took: 240 * time.Microsecond, attempts: 1}, []byte("good1"), nil)
	}
	for i := range 4 {
		s := chaosSample{at: 2*time.Second + time.Duration(i)*100*time.Millisecond, took: 260 * time.Microsecond, attempts: 1}
		if i == 3 {
			s.failed, s.attempts = true, 4
		}
		chaos.add(s, []byte("good1"), nil)
	}
	rows := []Row{
		{Target: targetGateway, Requests: 100, Latency: Percentiles{P50: 200, P90: 210, P99: 230, P999: 240}},
		{Target: targetChaos, Requests: 23, Errors: 1, Latency: Percentiles{P50: 250, P90: 300, P99: 301000, P999: 301000}},
	}
	c := summarizeChaos(rows, []*chaosLog{plain, chaos}, []time.Duration{3 * time.Second, 2500 * time.Millisecond})

	if c.Calls != 24 || c.Successes != 23 || c.SuccessRate < 95.8 || c.SuccessRate > 95.9 {
		t.Fatalf("calls %d, successes %d, rate %.2f", c.Calls, c.Successes, c.SuccessRate)
	}
	if c.Added != (Percentiles{P50: 50, P90: 90, P99: 300770, P999: 300760}) {
		t.Fatalf("added %+v", c.Added)
	}
	// Attempts: four calls of 2, one of 3, one of 4, 18 of 1: 33 in 24
	// calls.
	if c.PlainMeanAttempts != 1 || c.MaxAttempts != 4 || c.Retried != 6 || c.MeanAttempts != 1.375 {
		t.Fatalf("attempts: plain %.3f, mean %.3f, max %d, retried %d", c.PlainMeanAttempts, c.MeanAttempts, c.MaxAttempts, c.Retried)
	}
	// The first second: 5 of 10 failed over; the last (from 1.5 s on):
	// calls at 1.5-1.8 s and 2.0-2.3 s, one of 8 with more than one
	// attempt.
	if c.FirstSecondRetried != 50 || c.LastSecondRetried != 12.5 {
		t.Fatalf("first second %.1f%%, last %.1f%%", c.FirstSecondRetried, c.LastSecondRetried)
	}
	if len(c.Timeline) != 3 {
		t.Fatalf("timeline %+v", c.Timeline)
	}
	if s := c.Timeline[0]; s.Second != 1 || s.Calls != 10 || s.Retried != 5 || s.RetriedPct != 50 || s.P99 != 301000 || s.Failed != 0 {
		t.Fatalf("second 1: %+v", s)
	}
	if s := c.Timeline[2]; s.Calls != 4 || s.Failed != 1 || s.P99 != 260 {
		t.Fatalf("second 3: %+v", s)
	}
	if c.Fallbacks["500"] != 4 || c.Fallbacks["timeout-first"] != 1 || c.Fallbacks["error"] != 1 || len(c.Fallbacks) != 3 {
		t.Fatalf("fallbacks %v", c.Fallbacks)
	}
	if c.Answered["flaky1"] != 5 || c.Answered["flaky2"] != 4 || c.Answered["good1"] != 14 {
		t.Fatalf("answered %v", c.Answered)
	}
	// On the flaky targets: 6 failures (5 at flaky1, 1 at flaky2) and 9
	// answers.
	if c.FlakyAttempts != 15 {
		t.Fatalf("flaky attempts %d, want 15", c.FlakyAttempts)
	}
}

func TestTimelineP99IsTheNearestRank(t *testing.T) {
	var samples []chaosSample
	for i := range 200 {
		samples = append(samples, chaosSample{at: time.Millisecond, took: time.Duration(i+1) * time.Microsecond})
	}
	// The 198th of 200 is the 99th percentile.
	if tl := timeline(samples); len(tl) != 1 || tl[0].P99 != 198 {
		t.Fatalf("timeline %+v", tl)
	}
	if tl := timeline(samples[:1]); tl[0].P99 != 1 {
		t.Fatalf("one sample: %+v", tl)
	}
	if tl := timeline(nil); tl != nil {
		t.Fatalf("no samples: %+v", tl)
	}
}

// fakeGateway answers chat completions with the mock's content and the
// gateway's failover headers: model "chaos" fails over on every third
// call and fails on every fiftieth; anything else answers at once.
type fakeGateway struct {
	calls, retried, failed atomic.Int64
}

func (g *fakeGateway) handle(ctx *fasthttp.RequestCtx) {
	var body struct {
		Model string `json:"model"`
	}
	_ = sonic.Unmarshal(ctx.Request.Body(), &body)
	h := &ctx.Response.Header
	if body.Model != chaosModel {
		h.Set(headerProvider, "mock")
		h.Set(headerAttempts, "1")
		ctx.SetBodyString(`{"choices":[{"message":{"content":"chunk 0 "}}]}`)
		return
	}
	n := g.calls.Add(1)
	switch {
	case n%50 == 0:
		g.failed.Add(1)
		h.Set(headerAttempts, "4")
		h.Set(headerFallback, "flaky1/m (500), flaky2/m (error), good1/m (500), good2/m (500)")
		ctx.SetStatusCode(fasthttp.StatusBadGateway)
		ctx.SetBodyString(`{"error":{"message":"all down"}}`)
		return
	case n%3 == 0:
		g.retried.Add(1)
		h.Set(headerProvider, "flaky2")
		h.Set(headerAttempts, "2")
		h.Set(headerFallback, "flaky1/m (timeout-first)")
	default:
		h.Set(headerProvider, "flaky1")
		h.Set(headerAttempts, "1")
	}
	ctx.SetBodyString(`{"choices":[{"message":{"content":"chunk 0 "}}]}`)
}

func TestChaosScenarioWiring(t *testing.T) {
	g := new(fakeGateway)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = fasthttp.Serve(ln, g.handle) }()
	t.Cleanup(func() { _ = ln.Close() })
	o := &options{timeout: 5 * time.Second, chaosDur: 200 * time.Millisecond, chaosWindow: 20 * time.Millisecond, chaosWorkers: 4, chaosMaxRequests: 1000, chaosSeed: 9}
	gw, err := newTarget(targetGateway, "http://"+ln.Addr().String(), gatewayKey, mockModel, nil, o.chaosWorkers, o.timeout)
	if err != nil {
		t.Fatal(err)
	}
	var draws atomic.Int64
	injected := func() mock.Injected {
		// Called once before and once after the windows.
		d := draws.Add(1) * 100
		return mock.Injected{Draws: d, Fails: d / 5, Resets: d / 20, Stalls: d / 20}
	}
	s := runChaos(context.Background(), gw, o, injected)

	if s.Kind != kindChaos || s.Name != "chaos c=4" || len(s.Rows) != 2 || s.Rows[0].Target != targetGateway || s.Rows[1].Target != targetChaos {
		t.Fatalf("scenario %+v", s)
	}
	// 5 rounds of a 20 ms window per target, at most 200 calls a window.
	if !strings.Contains(s.Method, "5 rounds of one 20ms window per target, at most 200 calls per window") {
		t.Fatalf("method %q", s.Method)
	}
	plain, chaos, c := s.Rows[0], s.Rows[1], s.Chaos
	if plain.Errors != 0 || plain.Requests == 0 || plain.Requests > 1000 {
		t.Fatalf("plain row %+v", plain)
	}
	if c.Calls != g.calls.Load() || c.Calls != chaos.Requests+chaos.Errors || c.Calls > 1000 {
		t.Fatalf("chaos calls %d, the fake served %d, row %+v", c.Calls, g.calls.Load(), chaos)
	}
	if c.Successes != c.Calls-g.failed.Load() || chaos.Errors != g.failed.Load() || c.Retried != g.retried.Load()+g.failed.Load() {
		t.Fatalf("successes %d, retried %d; the fake failed %d and failed over %d", c.Successes, c.Retried, g.failed.Load(), g.retried.Load())
	}
	if g.failed.Load() > 0 && !strings.Contains(chaos.FirstError, "status 502") ||
		g.failed.Load() > 0 && !strings.Contains(chaos.FirstError, `attempts 4, fallback "flaky1/m (500), flaky2/m (error)`) {
		t.Fatalf("first error %q", chaos.FirstError)
	}
	if c.PlainMeanAttempts != 1 || c.MeanAttempts <= 1 || c.Fallbacks["timeout-first"] != g.retried.Load() || c.Fallbacks["500"] != 3*g.failed.Load() {
		t.Fatalf("attempts %.3f / %.3f, fallbacks %v", c.PlainMeanAttempts, c.MeanAttempts, c.Fallbacks)
	}
	if c.Answered["flaky1"]+c.Answered["flaky2"] != c.Successes || c.FlakyAttempts != c.Successes+g.retried.Load()+2*g.failed.Load() {
		t.Fatalf("answered %v, flaky attempts %d", c.Answered, c.FlakyAttempts)
	}
	if c.Injected != (mock.Injected{Draws: 100, Fails: 20, Resets: 5, Stalls: 5}) || c.Uncounted != 100-c.FlakyAttempts {
		t.Fatalf("injected %+v, uncounted %d", c.Injected, c.Uncounted)
	}
	if c.Seed != 9 || c.Concurrency != 4 || c.FirstByteMS != 300 || len(c.Route) != 4 || c.Faults != chaosFaults {
		t.Fatalf("set-up %+v", c)
	}
	var timed int64
	for _, sec := range c.Timeline {
		timed += sec.Calls
	}
	if timed != c.Calls || len(c.Timeline) != 1 {
		t.Fatalf("timeline %+v for %d calls", c.Timeline, c.Calls)
	}
}

func sampleChaosScenario(failed int64) Scenario {
	cpu := 150.0
	return Scenario{Name: "chaos c=4", Kind: kindChaos, Method: "m", Rows: []Row{
		{Target: targetGateway, Requests: 4000, RPS: 5000, Latency: Percentiles{P50: 450, P90: 1400, P99: 4600, P999: 12000}, CPUPerRequest: &cpu},
		{Target: targetChaos, Requests: 4000 - failed, Errors: failed, FirstError: "switchboard chaos: status 502", RPS: 2100, Latency: Percentiles{P50: 460, P90: 1500, P99: 4700, P999: 303000}},
	}, Chaos: &Chaos{
		Route: chaosTargets(), Faults: chaosFaults, FirstByteMS: 300, Concurrency: 4, Seed: 1,
		Calls: 4000, Successes: 4000 - failed, SuccessRate: 100 * float64(4000-failed) / 4000,
		Added:        Percentiles{P50: 10, P90: 100, P99: 100, P999: 291000},
		MeanAttempts: 1.015, PlainMeanAttempts: 1, MaxAttempts: 3, Retried: 148,
		FirstSecondRetried: 37.2, LastSecondRetried: 0,
		Timeline:      []ChaosSecond{{Second: 1, Calls: 121, Retried: 45, RetriedPct: 37.2, P99: 306757}, {Second: 2, Calls: 3879, P99: 4018}},
		Fallbacks:     map[string]int64{"500": 121, "timeout-first": 33, "error": 3},
		Answered:      map[string]int64{"good1": 3000, "flaky1": 900, "flaky2": 100 - failed},
		Injected:      mock.Injected{Draws: 545, Fails: 121, Resets: 29, Stalls: 33},
		FlakyAttempts: 519, Uncounted: 26,
	}}
}

func TestChaosReport(t *testing.T) {
	r := &Report{Machine: Machine{CPU: "Test CPU", CPUs: 2}, Scenarios: []Scenario{sampleChaosScenario(0)}}
	r.Goals = checkGoals(r.Scenarios)
	var b strings.Builder
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"### chaos c=4\n\nm\n",
		"| target | ok | errors | req/s | p50 | p90 | p99 | p99.9 | mean attempts | CPU µs/req |",
		"| switchboard | 4000 | 0 | 5000 | 450 | 1400 | 4600 | 12000 | 1.000 | 150.0 |",
		"| switchboard chaos | 4000 | 0 | 2100 | 460 | 1500 | 4700 | 303000 | 1.015 | — |",
		"Success: 100% of 4000 calls through the chaos route (0 failed; goal 100%). Failover adds +10.0 / +100 / +100 / +291000 µs (p50 / p90 / p99 / p99.9, chaos minus plain).",
		"Attempts per call: mean 1.015, at most 3; 148 calls (3.7%) needed more than one: 37.2% in the first second of the chaos route's windows, 0.0% in the last",
		"Failed attempts in x-switchboard-fallback: 500 ×121, timeout-first ×33, error ×3. Answered by (x-switchboard-provider): good1 ×3000, flaky1 ×900, flaky2 ×100.",
		"The mock received 545 requests for the flaky targets and drew 121 500s, 29 resets and 33 stalls; the gateway reported 519 attempts on them (failures plus answers): 26 requests no attempt accounts for, re-sent by the gateway's HTTP client on its own.",
		"| 1 | 121 | 37.2% | 0 | 306757 |",
		"| 2 | 3879 | 0.0% | 0 | 4018 |",
		"| chaos route: 100% of calls succeed (issue 5) | 100% of 4000 calls, p99 +100 µs over plain | pass |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Billing on vs off") {
		t.Errorf("chaos scenario with a billing section:\n%s", out)
	}

	// A failed call fails the goal, and the rate never rounds up to 100%.
	r = &Report{Scenarios: []Scenario{sampleChaosScenario(1)}}
	r.Goals = checkGoals(r.Scenarios)
	b.Reset()
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out = b.String()
	for _, want := range []string{
		"Success: 99.975% of 4000 calls through the chaos route (1 failed; goal 100%).",
		"switchboard chaos: 1 errors, first: switchboard chaos: status 502",
		"| chaos route: 100% of calls succeed (issue 5) | 99.975% of 4000 calls, p99 +100 µs over plain | fail |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if got := successRate(99999, 100000); got != "99.999%" {
		t.Errorf("successRate(99999, 100000) = %s", got)
	}
	if got := successRate(999999, 1000000); got != "99.999%" {
		t.Errorf("successRate(999999, 1000000) = %s, want it rounded down", got)
	}
	if got := successRate(0, 0); got != "—" {
		t.Errorf("successRate(0, 0) = %s", got)
	}
}

func TestChaosReportJSON(t *testing.T) {
	r := &Report{Scenarios: []Scenario{sampleChaosScenario(0)}}
	var b strings.Builder
	if err := r.writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := sonic.UnmarshalString(b.String(), &back); err != nil {
		t.Fatal(err)
	}
	c := back.Scenarios[0].Chaos
	if c == nil || c.Calls != 4000 || c.SuccessRate != 100 || c.Added.P99 != 100 || c.Injected.Resets != 29 || c.Uncounted != 26 ||
		len(c.Timeline) != 2 || c.Timeline[0].P99 != 306757 || c.Fallbacks["timeout-first"] != 33 || c.Answered["good1"] != 3000 {
		t.Fatalf("round trip lost data: %s", b.String())
	}
	for _, field := range []string{`"kind": "chaos"`, `"success_rate_pct"`, `"added_latency_us"`, `"mean_attempts"`, `"first_second_retried_pct"`, `"last_second_retried_pct"`, `"fallback_reasons"`, `"mock_injected"`, `"uncounted_upstream_requests"`, `"timeline"`} {
		if !strings.Contains(b.String(), field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
}
