package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestCacheScenarios(t *testing.T) {
	targets, o := testTargets(t)
	if ct := cacheTargets(targets); ct != nil {
		t.Fatalf("cache targets without a gateway: %d", len(ct))
	}
	// The stand-in answers the cached route with hit (after a first miss)
	// unless the request turns the cache off.
	var mu sync.Mutex
	seen := map[string]bool{}
	targets = withFeatureGateway(t, targets, o, func(req *fasthttp.Request, h *fasthttp.ResponseHeader) {
		if bodyModel(req) != cacheModel || string(req.Header.Peek(headerCache)) == "off" {
			return
		}
		if !strings.Contains(string(req.Body()), `"temperature":0,`) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[string(req.Body())] || seen[strings.Replace(string(req.Body()), `,"stream":true,"stream_options":{"include_usage":true}`, "", 1)] {
			h.Set(headerCache, "hit")
		} else {
			h.Set(headerCache, "miss")
			seen[string(req.Body())] = true
		}
	})
	ct := cacheTargets(targets)
	var names []string
	for _, tg := range ct {
		names = append(names, tg.name)
		if tg.api != deterministicAPI {
			t.Errorf("%s does not send the temperature-0 request", tg.name)
		}
	}
	if got := strings.Join(names, ","); got != "direct,floor,switchboard cache hit,switchboard cache off" {
		t.Fatalf("cache targets %s", got)
	}
	hit, off := ct[2], ct[3]
	if hit.model != cacheModel || off.model != cacheModel || len(off.headers) != 1 || off.headers[0] != (header{headerCache, "off"}) || hit.chunks != 1 {
		t.Fatalf("hit %+v, off %+v", hit, off)
	}
	// A miss is an error for the hit target: the cache must be primed.
	resp := new(fasthttp.Response)
	if err := hit.call(hit.request(false), resp, time.Now().Add(o.timeout)); err == nil || !strings.Contains(err.Error(), `"miss"`) {
		t.Fatalf("a miss passed the hit check: %v", err)
	}
	if err := primeCache(hit, o.timeout); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	o.cacheDur = 200 * time.Millisecond
	s := runCacheLatency(ctx, ct, o)
	checkRows(t, s, 4)
	if s.Feature != featureCache || len(s.Deltas) != 2 || s.Deltas[0].Target != targetCacheHit || s.Deltas[0].Minus != targetCacheOff || s.Billing != nil {
		t.Fatalf("cache scenario: feature %q, deltas %+v, billing %+v", s.Feature, s.Deltas, s.Billing)
	}

	// The stand-in relays the mock's 8 chunks where the gateway replays
	// one: expect those here.
	hit.chunks = 0
	o.cacheStreamDur = 400 * time.Millisecond
	s = runCacheStream(ctx, ct, o)
	checkRows(t, s, 4)
	if s.Kind != kindStream || len(s.Deltas) != 2 || s.Deltas[0].TTFB == nil {
		t.Fatalf("cache stream scenario: %+v", s.Deltas)
	}
}

func TestStreamOfOneChunkHasNoChunkDelay(t *testing.T) {
	targets := []*target{{name: targetDirect}, {name: targetCacheHit}}
	tallies := newTallies(2)
	for range 5 {
		record(tallies[0].ttfb, 100*time.Microsecond)
		record(tallies[0].gap, time.Millisecond)
		tallies[0].add(8 * time.Millisecond)
		record(tallies[1].ttfb, 200*time.Microsecond)
		tallies[1].add(200 * time.Microsecond)
	}
	rows := buildRows(targets, tallies, time.Millisecond)
	if r := rows[1]; r.ChunkDelay != nil || r.ChunkDelayOverDirect != nil || r.TTFBOverDirect == nil || r.TTFBOverDirect.P50 < 99 || r.TTFBOverDirect.P50 > 101 {
		t.Fatalf("one-chunk row %+v", r)
	}
}
