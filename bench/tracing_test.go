package main

import (
	"context"
	"testing"

	"switchboard/configs"
	"switchboard/telemetry/otlptest"
)

// The traced gateway's config is the bench's with telemetry on at 100%
// sampling to the receiver.
func TestTracedGatewayConfigTracesEveryCall(t *testing.T) {
	text := gatewayConfig("127.0.0.1:1", t.TempDir(), "http://127.0.0.1:2", "", true) + tracingConfig("http://127.0.0.1:3")
	cfg, err := configs.Load([]byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if tel := cfg.Telemetry; !tel.Enabled() || tel.OTLPEndpoint != "http://127.0.0.1:3" || *tel.SampleRatio != 1 {
		t.Errorf("telemetry %+v: want it on at sample_ratio 1", tel)
	}
}

// The tracing scenario's machinery over two in-process targets: both
// rows are measured, the report carries the traced-minus-off delta, and
// the goals leave the scenario alone.
func TestTracingScenarioComparesTracedWithOff(t *testing.T) {
	targets, o, _ := testTargetsMock(t)
	o.tracingDur = o.latencyDur
	rcv, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rcv.Close)
	off, traced := findTarget(targets, targetDirect), findTarget(targets, targetFloor)
	traced.name = targetGatewayTraced
	s := runTracing(context.Background(), off, traced, rcv, o)
	checkRows(t, s, 2)
	if s.Feature != featureTracing || s.Billing != nil {
		t.Errorf("feature %q, billing %+v: want %q and no billing delta", s.Feature, s.Billing, featureTracing)
	}
	if len(s.Deltas) != 1 || s.Deltas[0].Target != targetGatewayTraced || s.Deltas[0].Minus != targetDirect {
		t.Errorf("deltas %+v: want %s minus %s", s.Deltas, targetGatewayTraced, targetDirect)
	}
	for _, g := range checkGoals([]Scenario{s}) {
		if g.Status != "not measured" {
			t.Errorf("goal %q judged the tracing scenario: %+v", g.Goal, g)
		}
	}
}
