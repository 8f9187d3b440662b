package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// runOpenLoop is the open-loop scenario at one rate: requests are sent on
// a fixed schedule whether or not earlier ones have answered, and latency
// runs from the scheduled send time, so a stalled target is charged for
// the requests it delayed (no coordinated omission). Targets take turns in
// windows; each window is drained before the next starts.
func runOpenLoop(ctx context.Context, targets []*target, rate int, o *options) Scenario {
	perWindow := windowRequests(rate, o.rateWindow)
	n := min(rounds(o.rateDur, o.rateWindow, len(targets)), max(1, o.maxRequests/perWindow))
	tallies := newTallies(len(targets))
	alternate(ctx, targets, tallies, n, func(i int) {
		openLoopWindow(ctx, targets[i], tallies[i], rate, perWindow, o)
	})
	return Scenario{
		Name: fmt.Sprintf("open loop %d/s", rate),
		Kind: kindOpenLoop,
		Rate: rate,
		Method: fmt.Sprintf("non-streaming at a constant %d/s, latency from the scheduled send time; %d rounds of one %s window (%d requests) per target, at most %d in flight",
			rate, n, o.rateWindow, perWindow, min(o.workers, perWindow)),
		Rows: buildRows(targets, tallies, 0),
	}
}

// openLoopWindow sends count requests to t at rate per second, starting
// now, and returns when all have answered or timed out.
func openLoopWindow(ctx context.Context, t *target, tl *tally, rate, count int, o *options) {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(o.workers, count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := t.request(false), new(fasthttp.Response)
			for {
				k := int(next.Add(1) - 1)
				if k >= count {
					return
				}
				due := sendTime(start, rate, k)
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				if err := ctx.Err(); err != nil {
					tl.fail(fmt.Errorf("not sent: %w", err))
					continue
				}
				sent := time.Now()
				err := t.call(req, resp, due.Add(o.timeout))
				done := time.Now()
				tl.mu.Lock()
				record(tl.lag, sent.Sub(due))
				tl.mu.Unlock()
				if err != nil {
					tl.fail(err)
					continue
				}
				tl.add(done.Sub(due))
			}
		}()
	}
	wg.Wait()
}

// windowRequests returns how many requests a window of length w holds at
// rate per second; at least one.
func windowRequests(rate int, w time.Duration) int {
	return max(1, int(int64(rate)*int64(w)/int64(time.Second)))
}

// sendTime returns when request k of a window starting at start is due at
// rate per second: k/rate seconds in, rounded down to the nanosecond, so
// that no drift accumulates over a window.
func sendTime(start time.Time, rate, k int) time.Time {
	return start.Add(time.Duration(int64(k) * int64(time.Second) / int64(rate)))
}
