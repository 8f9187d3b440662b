package main

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// warmupStreams is the number of streams each target serves before the
// scenarios.
const warmupStreams = 20

// warmupConns is how many requests each target serves at once during the
// warm-up, so that the connection pools of both hops (bench to proxy,
// proxy to mock) hold that many connections before the open loop needs
// them, as a gateway's pools do in production. Without it the first
// open-loop window of each target pays for opening them, a stall that
// feeds on itself at thousands of requests per second.
const warmupConns = 64

// warmUp sends unmeasured requests to every target, so that connections
// are open and caches, pools and heaps are sized before anything counts.
// A target that fails here is misconfigured: the bench stops and says why.
func warmUp(targets []*target, o *options) error {
	resp := new(fasthttp.Response)
	buf := make([]byte, 16<<10)
	for _, t := range targets {
		req, streamReq := t.request(false), t.request(true)
		for range o.warmup {
			if err := t.call(req, resp, time.Now().Add(o.timeout)); err != nil {
				return t.warmUpFailed(err)
			}
		}
		for range warmupStreams {
			if _, err := t.stream(streamReq, resp, time.Now().Add(o.timeout), o.streamChunks, buf); err != nil {
				return t.warmUpFailed(err)
			}
		}
		if err := t.warmConns(min(warmupConns, o.workers), o.timeout); err != nil {
			return t.warmUpFailed(err)
		}
	}
	return nil
}

// warmConns sends n requests at once, a few times over, and returns the
// first failure.
func (t *target) warmConns(n int, timeout time.Duration) error {
	errs := make(chan error, n)
	for range n {
		go func() {
			req, resp := t.request(false), new(fasthttp.Response)
			for range 5 {
				if err := t.call(req, resp, time.Now().Add(timeout)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (t *target) warmUpFailed(err error) error {
	if t.proc != nil {
		return fmt.Errorf("warm-up request failed: %w\n%s", err, t.proc.failure())
	}
	return fmt.Errorf("warm-up request failed: %w", err)
}
