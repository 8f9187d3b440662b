package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fakeTally returns a tally of n requests, all taking d, over busy.
func fakeTally(n int, d time.Duration, busy time.Duration) *tally {
	tl := newTally()
	for range n {
		tl.add(d)
	}
	tl.busy = busy
	return tl
}

func TestBuildRowsComparesWithDirectAndFloor(t *testing.T) {
	targets := []*target{{name: targetDirect}, {name: targetFloor}, {name: targetGateway}, {name: "other"}}
	tallies := []*tally{
		fakeTally(100, 40*time.Microsecond, time.Second),
		fakeTally(100, 220*time.Microsecond, time.Second),
		fakeTally(100, 235*time.Microsecond, time.Second),
		fakeTally(0, 0, time.Second),
	}
	tallies[3].fail(errTest)
	rows := buildRows(targets, tallies, 0)

	near := func(got, want float64) bool { return got > want-0.5 && got < want+0.5 }
	if r := rows[0]; r.OverDirect != nil || r.OverFloor == nil || !near(r.OverFloor.P50, -180) {
		t.Fatalf("direct row: over direct %v, over floor %v", r.OverDirect, r.OverFloor)
	}
	if r := rows[1]; r.OverFloor != nil || r.OverDirect == nil || !near(r.OverDirect.P99, 180) {
		t.Fatalf("floor row: over direct %v, over floor %v", r.OverDirect, r.OverFloor)
	}
	g := rows[2]
	if !near(g.OverDirect.P50, 195) || !near(g.OverFloor.P50, 15) || !near(g.OverFloor.P999, 15) || g.RPS != 100 {
		t.Fatalf("gateway row: %+v over direct %+v over floor %+v", g, *g.OverDirect, *g.OverFloor)
	}
	if o := rows[3]; o.OverDirect != nil || o.Errors != 1 || o.FirstError != errTest.Error() {
		t.Fatalf("failed target row: %+v", o)
	}
	if g.CPUPerRequest != nil || g.TTFB != nil || g.SendLag != nil {
		t.Fatalf("gateway row has figures nobody measured: %+v", g)
	}
}

func TestBuildRowsForStreams(t *testing.T) {
	targets := []*target{{name: targetDirect}, {name: targetFloor}}
	tallies := []*tally{newTally(), newTally()}
	for i, ttfb := range []time.Duration{100 * time.Microsecond, 300 * time.Microsecond} {
		for range 10 {
			record(tallies[i].ttfb, ttfb)
			record(tallies[i].gap, time.Millisecond+time.Duration(i+1)*50*time.Microsecond)
			tallies[i].add(9 * time.Millisecond)
		}
	}
	rows := buildRows(targets, tallies, time.Millisecond)
	f := rows[1]
	if f.TTFBOverDirect == nil || f.TTFBOverDirect.P50 < 199 || f.TTFBOverDirect.P50 > 201 {
		t.Fatalf("TTFB over direct %+v", f.TTFBOverDirect)
	}
	if *rows[0].ChunkDelay < 49 || *rows[0].ChunkDelay > 51 || *f.ChunkDelayOverDirect < 49 || *f.ChunkDelayOverDirect > 51 {
		t.Fatalf("chunk delay direct %v, floor over direct %v; want 50, 50", *rows[0].ChunkDelay, *f.ChunkDelayOverDirect)
	}
}

func sampleReport() *Report {
	cpu, gwCPU, nobillCPU, ttfb := 31.5, 40.0, 36.5, Percentiles{P50: 300, P90: 350, P99: 500, P999: 800}
	nobillTTFB := Percentiles{P50: 296, P90: 344, P99: 520, P999: 790}
	over := Percentiles{P50: 12.5, P90: 20, P99: 45, P999: 130}
	nobillOver := Percentiles{P50: 8, P90: 15, P99: 50, P999: 100}
	r := &Report{
		Machine: Machine{CPU: "Test CPU", CPUs: 2, GoVersion: "go1.26", Pinned: true, Pinning: "bench and mock on CPU 0, gateways and floor on CPU 1 (taskset)"},
		Mock:    "http://127.0.0.1:9999",
		Scenarios: []Scenario{
			{Name: "c=1 latency", Kind: kindLatency, Method: "m", Rows: []Row{
				{Target: targetFloor, Requests: 10, RPS: 5000, Latency: Percentiles{P50: 180, P90: 200, P99: 250, P999: 400}, CPUPerRequest: &cpu, PeakRSS: 15 << 20},
				{Target: targetGateway, Requests: 10, Errors: 2, FirstError: "status 502", RPS: 4800, Latency: Percentiles{P50: 192.5, P90: 220, P99: 295, P999: 530}, OverFloor: &over, CPUPerRequest: &gwCPU},
				{Target: targetGatewayNoBill, Requests: 10, RPS: 4900, Latency: Percentiles{P50: 188, P90: 215, P99: 300, P999: 500}, OverFloor: &nobillOver, CPUPerRequest: &nobillCPU},
			}},
			{Name: "streaming c=1", Kind: kindStream, Method: "s", Rows: []Row{
				{Target: targetFloor, Requests: 5, TTFB: &ttfb},
				{Target: targetGateway, Requests: 5, TTFB: &ttfb, TTFBOverFloor: &over},
				{Target: targetGatewayNoBill, Requests: 5, TTFB: &nobillTTFB, TTFBOverFloor: &nobillOver},
			}},
		},
	}
	for i := range r.Scenarios {
		r.Scenarios[i].Billing = billingDelta(r.Scenarios[i].Rows)
	}
	return r
}

