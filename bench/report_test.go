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
	cpu, ttfb := 31.5, Percentiles{P50: 300, P90: 350, P99: 500, P999: 800}
	over := Percentiles{P50: 12.5, P90: 20, P99: 45, P999: 130}
	return &Report{
		Machine: Machine{CPU: "Test CPU", CPUs: 2, GoVersion: "go1.26", Pinned: true, Pinning: "bench and mock on CPU 0, gateway and floor on CPU 1 (taskset)"},
		Mock:    "http://127.0.0.1:9999",
		Scenarios: []Scenario{
			{Name: "c=1 latency", Kind: kindLatency, Method: "m", Rows: []Row{
				{Target: targetFloor, Requests: 10, RPS: 5000, Latency: Percentiles{P50: 180, P90: 200, P99: 250, P999: 400}, CPUPerRequest: &cpu, PeakRSS: 15 << 20},
				{Target: targetGateway, Requests: 10, Errors: 2, FirstError: "status 502", RPS: 4800, Latency: Percentiles{P50: 192.5, P90: 220, P99: 295, P999: 530}, OverFloor: &over},
			}},
			{Name: "streaming c=1", Kind: kindStream, Method: "s", Rows: []Row{
				{Target: targetFloor, Requests: 5, TTFB: &ttfb},
				{Target: targetGateway, Requests: 5, TTFB: &ttfb, TTFBOverFloor: &over},
			}},
		},
	}
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
		"- Pinning: bench and mock on CPU 0, gateway and floor on CPU 1 (taskset)",
		"| floor | 10 | 0 | 5000 | 180 | 200 | 250 | 400 | — | — | 31.5 | 15.0 MiB |",
		"| switchboard | 10 | 2 | 4800 | 192 | 220 | 295 | 530 | — | +12.5 / +20.0 / +45.0 / +130 | — | — |",
		"switchboard: 2 errors, first: status 502",
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
	if !strings.Contains(b.String(), `"over_floor_us"`) || !strings.Contains(b.String(), `"p99_9"`) {
		t.Fatalf("JSON field names: %s", b.String())
	}
}

func TestGoalsFailAndSkip(t *testing.T) {
	over := Percentiles{P50: 25, P99: 61}
	gwCPU, floorCPU := 60.0, 30.0
	scenarios := []Scenario{
		{Kind: kindLatency, Rows: []Row{{Target: targetGateway, OverFloor: &over}}},
		{Kind: kindOpenLoop, Rate: 10000, Rows: []Row{
			{Target: targetFloor, CPUPerRequest: &floorCPU},
			{Target: targetGateway, RPS: 9990, Latency: Percentiles{P99: 4000}, CPUPerRequest: &gwCPU},
		}},
	}
	status := map[string]string{}
	for _, g := range checkGoals(scenarios) {
		status[g.Goal] = g.Status
	}
	want := map[string]string{
		"c=1 over floor p50 ≤ +20 µs":              "fail",
		"c=1 over floor p99 ≤ +60 µs":              "fail",
		"CPU per request ≤ 1.5× the floor's, busy": "fail",
		"≥ 10k req/s on one core with p99 < 5 ms":  "pass",
		"streaming TTFB over floor ≤ +30 µs (p50)": "not measured",
	}
	for goal, w := range want {
		if status[goal] != w {
			t.Errorf("%s: %q, want %q", goal, status[goal], w)
		}
	}
	if goals := checkGoals([]Scenario{{Kind: kindLatency, Rows: []Row{{Target: targetFloor}}}}); goals != nil {
		t.Fatalf("goals without a gateway row: %v", goals)
	}
}
