package main

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// runLatency is the c=1 latency scenario: one non-streamed request at a
// time, the targets taking turns in short windows so that machine noise
// hits all of them alike.
func runLatency(ctx context.Context, targets []*target, o *options) Scenario {
	return latencyScenario(ctx, targets, o, "c=1 latency", o.latencyDur, "non-streaming")
}

// latencyScenario runs the c=1 latency scenario over the targets for d,
// and names it name; what says what the requests are, for its method.
func latencyScenario(ctx context.Context, targets []*target, o *options, name string, d time.Duration, what string) Scenario {
	n := rounds(d, o.window, len(targets))
	perWindow := max(1, o.maxRequests/n)
	tallies := newTallies(len(targets))
	reqs := make([]*fasthttp.Request, len(targets))
	for i, t := range targets {
		reqs[i] = t.request(false)
	}
	resp := new(fasthttp.Response)
	alternate(ctx, targets, tallies, n, func(i int) {
		t, tl := targets[i], tallies[i]
		serial(o.window, perWindow, func(first bool) {
			start := time.Now()
			switch err := t.call(reqs[i], resp, start.Add(o.timeout)); {
			case err != nil:
				tl.fail(err)
			case first:
				tl.addUnmeasured()
			default:
				tl.add(time.Since(start))
			}
		})
	})
	rows := buildRows(targets, tallies, 0)
	return Scenario{
		Name:    name,
		Kind:    kindLatency,
		Method:  fmt.Sprintf("%s, one request at a time; %d rounds of one %s window per target, its first request not measured", what, n, o.window),
		Rows:    rows,
		Billing: billingDelta(rows),
	}
}

// serial calls do repeatedly, one call at a time, until window has passed
// or limit calls are done; always at least once. The first call, which
// wakes a target after its idle turn, is told to count but not measure
// itself, so that the wake-up does not land in the target's tail.
func serial(window time.Duration, limit int, do func(first bool)) {
	end := time.Now().Add(window)
	for k := 0; k < limit && (k == 0 || time.Now().Before(end)); k++ {
		do(k == 0)
	}
}

func newTallies(n int) []*tally {
	tallies := make([]*tally, n)
	for i := range tallies {
		tallies[i] = newTally()
	}
	return tallies
}
