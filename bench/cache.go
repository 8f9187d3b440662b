package main

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// The response cache scenarios (issue 6): the billing-on gateway's route
// cacheModel serves the mock with the response cache on. A deterministic
// request (temperature 0) sent once is stored; the same request again is
// answered by the gateway from its store, without going upstream. The
// hit is measured against direct (the mock answering the same request),
// the floor, and the same route's uncached path (x-switchboard-cache:
// off, the call goes upstream as it would without the cache), c=1, both
// non-streaming and streaming (a hit asked for as a stream is replayed as
// one).
const (
	featureCache = "response-cache"
	cacheName    = "response cache hit"
	// cacheModel is the gateway route with the response cache on.
	cacheModel = "cached"

	targetCacheHit = targetGateway + " cache hit"
	targetCacheOff = targetGateway + " cache off"

	headerCache = "x-switchboard-cache"
)

// deterministicAPI is OpenAI chat completions with the c=1 conversation at
// temperature 0, which the response cache stores.
var deterministicAPI = func() *clientAPI {
	a := *chatAPI
	a.body = func(model string, stream bool) []byte { return chatBodyWith(model, promptFollowUp, "0", stream) }
	return &a
}()

// cacheTargets returns direct, floor and two targets of the billing-on
// gateway's cached route, all sending the same temperature-0 request:
// one whose every answer must be a hit, one that turns the cache off per
// request. Nothing without the billing-on gateway.
func cacheTargets(targets []*target) []*target {
	gw := gatewayOwnConns(targets)
	if gw == nil {
		return nil
	}
	var out []*target
	for _, name := range []string{targetDirect, targetFloor} {
		if t := findTarget(targets, name); t != nil {
			out = append(out, t.speaking(deterministicAPI))
		}
	}
	hit := gw.speaking(deterministicAPI).withModel(targetCacheHit, cacheModel)
	hit.check = wantHeader(headerCache, "hit")
	hit.chunks = 1 // a replayed answer is one text delta
	off := gw.speaking(deterministicAPI).withModel(targetCacheOff, cacheModel)
	off.headers = []header{{headerCache, "off"}}
	off.check = func(h *fasthttp.ResponseHeader) error {
		if v := h.Peek(headerCache); len(v) > 0 {
			return fmt.Errorf("%s: %q with the cache off", headerCache, v)
		}
		return nil
	}
	return append(out, hit, off)
}

// wantHeader returns a check that header name is one of values.
func wantHeader(name string, values ...string) func(h *fasthttp.ResponseHeader) error {
	return func(h *fasthttp.ResponseHeader) error {
		v := h.Peek(name)
		for _, w := range values {
			if string(v) == w {
				return nil
			}
		}
		return fmt.Errorf("%s: %q, want %q", name, v, values)
	}
}

// primeCache sends the hit target's request once, unchecked, to store its
// answer, then waits until the store answers it: the gateway may write
// the entry after the answer has gone out.
func primeCache(hit *target, timeout time.Duration) error {
	prime := *hit
	prime.check = nil
	req, resp := prime.request(false), new(fasthttp.Response)
	if err := prime.call(req, resp, time.Now().Add(timeout)); err != nil {
		return hit.warmUpFailed(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := hit.call(req, resp, time.Now().Add(timeout))
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return hit.warmUpFailed(fmt.Errorf("the response cache did not answer the repeated request: %w", err))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runCacheLatency is the response cache's c=1 latency scenario.
func runCacheLatency(ctx context.Context, targets []*target, o *options) Scenario {
	s := latencyScenario(ctx, targets, o, cacheName+", c=1 latency", o.cacheDur, cacheWhat+", non-streaming")
	return cacheScenario(s)
}

// runCacheStream is the response cache's streaming scenario.
func runCacheStream(ctx context.Context, targets []*target, o *options) Scenario {
	what := fmt.Sprintf("%s, stream:true with include_usage (the mock: %d chunks %s apart; a hit: the stored answer replayed as one text delta)",
		cacheWhat, o.streamChunks, o.streamGap)
	return cacheScenario(streamScenario(ctx, targets, o, cacheName+", streaming c=1", o.cacheStreamDur, what))
}

func cacheScenario(s Scenario) Scenario {
	s.Feature = featureCache
	s.Deltas = rowDeltas(s.Rows, [2]string{targetCacheHit, targetCacheOff}, [2]string{targetCacheHit, targetDirect})
	return s
}

// cacheWhat says what the cache scenarios send.
const cacheWhat = "The c=1 conversation at temperature 0 to direct, floor and the " + targetGateway + " route `" + cacheModel +
	"` (response cache on), answered once before the scenario to store it: " + targetCacheHit + " must answer every call with " +
	headerCache + ": hit (anything else counts as an error), " + targetCacheOff + " sends " + headerCache + ": off and goes upstream"
