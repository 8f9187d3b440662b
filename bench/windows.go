package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// tally is what one target measured over all its windows of a scenario.
// Workers call add and fail concurrently; the rest is written by alternate
// between windows.
type tally struct {
	mu       sync.Mutex
	lat      *hdrhistogram.Histogram // latency; streams: until the last byte
	lag      *hdrhistogram.Histogram // open loop: actual minus scheduled send time
	ttfb     *hdrhistogram.Histogram // streams: time to the first content chunk
	gap      *hdrhistogram.Histogram // streams: mean gap between content chunks
	ok       int64                   // requests answered and measured
	served   int64                   // requests answered, measured or not (open-loop lead-in)
	errs     int64
	firstErr string

	busy   time.Duration // total length of the target's windows
	ticks  int64         // CPU ticks of the target's process in its windows
	cpuErr error
}

func newTally() *tally {
	return &tally{lat: newHist(), lag: newHist(), ttfb: newHist(), gap: newHist()}
}

// add counts a successful request that took d.
func (t *tally) add(d time.Duration) {
	t.mu.Lock()
	record(t.lat, d)
	t.ok++
	t.served++
	t.mu.Unlock()
}

// addUnmeasured counts a successful request whose latency does not count.
func (t *tally) addUnmeasured() {
	t.mu.Lock()
	t.served++
	t.mu.Unlock()
}

// fail counts a failed request; the first error is kept for the report.
func (t *tally) fail(err error) {
	t.mu.Lock()
	if t.errs == 0 {
		t.firstErr = err.Error()
	}
	t.errs++
	t.mu.Unlock()
}

// rounds returns how many rounds of one window per target fit in total;
// at least one.
func rounds(total, window time.Duration, targets int) int {
	return max(1, int(total/(window*time.Duration(targets))))
}

// alternate runs n rounds in which every target takes one turn (a window),
// starting each round with the next target so that no target always
// follows the same one. turn(i) runs targets[i]'s window. Around each
// window it reads the CPU time of the target's process, so the ticks
// count only what that target spent while it was the one under load.
func alternate(ctx context.Context, targets []*target, tallies []*tally, n int, turn func(i int)) {
	for round := range n {
		for k := range targets {
			if ctx.Err() != nil {
				return
			}
			i := (round + k) % len(targets)
			t, tl := targets[i], tallies[i]
			before, errBefore := t.cpuTicks()
			start := time.Now()
			turn(i)
			tl.busy += time.Since(start)
			after, errAfter := t.cpuTicks()
			switch {
			case errBefore != nil:
				tl.cpuErr = errBefore
			case errAfter != nil:
				tl.cpuErr = errAfter
			default:
				tl.ticks += after - before
			}
		}
	}
}

// cpuTicks returns the CPU ticks of the target's process; 0 for targets
// the bench did not start.
func (t *target) cpuTicks() (int64, error) {
	if t.proc == nil {
		return 0, nil
	}
	n, err := cpuTicks(t.proc.pid)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.name, err)
	}
	return n, nil
}