func TestMarkdownReport(t *testing.T) {
	r := sampleReport()
	r.Goals = checkGoals(r.Scenarios)
	var b bytes.Buffer
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"- CPU: Test CPU, 2 CPUs available",
		"- Pinning: bench and mock on CPU 0, gateways and floor on CPU 1 (taskset)",
		"| floor | 10 | 0 | 5000 | 180 | 200 | 250 | 400 | — | — | 31.5 | 15.0 MiB |",
		"| switchboard | 10 | 2 | 4800 | 192 | 220 | 295 | 530 | — | +12.5 / +20.0 / +45.0 / +130 | 40.0 | — |",
		"| switchboard-nobill | 10 | 0 | 4900 | 188 | 215 | 300 | 500 | — | +8.0 / +15.0 / +50.0 / +100 | 36.5 | — |",
		"switchboard: 2 errors, first: status 502",
		"Billing on vs off (switchboard minus switchboard-nobill): latency +4.5 / +5.0 / -5.0 / +30.0 µs (p50 / p90 / p99 / p99.9), CPU +3.5 µs per request.",
		"Billing on vs off (switchboard minus switchboard-nobill): TTFB +4.0 / +6.0 / -20.0 / +10.0 µs, whole stream +0.0 / +0.0 / +0.0 / +0.0 µs (p50 / p90 / p99 / p99.9).",
		"### Billing on vs off",
		"| c=1 latency | +4.5 | +5.0 | -5.0 | +30.0 | +3.5 |",
		"| streaming c=1 (TTFB) | +4.0 | +6.0 | -20.0 | +10.0 | — |",
		"| c=1 over floor p50 ≤ +20 µs | +12.5 µs | pass |",
		"| c=1 over floor p99 ≤ +60 µs | +45.0 µs | pass |",
		"| streaming TTFB over floor ≤ +30 µs (p50) | +12.5 µs | pass |",
		"| ≥ 10k req/s on one core with p99 < 5 ms | no open-loop rate ≥ 10000 (add -rates 10000) | not measured |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestJSONReportRoundTrips(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := r.writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	g := back.Scenarios[0].Rows[1]
	if back.Machine.CPU != "Test CPU" || g.OverFloor == nil || g.OverFloor.P99 != 45 || g.Errors != 2 || back.Scenarios[1].Rows[1].TTFB.P50 != 300 {
		t.Fatalf("round trip lost data: %s", b.String())
	}
	if d := back.Scenarios[0].Billing; d == nil || d.Latency.P50 != 4.5 || d.CPUPerRequest == nil || *d.CPUPerRequest != 3.5 || d.TTFB != nil {
		t.Fatalf("round trip lost the billing delta: %s", b.String())
	}
	if d := back.Scenarios[1].Billing; d == nil || d.TTFB == nil || d.TTFB.P50 != 4 || d.CPUPerRequest != nil {
		t.Fatalf("round trip lost the streaming billing delta: %s", b.String())
	}
	if !strings.Contains(b.String(), `"over_floor_us"`) || !strings.Contains(b.String(), `"p99_9"`) || !strings.Contains(b.String(), `"billing_on_vs_off"`) {
		t.Fatalf("JSON field names: %s", b.String())
	}
}

