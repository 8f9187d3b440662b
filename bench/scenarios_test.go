package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"switchboard/bench/floor"
	"switchboard/bench/mock"
)

var errTest = errors.New("test failure")

// testTargets starts a mock and an in-process floor and returns the direct
// and floor targets, with options for short scenarios.
func testTargets(t *testing.T) ([]*target, *options) {
	t.Helper()
	targets, o, _ := testTargetsMock(t)
	return targets, o
}

// testTargetsMock is testTargets, also returning the mock.
func testTargetsMock(t *testing.T) ([]*target, *options, *mock.Server) {
	t.Helper()
	m, err := mock.Start("127.0.0.1:0", mock.Options{Chunks: mockChunks, ChunkDelay: 100 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = floor.Serve(ln, m.URL()) }()
	t.Cleanup(func() { _ = ln.Close() })

	o := &options{
		timeout: 5 * time.Second, warmup: 2, maxRequests: 200, window: 5 * time.Millisecond, latencyDur: 100 * time.Millisecond,
		rateWindow: 20 * time.Millisecond, rateDur: 80 * time.Millisecond, workers: 8,
		streamDur: 100 * time.Millisecond, streamGap: 100 * time.Microsecond, streamChunks: mockChunks,
	}
	var targets []*target
	for name, base := range map[string]string{targetDirect: m.URL(), targetFloor: "http://" + ln.Addr().String()} {
		tg, err := newTarget(name, base, gatewayKey, mockModel, nil, o.workers, o.timeout)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	if err := warmUp(targets, o); err != nil {
		t.Fatal(err)
	}
	return targets, o, m
}

// checkRows checks that every target answered without errors.
func checkRows(t *testing.T, s Scenario, n int) {
	t.Helper()
	if len(s.Rows) != n {
		t.Fatalf("%s: %d rows, want %d", s.Name, len(s.Rows), n)
	}
	for _, r := range s.Rows {
		if r.Requests == 0 || r.Errors != 0 || r.Latency.P50 <= 0 {
			t.Fatalf("%s: row %+v", s.Name, r)
		}
	}
}

func TestScenariosRunAgainstMockAndFloor(t *testing.T) {
	targets, o := testTargets(t)
	ctx := context.Background()

	checkRows(t, runLatency(ctx, targets, o), 2)

	s, err := runOpenLoop(ctx, targets, 1000, o)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, s, 2)
	for _, r := range s.Rows {
		// 80ms over 2 targets in 20ms windows at 1000/s: 2 rounds of 20.
		if r.Requests != 40 || r.SendLag == nil {
			t.Fatalf("open loop row %+v, want 40 requests with send lag", r)
		}
	}

	s = runStream(ctx, targets, o)
	checkRows(t, s, 2)
	for _, r := range s.Rows {
		if r.TTFB == nil || r.ChunkDelay == nil || r.TTFB.P50 <= 0 || r.TTFB.P50 > r.Latency.P50 {
			t.Fatalf("stream row %+v", r)
		}
	}
}

func TestOpenLoopCountsUnsentRequestsWhenInterrupted(t *testing.T) {
	targets, o := testTargets(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err := newPacer()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	tl := newTally()
	if err := openLoopWindow(ctx, p, targets[0], tl, 1000, 50, o); err != nil {
		t.Fatal(err)
	}
	if tl.errs != 50 || tl.ok != 0 {
		t.Fatalf("interrupted window: %d ok, %d errors; want 0, 50", tl.ok, tl.errs)
	}
}

func TestOpenLoopLeadInIsServedButNotMeasured(t *testing.T) {
	targets, o := testTargets(t)
	o.leadIn = 10 * time.Millisecond
	p, err := newPacer()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	tl := newTally()
	// 50 requests at 1000/s: those due at 0-9 ms are the lead-in.
	if err := openLoopWindow(context.Background(), p, targets[0], tl, 1000, 50, o); err != nil {
		t.Fatal(err)
	}
	if tl.ok != 40 || tl.served != 50 || tl.errs != 0 || tl.lat.TotalCount() != 40 || tl.lag.TotalCount() != 40 {
		t.Fatalf("measured %d, served %d, errors %d, latencies %d, lags %d; want 40, 50, 0, 40, 40",
			tl.ok, tl.served, tl.errs, tl.lat.TotalCount(), tl.lag.TotalCount())
	}
}

func TestSerialStopsAtLimitOrWindow(t *testing.T) {
	f := func(window time.Duration, limit int, want string) {
		t.Helper()
		var got strings.Builder
		serial(window, limit, func(first bool) {
			if first {
				got.WriteString("F")
			} else {
				got.WriteString("m")
			}
		})
		if got.String() != want {
			t.Fatalf("serial(%s, %d) made calls %q, want %q", window, limit, got.String(), want)
		}
	}
	f(time.Hour, 3, "Fmm")
	f(time.Hour, 1, "F")
	f(0, 5, "F") // a window that has passed still gets its first call
}

func TestAlternateRotatesTurns(t *testing.T) {
	targets := []*target{{name: "a"}, {name: "b"}, {name: "c"}}
	tallies := newTallies(3)
	var order []string
	alternate(context.Background(), targets, tallies, 3, func(i int) { order = append(order, targets[i].name) })
	if got := strings.Join(order, ""); got != "abcbcacab" {
		t.Fatalf("turns %s, want abcbcacab", got)
	}
	for i, tl := range tallies {
		if tl.busy <= 0 || tl.ticks != 0 || tl.cpuErr != nil {
			t.Fatalf("tally %d: busy %s, ticks %d, err %v", i, tl.busy, tl.ticks, tl.cpuErr)
		}
	}
}

func TestPacerWaitsUntilDue(t *testing.T) {
	p, err := newPacer()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	due := time.Now().Add(20 * time.Millisecond)
	if err := p.waitUntil(due); err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); now.Before(due) {
		t.Fatalf("woke %s early", due.Sub(now))
	}
	if err := p.waitUntil(due.Add(-time.Second)); err != nil {
		t.Fatalf("a past time: %v", err)
	}
}

func TestScenariosCompareBillingOnAndOff(t *testing.T) {
	targets, o := testTargets(t)
	targets = withFakeGateways(t, targets, o)
	// Long enough that each of four targets gets a turn on a loaded CI machine.
	o.latencyDur, o.rateDur, o.streamDur = 200*time.Millisecond, 200*time.Millisecond, 600*time.Millisecond
	ctx := context.Background()

	s := runLatency(ctx, targets, o)
	checkRows(t, s, 4)
	if s.Billing == nil || s.Billing.TTFB != nil || s.Billing.CPUPerRequest != nil {
		t.Fatalf("c=1 billing delta %+v", s.Billing)
	}
	s, err := runOpenLoop(ctx, targets, 1000, o)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, s, 4)
	if s.Billing == nil {
		t.Fatal("open loop without a billing delta")
	}
	s = runStream(ctx, targets, o)
	checkRows(t, s, 4)
	if s.Billing == nil || s.Billing.TTFB == nil {
		t.Fatalf("streaming billing delta %+v", s.Billing)
	}

	// Direct and floor alone: nothing to compare.
	if s := runLatency(ctx, targets[:2], o); s.Billing != nil {
		t.Fatalf("billing delta without the gateways: %+v", *s.Billing)
	}
}

