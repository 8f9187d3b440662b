package main

import (
	"context"
	"fmt"

	"switchboard/telemetry/otlptest"
)

// The tracing scenario: the billing-on gateway with telemetry off against
// a second gateway with the same binary and config but for telemetry on
// at 100% sampling, exporting its spans and GenAI metrics to a loopback
// OTLP receiver in the bench process (on the bench's CPU, so that the
// traced gateway's CPU time is its own: spans, queue and export), one
// request at a time in alternating windows.

const (
	tracingName         = "tracing at 100% sampling vs off, c=1 latency"
	featureTracing      = "tracing"
	targetGatewayTraced = "switchboard-traced"
)

// tracingConfig is the telemetry section of the traced gateway's config:
// every call sampled, exported to the receiver at otlpURL.
func tracingConfig(otlpURL string) string {
	return fmt.Sprintf("telemetry:\n  otlp_endpoint: %s\n  sample_ratio: 1\n  metrics_interval: 1s\n", otlpURL)
}

// startTracedTarget starts a loopback OTLP receiver and the traced
// gateway exporting to it, and returns the gateway's target; stop ends
// both.
func startTracedTarget(ctx context.Context, o *options, p pinning, dir, mockURL string) (t *target, rcv *otlptest.Receiver, stop func(), err error) {
	if rcv, err = otlptest.Start(); err != nil {
		return nil, nil, nil, err
	}
	g := benchGateway{name: targetGatewayTraced, billing: true, otlpURL: rcv.URL}
	c, base, err := startGateway(ctx, p, dir, o.gatewayBin, mockURL, "", g)
	if err != nil {
		rcv.Close()
		return nil, nil, nil, err
	}
	stop = func() { c.stop(); rcv.Close() }
	if t, err = newTarget(targetGatewayTraced, base, gatewayKey, mockModel, c, o.workers, o.timeout); err != nil {
		stop()
		return nil, nil, nil, err
	}
	return t, rcv, stop, nil
}

// runTracing measures the gateway with tracing off and the traced one,
// and their difference.
func runTracing(ctx context.Context, off, traced *target, rcv *otlptest.Receiver, o *options) Scenario {
	before := len(rcv.Spans())
	s := latencyScenario(ctx, []*target{off, traced}, o, tracingName, o.tracingDur,
		fmt.Sprintf("non-streaming, %s (telemetry off) and %s, the same binary and config with telemetry on at sample_ratio 1, exporting over OTLP/HTTP to a receiver on loopback", off.name, traced.name))
	s.Method += fmt.Sprintf("; the receiver got %d spans during the scenario (2 a call: the call's and its attempt's)", len(rcv.Spans())-before)
	s.Feature = featureTracing
	s.Billing = nil
	s.Deltas = rowDeltas(s.Rows, [2]string{traced.name, off.name})
	return s
}