func TestGoalsFailAndSkip(t *testing.T) {
	over, nobillOver := Percentiles{P50: 25, P99: 61}, Percentiles{P50: 5, P99: 10}
	gwCPU, nobillCPU, floorCPU := 60.0, 35.0, 30.0
	// The billing-off gateway would pass the goals the billing-on one
	// fails, and fail the one it passes: the goals judge the gateway as
	// shipped, billing on.
	scenarios := []Scenario{
		{Kind: kindLatency, Rows: []Row{{Target: targetGatewayNoBill, OverFloor: &nobillOver}, {Target: targetGateway, OverFloor: &over}}},
		{Kind: kindOpenLoop, Rate: 10000, Rows: []Row{
			{Target: targetFloor, CPUPerRequest: &floorCPU},
			{Target: targetGatewayNoBill, RPS: 9000, Latency: Percentiles{P99: 6000}, CPUPerRequest: &nobillCPU},
			{Target: targetGateway, RPS: 9990, Latency: Percentiles{P99: 4000}, CPUPerRequest: &gwCPU},
		}},
	}
	status := map[string]string{}
	for _, g := range checkGoals(scenarios) {
		status[g.Goal] = g.Status
	}
	want := map[string]string{
		"c=1 over floor p50 ≤ +20 µs":                  "fail",
		"c=1 over floor p99 ≤ +60 µs":                  "fail",
		"CPU per request ≤ 1.5× the floor's, busy":     "fail",
		"≥ 10k req/s on one core with p99 < 5 ms":      "pass",
		"streaming TTFB over floor ≤ +30 µs (p50)":     "not measured",
		"chaos route: 100% of calls succeed (issue 5)": "not measured",
	}
	for goal, w := range want {
		if status[goal] != w {
			t.Errorf("%s: %q, want %q", goal, status[goal], w)
		}
	}
	if goals := checkGoals([]Scenario{{Kind: kindLatency, Rows: []Row{{Target: targetFloor}, {Target: targetGatewayNoBill, OverFloor: &nobillOver}}}}); goals != nil {
		t.Fatalf("goals without a billing-on gateway row: %v", goals)
	}
}

// crossScenario returns a cross-format streaming scenario whose gateway
// row would fail every goal.
func crossScenario() Scenario {
	targets := []*target{{name: targetDirect}, {name: targetFloor}, {name: targetGateway}}
	tallies := newTallies(len(targets))
	for i, d := range []struct{ ttfb, total time.Duration }{
		{200 * time.Microsecond, 8 * time.Millisecond},
		{200 * time.Microsecond, 8 * time.Millisecond},
		{900 * time.Microsecond, 9 * time.Millisecond},
	} {
		for range 10 {
			record(tallies[i].ttfb, d.ttfb)
			record(tallies[i].gap, time.Millisecond)
			tallies[i].add(d.total)
		}
	}
	rows := buildRows(targets, tallies, time.Millisecond)
	rows[2].CPUPerRequest = ptr(250.0)
	return Scenario{Name: crossName + ", streaming c=1", Kind: kindStream, CrossFormat: crossFormat, Method: "x", Rows: rows}
}

func TestCrossFormatReport(t *testing.T) {
	r := sampleReport()
	r.Scenarios = append(r.Scenarios, crossScenario())
	r.Goals = checkGoals(r.Scenarios)
	// The goals judge the pass-through scenarios, which come before.
	for _, g := range r.Goals {
		if g.Goal == "streaming TTFB over floor ≤ +30 µs (p50)" && (g.Status != "pass" || g.Measured != "+12.5 µs") {
			t.Fatalf("streaming goal judged on the cross-format scenario: %+v", g)
		}
	}
	var b bytes.Buffer
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"### cross-format: Anthropic in, OpenAI out, streaming c=1",
		"| target | TTFB over direct | total over direct | CPU µs/req |",
		"| floor | +0.0 / +0.0 / +0.0 | +0.0 / +0.0 / +0.0 | — |",
		// The whole stream's 1000 µs, to the histograms' 0.1%.
		"| switchboard | +700 / +700 / +700 | +999 / +999 / +999 | 250.0 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Only the cross-format scenario has the over-direct table.
	if n := strings.Count(out, "Added over direct"); n != 1 {
		t.Errorf("%d over-direct tables, want 1:\n%s", n, out)
	}

	// Without a pass-through streaming run, the streaming goal is not
	// measured, whatever the cross-format run did.
	for _, g := range checkGoals([]Scenario{crossScenario()}) {
		if g.Status != "not measured" {
			t.Errorf("goal judged on the cross-format scenario alone: %+v", g)
		}
	}
}

