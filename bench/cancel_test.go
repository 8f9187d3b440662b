package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestCancelScenarioMeasuresEveryClose: against the mock directly, every
// stream the mock held is counted once its client's close reached it,
// nothing stays held, and the floor is left out.
func TestCancelScenarioMeasuresEveryClose(t *testing.T) {
	targets, o, m := testTargetsMock(t)
	o.cancelStreams, o.cancelIdle = 5, 10*time.Millisecond
	s := runCancel(context.Background(), targets, m, o)
	if len(s.Rows) != 1 || s.Rows[0].Target != targetDirect {
		t.Fatalf("rows %+v, want direct's only", s.Rows)
	}
	if r := s.Rows[0]; r.Requests != 5 || r.Errors != 0 || r.Latency.P50 <= 0 {
		t.Fatalf("row %+v", r)
	}
	if n, _ := m.HoldsClosed(); n != 5 || m.Holding() != 0 {
		t.Fatalf("the mock saw %d closes and holds %d answers", n, m.Holding())
	}
}

// TestCancelGoalAndTable: the goal judges the billing-on gateway's p99
// and errors; the table shows the idle CPU of the gateways.
func TestCancelGoalAndTable(t *testing.T) {
	scenario := func(p99 float64, errs int64) Scenario {
		return Scenario{Name: cancelName, Kind: kindCancel,
			Rows: []Row{
				{Target: targetDirect, Requests: 200, Latency: Percentiles{P50: 40, P99: 90}},
				{Target: targetGateway, Requests: 200 - errs, Errors: errs, Latency: Percentiles{P50: 300, P99: p99}, OverDirect: &Percentiles{P50: 260}},
			},
			Cancel: &Cancel{Streams: 200, IdleSeconds: 1, IdleCPU: map[string]float64{targetGateway: 0.5}},
		}
	}
	const goal = "a cancelled stream's upstream closed within 50 ms (p99)"
	for _, c := range []struct {
		p99  float64
		errs int64
		want string
	}{{900, 0, "pass"}, {60000, 0, "fail"}, {900, 1, "fail"}} {
		status := ""
		for _, g := range checkGoals([]Scenario{scenario(c.p99, c.errs)}) {
			if g.Goal == goal {
				status = g.Status
			}
		}
		if status != c.want {
			t.Errorf("p99 %v, %d errors: %q, want %q", c.p99, c.errs, status, c.want)
		}
	}
	r := Report{Scenarios: []Scenario{scenario(900, 0)}}
	var b strings.Builder
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "| switchboard | 200 | 0 | 300 |") || !strings.Contains(out, "| 0.5% |") {
		t.Fatalf("cancel table:\n%s", out)
	}
}
