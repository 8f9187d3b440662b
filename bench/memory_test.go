package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMemoryScenarioHoldsEveryStream: 50 streams through the in-process
// floor, measured on this process, are all open and held by the mock when
// the figures are read, each takes its descriptors, and all of them end
// with their answer read and nothing left held.
func TestMemoryScenarioHoldsEveryStream(t *testing.T) {
	targets, o, m := testTargetsMock(t)
	fl := findTarget(targets, targetFloor)
	fl.proc = &child{name: targetFloor, pid: os.Getpid()}
	o.memoryStreams, o.memoryRate, o.memoryDeadline = 50, 1000, 30*time.Second
	s := runMemory(context.Background(), targets, m, o)
	if len(s.Rows) != 1 || s.Rows[0].Target != targetFloor || s.Memory == nil || len(s.Memory.Targets) != 1 {
		t.Fatalf("scenario %+v, want the floor's row and figures only", s)
	}
	if r := s.Rows[0]; r.Requests != 50 || r.Errors != 0 || r.Latency.P50 <= 0 {
		t.Fatalf("row %+v", r)
	}
	f := s.Memory.Targets[0]
	// Each stream holds at least its client's and the mock's side of the
	// connection in this process, beside the floor's two.
	if f.Open != 50 || f.RSSBefore <= 0 || f.RSSOpen <= 0 || f.FDsOpen-f.FDsBefore < 2*50 || f.FDsPerStream < 2 {
		t.Fatalf("figures %+v", f)
	}
	if n, _ := m.HoldsClosed(); n != 0 || m.Holding() != 0 {
		t.Fatalf("the mock saw %d clients leave during a hold and holds %d answers", n, m.Holding())
	}
}

// TestMemoryFiguresGoalAndTable: the per-stream arithmetic, the goal
// against the floor and 64 KiB, and the table.
func TestMemoryFiguresGoalAndTable(t *testing.T) {
	const mib = 1 << 20
	f := newMemoryFigures(targetGateway, 10000, 40*mib, 40*mib+10000*30<<10, 20, 20020)
	if f.KiBPerStream != 30 || f.FDsPerStream != 2 {
		t.Fatalf("figures %+v, want 30 KiB and 2 fds per stream", f)
	}
	if z := newMemoryFigures(targetGateway, 0, 40*mib, 50*mib, 20, 30); z.KiBPerStream != 0 || z.FDsPerStream != 0 {
		t.Fatalf("no stream open: %+v", z)
	}
	// Under a hard limit of 20000 open files, as many streams as fit.
	if n := streamsAllowed(20000); n != 9744 || fdsNeeded(n) > 20000 || fdsNeeded(n+1) <= 20000 {
		t.Fatalf("streamsAllowed(20000) = %d", n)
	}
	scenario := func(gwKiB, floorKiB float64, gwOpen int) Scenario {
		gw := newMemoryFigures(targetGateway, gwOpen, 40*mib, 40*mib+int64(gwKiB*1024)*int64(gwOpen), 20, 20+2*gwOpen)
		fl := newMemoryFigures(targetFloor, 10000, 10*mib, 10*mib+int64(floorKiB*1024)*10000, 10, 20010)
		return Scenario{Name: memoryName, Kind: kindMemory,
			Rows: []Row{
				{Target: targetFloor, Requests: 10000, Latency: Percentiles{P50: 300, P99: 900}},
				{Target: targetGateway, Requests: int64(gwOpen), Errors: int64(10000 - gwOpen), Latency: Percentiles{P50: 400, P99: 1200}},
			},
			Memory: &Memory{Streams: 10000, Targets: []MemoryFigures{fl, gw}},
		}
	}
	const goal = "memory per open stream ≤ the floor's and ≤ 64 KiB"
	for _, c := range []struct {
		gw, floor float64
		open      int
		want      string
	}{{30, 40, 10000, "pass"}, {50, 40, 10000, "fail"}, {70, 80, 10000, "fail"}, {30, 40, 9999, "fail"}} {
		status := ""
		for _, g := range checkGoals([]Scenario{scenario(c.gw, c.floor, c.open)}) {
			if g.Goal == goal {
				status = g.Status
			}
		}
		if status != c.want {
			t.Errorf("gateway %v KiB, floor %v KiB, %d open: %q, want %q", c.gw, c.floor, c.open, status, c.want)
		}
	}
	r := Report{Scenarios: []Scenario{scenario(30, 40, 10000)}}
	r.Goals = checkGoals(r.Scenarios)
	var b strings.Builder
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| floor | 10000 | 0 | 10.0 MiB | 400.6 MiB | 40.0 | 10 | 20010 | 2.00 | 300 | 900 |",
		"| switchboard | 10000 | 0 | 40.0 MiB | 333.0 MiB | 30.0 | 20 | 20020 | 2.00 | 400 | 1200 |",
		"| " + goal + " | 30.0 vs the floor's 40.0 KiB, 10000 and 10000 of 10000 streams open | pass |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// TestOnlyKeepsTheNamedScenarios: -only turns off every other scenario and
// refuses a name it does not know.
func TestOnlyKeepsTheNamedScenarios(t *testing.T) {
	o, err := parseFlags([]string{"-only", "memory"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.memoryStreams != 10000 || o.latencyDur != 0 || len(o.rates) != 0 || o.streamDur != 0 || o.crossLatencyDur != 0 || o.crossStreamDur != 0 ||
		o.cacheDur != 0 || o.cacheStreamDur != 0 || o.webDur != 0 || o.compressionRounds != 0 || o.cancelStreams != 0 || o.chaosDur != 0 {
		t.Fatalf("-only memory: %+v", o)
	}
	if o, err = parseFlags([]string{"-only", "cancel, chaos"}, io.Discard); err != nil || o.memoryStreams != 0 || o.cancelStreams == 0 || o.chaosDur == 0 || o.latencyDur != 0 {
		t.Fatalf("-only cancel,chaos: %v %+v", err, o)
	}
	if _, err := parseFlags([]string{"-only", "memroy"}, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown scenario "memroy"`) {
		t.Fatalf("-only memroy: %v", err)
	}
}