func TestBillingDeltaNeedsBothGateways(t *testing.T) {
	on := Row{Target: targetGateway, Requests: 10, Latency: Percentiles{P50: 200, P90: 250, P99: 400, P999: 900}}
	off := Row{Target: targetGatewayNoBill, Requests: 10, Latency: Percentiles{P50: 190, P90: 245, P99: 410, P999: 800}}
	floor := Row{Target: targetFloor, Requests: 10}
	for name, rows := range map[string][]Row{
		"no gateway":       {floor},
		"billing on only":  {floor, on},
		"billing off only": {floor, off},
		"off failed":       {floor, on, {Target: targetGatewayNoBill, Errors: 3}},
	} {
		if d := billingDelta(rows); d != nil {
			t.Errorf("%s: delta %+v, want none", name, *d)
		}
	}
	d := billingDelta([]Row{floor, off, on})
	if d == nil || d.Latency != (Percentiles{P50: 10, P90: 5, P99: -10, P999: 100}) || d.CPUPerRequest != nil || d.TTFB != nil {
		t.Fatalf("delta %+v", d)
	}

	// No delta, no billing section.
	r := &Report{Scenarios: []Scenario{{Name: "c=1 latency", Kind: kindLatency, Rows: []Row{floor, on}}}}
	var b bytes.Buffer
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Billing on vs off") {
		t.Fatalf("billing section without the billing-off gateway:\n%s", b.String())
	}
}

// cacheScenarioSample returns a response cache scenario with a row named
// as the billing-on gateway that would fail every goal, and a skipped
// feature scenario.
func cacheScenarioSample() []Scenario {
	hitCPU, offCPU := 150.0, 200.0
	cache := Scenario{Name: cacheName + ", c=1 latency", Kind: kindLatency, Feature: featureCache, Method: "c", Rows: []Row{
		{Target: targetDirect, Requests: 10, Latency: Percentiles{P50: 30, P90: 50, P99: 100, P999: 200}},
		{Target: targetGateway, Requests: 10, Latency: Percentiles{P50: 900, P90: 950, P99: 990, P999: 999}, OverFloor: &Percentiles{P50: 500, P99: 500}},
		{Target: targetCacheHit, Requests: 10, Latency: Percentiles{P50: 150, P90: 200, P99: 300, P999: 400}, CPUPerRequest: &hitCPU},
		{Target: targetCacheOff, Requests: 10, Latency: Percentiles{P50: 300, P90: 400, P99: 600, P999: 900}, CPUPerRequest: &offCPU},
	}}
	cache.Deltas = rowDeltas(cache.Rows, [2]string{targetCacheHit, targetCacheOff}, [2]string{targetCacheHit, "missing"})
	skipped := Scenario{Name: cacheName, Kind: kindLatency, Feature: featureCache, Skipped: "warm-up request failed: no hit"}
	return []Scenario{cache, skipped}
}

func TestFeatureReport(t *testing.T) {
	r := sampleReport()
	r.Scenarios = append(r.Scenarios, cacheScenarioSample()...)
	r.Goals = checkGoals(r.Scenarios)
	// The goals judge the pass-through scenarios, which come before.
	for _, g := range r.Goals {
		if g.Goal == "c=1 over floor p50 ≤ +20 µs" && (g.Status != "pass" || g.Measured != "+12.5 µs") {
			t.Fatalf("c=1 goal judged on a feature scenario: %+v", g)
		}
	}
	var b bytes.Buffer
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"### response cache hit, c=1 latency",
		"| switchboard cache hit | 10 | 0 | 0 | 150 | 200 | 300 | 400 | — | — | 150.0 | — |",
		"| target | minus | p50 / p90 / p99 | CPU µs/req |",
		"| switchboard cache hit | switchboard cache off | -150 / -200 / -300 | -50.0 |",
		"### response cache hit\n\n**Not measured: warm-up request failed: no hit.**",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "| target | minus |") != 1 || strings.Count(out, "Added over direct") != 1 {
		t.Errorf("tables for the skipped scenario:\n%s", out)
	}

	var j bytes.Buffer
	if err := r.writeJSON(&j); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(j.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	n := len(back.Scenarios)
	c, skip := back.Scenarios[n-2], back.Scenarios[n-1]
	if c.Feature != featureCache || len(c.Deltas) != 1 || c.Deltas[0].CPUPerRequest == nil || *c.Deltas[0].CPUPerRequest != -50 || skip.Skipped == "" {
		t.Fatalf("round trip lost the feature figures: %s", j.String())
	}

	// Without pass-through runs, nothing is judged on the feature
	// scenarios.
	for _, g := range checkGoals(cacheScenarioSample()) {
		if g.Status != "not measured" {
			t.Errorf("goal judged on a feature scenario: %+v", g)
		}
	}
}
