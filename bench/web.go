package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// The :web scenario (issue 6): mock-model:web through the billing-on
// gateway, whose web_search engine is the bench's fake SearXNG
// (fakeSearch), against mock-model through the same gateway, c=1. The
// gateway searches for the last user message, keeps the results in its
// store for web_search.cache_ttl (10 minutes), and puts them into the
// request as numbered context, re-encoding it. Two kinds of :web call:
// the same question every time, whose results come from the store after
// the first, and a new question every time, each a search of the fake
// engine.
const (
	featureWeb = "web"
	webName    = ":web search"
	webModel   = mockModel + ":web"

	targetWebPlain  = targetGateway + " plain"
	targetWebCached = targetGateway + " :web same query"
	targetWebFresh  = targetGateway + " :web new query"

	headerWeb = "x-switchboard-web"
)

// WebFigures is what the :web scenario measured beyond its rows.
type WebFigures struct {
	Engine string `json:"engine"`
	// DelayMS is how long the fake engine waited before each answer.
	DelayMS float64 `json:"engine_delay_ms"`
	// Results is the results of each search.
	Results int `json:"results"`
	// Searches is how many searches the fake engine answered during the
	// scenario; FreshCalls how many new-query calls the gateway answered
	// meanwhile (each should be one search: same-query calls none).
	Searches   int64 `json:"searches"`
	FreshCalls int64 `json:"fresh_query_calls"`
	BadQueries int64 `json:"bad_search_requests,omitempty"`
}

// webTargets returns direct, floor and three targets of the billing-on
// gateway: plain mock-model, mock-model:web asking the same question
// every time (x-switchboard-web: cached), and mock-model:web asking a new
// question every call (x-switchboard-web: ok), all with the c=1
// conversation; and the counter of the new-query target's calls. Nothing
// without the billing-on gateway.
func webTargets(targets []*target) ([]*target, *atomic.Int64) {
	gw := gatewayOwnConns(targets)
	if gw == nil {
		return nil, nil
	}
	var out []*target
	for _, name := range []string{targetDirect, targetFloor} {
		if t := findTarget(targets, name); t != nil {
			out = append(out, t)
		}
	}
	plain := gw.withModel(targetWebPlain, mockModel)
	cached := gw.withModel(targetWebCached, webModel)
	cached.check = wantHeader(headerWeb, "cached")
	fresh := gw.withModel(targetWebFresh, webModel)
	fresh.check = wantHeader(headerWeb, "ok")
	n := new(atomic.Int64)
	fresh.next = func(stream bool) []byte { return chatBodyWith(webModel, freshQuestion(n.Add(1)), "0.2", stream) }
	return append(out, plain, cached, fresh), n
}

// freshQuestion returns the c=1 conversation's last question made new by
// a number in front (the gateway's query keeps the first 50 words), as a
// JSON string.
func freshQuestion(n int64) string {
	return `"Question ` + strconv.FormatInt(n, 10) + `: ` + strings.TrimPrefix(promptFollowUp, `"`)
}

// primeWeb makes the same-query target's question a cached one: its first
// call searches (x-switchboard-web: ok), every later one reads the store.
func primeWeb(cached *target, timeout time.Duration) error {
	prime := *cached
	prime.check = wantHeader(headerWeb, "ok", "cached")
	if err := prime.call(prime.request(false), new(fasthttp.Response), time.Now().Add(timeout)); err != nil {
		return cached.warmUpFailed(err)
	}
	return nil
}

// runWeb is the :web scenario; f is the fake engine the gateway searches,
// fresh counts the new-query target's calls.
func runWeb(ctx context.Context, targets []*target, f *fakeSearch, fresh *atomic.Int64, o *options) Scenario {
	before, badBefore, freshBefore := f.searches.Load(), f.bad.Load(), fresh.Load()
	what := fmt.Sprintf("The c=1 conversation (non-streaming) to direct, floor and %s as %s (%s), %s (%s, the same question every call: its results come from the gateway's store, %s: cached) and %s (%s, a new question every call, a number in front: each one a search of the fake engine, %s: ok); any other %s counts as an error. The engine is a SearXNG JSON API on 127.0.0.1 in the bench process answering %d results (about 2 KB) %s",
		targetGateway, targetWebPlain, mockModel, targetWebCached, webModel, headerWeb, targetWebFresh, webModel, headerWeb, headerWeb, searchResults, delayWords(f))
	s := latencyScenario(ctx, targets, o, webName+", c=1 latency", o.webDur, what)
	s.Feature = featureWeb
	s.Deltas = rowDeltas(s.Rows, [2]string{targetWebCached, targetWebPlain}, [2]string{targetWebFresh, targetWebPlain})
	s.Web = &WebFigures{Engine: "searxng (fake)", DelayMS: float64(f.delay) / 1e6, Results: searchResults,
		Searches: f.searches.Load() - before, FreshCalls: fresh.Load() - freshBefore, BadQueries: f.bad.Load() - badBefore}
	return s
}

// delayWords says how long the fake engine takes to answer.
func delayWords(f *fakeSearch) string {
	if f.delay <= 0 {
		return "at once (so the new-query figures are the gateway's own search step: the loopback round trip, parsing, the store write, the rewritten request; a real engine adds its own hundreds of milliseconds)"
	}
	return fmt.Sprintf("after a fixed %s, standing in for a real engine", f.delay)
}

// writeWeb writes the :web scenario's search figures.
func writeWeb(b *strings.Builder, w *WebFigures) {
	fmt.Fprintf(b, "\nThe fake engine (%s, %d results, %.1f ms delay) answered %d searches while %s made %d calls (one search each expected; %s none).",
		w.Engine, w.Results, w.DelayMS, w.Searches, targetWebFresh, w.FreshCalls, targetWebCached)
	if w.BadQueries > 0 {
		fmt.Fprintf(b, " It refused %d malformed search requests.", w.BadQueries)
	}
	b.WriteString("\n")
}
