package main

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"switchboard/bench/floor"
)

// The unix scenario's machinery over the in-process floor served on a
// unix socket: the socket target answers through unixDialer, both rows
// are measured, the report carries the socket-minus-TCP delta, and the
// goals leave the scenario alone.
func TestUnixScenarioComparesSocketWithTCP(t *testing.T) {
	targets, o, m := testTargetsMock(t)
	o.unixDur = o.latencyDur
	path := filepath.Join(t.TempDir(), "floor.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = floor.Serve(ln, m.URL()) }()
	t.Cleanup(func() { _ = ln.Close() })
	unix, err := newTarget(targetGatewayUnix, "http://"+targetGatewayUnix, gatewayKey, mockModel, nil, o.workers, o.timeout)
	if err != nil {
		t.Fatal(err)
	}
	unix.client.Dial = unixDialer(path)

	s := runUnix(context.Background(), findTarget(targets, targetFloor), unix, o)
	checkRows(t, s, 2)
	if s.Feature != featureUnix || s.Billing != nil {
		t.Errorf("feature %q, billing %+v: want %q and no billing delta", s.Feature, s.Billing, featureUnix)
	}
	if len(s.Deltas) != 1 || s.Deltas[0].Target != targetGatewayUnix || s.Deltas[0].Minus != targetFloor {
		t.Errorf("deltas %+v: want %s minus %s", s.Deltas, targetGatewayUnix, targetFloor)
	}
	for _, g := range checkGoals([]Scenario{s}) {
		if g.Status != "not measured" {
			t.Errorf("goal %q judged the unix scenario: %+v", g.Goal, g)
		}
	}
}
