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
	n := rounds(o.latencyDur, o.window, len(targets))
	perWindow := max(1, o.maxRequests/n)
	tallies := newTallies(len(targets))
	reqs := make([]*fasthttp.Request, len(targets))
	for i, t := range targets {
		reqs[i] = t.request(false)
	}
	resp := new(fasthttp.Response)
	alternate(ctx, targets, tallies, n, func(i int) {
		t, tl := targets[i], tallies[i]
		end := time.Now().Add(o.window)
		for range perWindow {
			start := time.Now()
			if !start.Before(end) {
				return
			}
			if err := t.call(reqs[i], resp, start.Add(o.timeout)); err != nil {
				tl.fail(err)
				continue
			}
			tl.add(time.Since(start))
		}
	})
	return Scenario{
		Name:   "c=1 latency",
		Kind:   kindLatency,
		Method: fmt.Sprintf("non-streaming, one request at a time; %d rounds of one %s window per target", n, o.window),
		Rows:   buildRows(targets, tallies, 0),
	}
}

func newTallies(n int) []*tally {
	tallies := make([]*tally, n)
	for i := range tallies {
		tallies[i] = newTally()
	}
	return tallies
}