// withFakeGateways returns the targets and two more with the built-in
// gateways' names, both the floor, warmed up: each scenario must then say
// what billing costs.
func withFakeGateways(t *testing.T, targets []*target, o *options) []*target {
	t.Helper()
	floorBase := findTarget(targets, targetFloor).base
	var gateways []*target
	for _, g := range benchGateways {
		tg, err := newTarget(g.name, floorBase, gatewayKey, mockModel, nil, o.workers, o.timeout)
		if err != nil {
			t.Fatal(err)
		}
		gateways = append(gateways, tg)
	}
	if err := warmUp(gateways, o); err != nil {
		t.Fatal(err)
	}
	return append(targets, gateways...)
}

func TestCrossFormatScenarios(t *testing.T) {
	targets, o, m := testTargetsMock(t)
	if cross := crossTargets(targets); cross != nil {
		t.Fatalf("cross-format targets without a gateway: %d", len(cross))
	}
	// The fake gateways are the floor: the mock answers them on its own
	// Anthropic surface, as it answers direct, and the scenarios run.
	targets = withFakeGateways(t, targets, o)
	cross := crossTargets(targets)
	if len(cross) != 4 {
		t.Fatalf("%d cross-format targets, want direct, floor and both gateways", len(cross))
	}
	for i, want := range []string{targetDirect, targetFloor, targetGateway, targetGatewayNoBill} {
		if tg := cross[i]; tg.name != want || tg.api != messagesAPI || tg.base != findTarget(targets, want).base {
			t.Fatalf("cross target %d: %s at %s speaking %s, want %s speaking Anthropic", i, tg.name, tg.base, tg.api.path, want)
		}
	}
	if err := warmUp(cross, o); err != nil {
		t.Fatal(err)
	}
	if up := m.LastRequest(); up.Surface != mock.SurfaceMessages || up.Headers["x-api-key"] != gatewayKey || up.Headers["anthropic-version"] == "" {
		t.Fatalf("the mock got %s %q with headers %v, want an Anthropic request", up.Path, up.Surface, up.Headers)
	}
	// A gateway that does not translate is refused.
	if err := checkTranslated(cross, m.LastRequest, o.timeout); err == nil || !strings.Contains(err.Error(), "no translation") {
		t.Fatalf("a pass-through gateway passed the translation check: %v", err)
	}

	o.crossLatencyDur, o.crossStreamDur = 200*time.Millisecond, 600*time.Millisecond
	ctx := context.Background()
	for _, s := range []Scenario{runCrossLatency(ctx, cross, o), runCrossStream(ctx, cross, o)} {
		checkRows(t, s, 4)
		if s.CrossFormat != crossFormat || !strings.HasPrefix(s.Name, crossName) || s.Billing == nil {
			t.Fatalf("%s: cross format %q, billing %+v", s.Name, s.CrossFormat, s.Billing)
		}
		for _, r := range s.Rows[1:] {
			if r.OverDirect == nil || (s.Kind == kindStream) != (r.TTFBOverDirect != nil) {
				t.Fatalf("%s: row %+v", s.Name, r)
			}
		}
	}
}
