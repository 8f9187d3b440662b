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
func runOpenLoop(ctx context.Context, targets []*target, rate int, o *options) (Scenario, error) {
	perWindow := windowRequests(rate, o.rateWindow)
	n := min(rounds(o.rateDur, o.rateWindow, len(targets)), max(1, o.maxRequests/perWindow))
	tallies := newTallies(len(targets))
	p, err := newPacer()
	if err != nil {
		return Scenario{}, err
	}
	defer p.close()
	alternate(ctx, targets, tallies, n, func(i int) {
		if err == nil {
			err = openLoopWindow(ctx, p, targets[i], tallies[i], rate, perWindow, o)
		}
	})
	if err != nil {
		return Scenario{}, err
	}
	rows := buildRows(targets, tallies, 0)
	return Scenario{
		Name: fmt.Sprintf("open loop %d/s", rate),
		Kind: kindOpenLoop,
		Rate: rate,
		Method: fmt.Sprintf("non-streaming at a constant %d/s, latency from the scheduled send time; %d rounds of one %s window (%d requests, the first %s not measured) per target, at most %d in flight (-workers)",
			rate, n, o.rateWindow, perWindow, o.leadIn, min(o.workers, perWindow)),
		Rows:    rows,
		Billing: billingDelta(rows),
	}, nil
}

// openLoopWindow sends count requests to t at rate per second, starting
// now, and returns when all have answered or timed out. Requests due in
// the first o.leadIn are not measured, only counted. The caller's
// goroutine keeps the schedule and hands each due time to an idle worker,
// starting a new worker only when none is idle, up to o.workers: a burst
// of goroutine starts would delay the schedule it serves. With every
// worker busy the due times queue, and their wait counts in the latency.
func openLoopWindow(ctx context.Context, p *pacer, t *target, tl *tally, rate, count int, o *options) error {
	start := time.Now()
	measureFrom := start.Add(o.leadIn)
	due := make(chan time.Time, count)
	var (
		wg      sync.WaitGroup
		idle    atomic.Int64
		workers int
	)
	work := func() {
		defer wg.Done()
		req, resp := t.request(false), new(fasthttp.Response)
		for {
			idle.Add(1)
			at, ok := <-due
			idle.Add(-1)
			if !ok {
				return
			}
			sent := time.Now()
			err := t.call(req, resp, at.Add(o.timeout))
			done := time.Now()
			switch {
			case err != nil:
				tl.fail(err)
			case at.Before(measureFrom):
				tl.addUnmeasured()
			default:
				tl.mu.Lock()
				record(tl.lag, sent.Sub(at))
				tl.mu.Unlock()
				tl.add(done.Sub(at))
			}
		}
	}
	defer wg.Wait()
	defer close(due)
	for k := range count {
		at := sendTime(start, rate, k)
		if err := ctx.Err(); err != nil {
			tl.fail(fmt.Errorf("%d requests not sent: %w", count-k, err))
			tl.mu.Lock()
			tl.errs += int64(count - k - 1)
			tl.mu.Unlock()
			return nil
		}
		if err := p.waitUntil(at); err != nil {
			return err
		}
		if idle.Load() == 0 && workers < o.workers {
			workers++
			wg.Add(1)
			go work()
		}
		due <- at
	}
	return nil
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
