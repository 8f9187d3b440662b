package main

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
)

// runScenario runs one scenario and adds it to the report: the closure
// measure builds around its noise probe. d is the scenario's planned
// time, 0 if it has none.
type runScenario func(name string, d time.Duration, run func() (Scenario, error)) error

// featureScenarios runs the scenarios of issue 6's features through the
// billing-on gateway: the response cache (c=1 and streaming), :web and
// context compression, each that o does not skip. A feature whose
// targets cannot be prepared (the gateway answers a warm-up request
// wrongly) is reported as not measured, with the reason, and the bench
// goes on; compression reports itself unavailable when the gateway does
// not compress.
func featureScenarios(ctx context.Context, targets []*target, search *fakeSearch, m *mock.Server, o *options, scenario runScenario) error {
	if findTarget(targets, targetGateway) == nil {
		return nil
	}
	skipped := func(name, feature string, err error) func() (Scenario, error) {
		logf("%s not measured: %v", name, err)
		return func() (Scenario, error) {
			return Scenario{Name: name, Kind: kindLatency, Feature: feature, Skipped: err.Error()}, nil
		}
	}

	if o.cacheDur > 0 || o.cacheStreamDur > 0 {
		ct := cacheTargets(targets)
		err := primeCache(findTarget(ct, targetCacheHit), o.timeout)
		if err == nil {
			err = warmUp(gatewaySide(ct), o)
		}
		switch {
		case err != nil:
			if err := scenario(cacheName, 0, skipped(cacheName, featureCache, err)); err != nil {
				return err
			}
		default:
			if o.cacheDur > 0 && ctx.Err() == nil {
				if err := scenario(cacheName+", c=1 latency", o.cacheDur, func() (Scenario, error) { return runCacheLatency(ctx, ct, o), nil }); err != nil {
					return err
				}
			}
			if o.cacheStreamDur > 0 && ctx.Err() == nil {
				if err := scenario(cacheName+", streaming c=1", o.cacheStreamDur, func() (Scenario, error) { return runCacheStream(ctx, ct, o), nil }); err != nil {
					return err
				}
			}
		}
	}
	if o.webDur > 0 && search != nil && ctx.Err() == nil {
		wt, fresh := webTargets(targets)
		err := primeWeb(findTarget(wt, targetWebCached), o.timeout)
		if err == nil {
			err = warmUp(gatewaySide(wt), o)
		}
		run := func() (Scenario, error) { return runWeb(ctx, wt, search, fresh, o), nil }
		if err != nil {
			run = skipped(webName, featureWeb, err)
		}
		if err := scenario(webName+", c=1 latency", o.webDur, run); err != nil {
			return err
		}
	}
	if o.compressionRounds > 0 && ctx.Err() == nil {
		start := time.Now()
		bodies, messages, err := compressionCorpus(o.compressionSeed, o.compressionConversations)
		if err != nil {
			return err
		}
		logf("compression corpus: %d conversations, %s in all, generated in %s", len(bodies), sizeWords(bodies), time.Since(start).Round(time.Millisecond))
		ct := compressionTargets(targets)
		run := func() (Scenario, error) { return runCompression(ctx, ct, bodies, messages, m.LastRequest, o), nil }
		if err := scenario(compressionName, 0, run); err != nil {
			return err
		}
	}
	return nil
}

// gatewaySide returns the targets but direct and floor: the feature
// scenarios' own targets, to warm up (direct and floor are warm already).
func gatewaySide(targets []*target) []*target {
	var out []*target
	for _, t := range targets {
		if t.name != targetDirect && t.name != targetFloor {
			out = append(out, t)
		}
	}
	return out
}

// gatewayOwnConns returns the billing-on gateway's target with a
// connection pool of its own, or nil. The feature scenarios and chaos
// come after a minute of others, and a kept-alive connection that served
// a stream more than server.write_timeout ago is one the gateway closes
// on its next request (the stream's write deadline outlives the stream):
// drawn from a shared pool, it would fail a call that has nothing to do
// with what the scenario measures.
func gatewayOwnConns(targets []*target) *target {
	gw := findTarget(targets, targetGateway)
	if gw == nil {
		return nil
	}
	c := *gw
	hc := gw.client
	c.client = &fasthttp.HostClient{
		Addr:                      hc.Addr,
		Name:                      hc.Name,
		MaxConns:                  hc.MaxConns,
		MaxIdemponentCallAttempts: hc.MaxIdemponentCallAttempts,
		ReadTimeout:               hc.ReadTimeout,
		WriteTimeout:              hc.WriteTimeout,
		MaxIdleConnDuration:       hc.MaxIdleConnDuration,
	}
	return &c
}
