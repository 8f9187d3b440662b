package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The hedge scenario: routes of two targets on the mock, the first of
// which stalls before its headers on a share of its requests (the mock's
// stallp=, drawn from the -chaos-seed generator), called one at a time in
// alternating windows through the billing-on gateway, without hedging,
// hedged at the first target's p95 and hedged after a fixed delay. A
// non-streaming answer of the mock comes whole right after its first
// byte, so a call's latency is its time to first byte. The extra upstream
// calls are the hedges the gateway started (switchboard_hedges_total of
// each route, read from /metrics before and after): no call fails over.

const (
	hedgeName    = "hedged requests, c=1 time to first byte"
	featureHedge = "hedge"
	// hedgeStall is how long the slow target's slow answers take to
	// their first byte.
	hedgeStall = 300 * time.Millisecond
	// hedgeFixed is the fixed-delay routes' hedge.after.
	hedgeFixed = 20 * time.Millisecond
)

// hedgeRoute is one route of the scenario: its first target stalls on
// slowPct percent of its requests; after is its hedge.after ("" for none).
type hedgeRoute struct {
	model   string
	slowPct int
	after   string
}

var hedgeRoutes = []hedgeRoute{
	{"hedge-off-10", 10, ""},
	{"hedge-p95-10", 10, "p95"},
	{"hedge-20ms-10", 10, hedgeFixed.String()},
	{"hedge-off-3", 3, ""},
	{"hedge-p95-3", 3, "p95"},
}

// slowTarget is the route's first target: the mock's model with the
// fault directives, on a provider of the route's own, so that each
// route's first target has its own times to first byte (a target's
// p95 is shared by the routes that use it).
func (r hedgeRoute) slowTarget() string {
	return fmt.Sprintf("%s/%s+stallp=%s+stall=%s", r.slowProvider(), mockModel, strconv.FormatFloat(float64(r.slowPct)/100, 'f', -1, 64), hedgeStall)
}

func (r hedgeRoute) slowProvider() string { return "slow-" + r.model }

const hedgeFastTarget = "hedgefast/" + mockModel

// hedgeProviders are the scenario's providers: the mock under the name
// of each route's slow target, and once more for the fast one.
func hedgeProviders() []string {
	names := []string{"hedgefast"}
	for _, r := range hedgeRoutes {
		names = append(names, r.slowProvider())
	}
	return names
}

// hedgeConfigRoutes appends the scenario's routes to a config's routes.
func hedgeConfigRoutes(b *strings.Builder) {
	for _, r := range hedgeRoutes {
		fmt.Fprintf(b, "  - model: %s\n    targets: [%s, %s]\n", r.model, r.slowTarget(), hedgeFastTarget)
		if r.after != "" {
			fmt.Fprintf(b, "    hedge: {after: %s}\n", r.after)
		}
	}
}

// hedgeConfigPrices appends the prices of the scenario's targets, the
// plain model's, so that a hedged call does the billing work of any.
func hedgeConfigPrices(b *strings.Builder) {
	for _, r := range hedgeRoutes {
		fmt.Fprintf(b, "    %s: {input: \"1\", output: \"2\"}\n", r.slowTarget())
	}
	fmt.Fprintf(b, "    %s: {input: \"1\", output: \"2\"}\n", hedgeFastTarget)
}

// Hedge is what the hedge scenario measured beyond its rows, per route.
type Hedge struct {
	Stall  float64      `json:"stall_ms"`
	Routes []HedgeRoute `json:"routes"`
}

// HedgeRoute is one route's figures.
type HedgeRoute struct {
	Model   string `json:"model"`
	SlowPct int    `json:"slow_pct"`
	After   string `json:"hedge_after"`
	Calls   int64  `json:"calls"`
	// Hedges is how many hedges the gateway started, by result; Extra is
	// their sum over the calls, in percent: the extra upstream calls.
	Hedges   map[string]int64 `json:"hedges"`
	ExtraPct float64          `json:"extra_upstream_calls_pct"`
	P50      float64          `json:"p50_ms"`
	P99      float64          `json:"p99_ms"`
	P999     float64          `json:"p99_9_ms"`
}

// runHedge runs the hedge scenario through gw, the billing-on gateway.
func runHedge(ctx context.Context, gw *target, o *options) (Scenario, error) {
	targets := make([]*target, len(hedgeRoutes))
	for i, r := range hedgeRoutes {
		targets[i] = gw.withModel(r.model, r.model)
	}
	if err := warmUp(targets, o); err != nil {
		return Scenario{}, err
	}
	before, err := scrapeHedges(gw, o.timeout)
	if err != nil {
		return Scenario{}, err
	}
	s := latencyScenario(ctx, targets, o, hedgeName, o.hedgeDur,
		fmt.Sprintf("non-streaming through %s, routes of two targets, the mock under two provider names: the first (%s, one provider per route) stalls %s before its headers on a share of its requests, then %s; without hedging, hedged at the first target's observed p95 (after: p95) and after %s",
			gw.name, hedgeRoutes[0].slowTarget(), hedgeStall, hedgeFastTarget, hedgeFixed))
	after, err := scrapeHedges(gw, o.timeout)
	if err != nil {
		return Scenario{}, err
	}
	h := &Hedge{Stall: float64(hedgeStall) / 1e6}
	for i, r := range hedgeRoutes {
		hr := HedgeRoute{Model: r.model, SlowPct: r.slowPct, After: r.after, Hedges: map[string]int64{}}
		if i < len(s.Rows) {
			row := s.Rows[i]
			hr.Calls = row.Requests
			hr.P50, hr.P99, hr.P999 = row.Latency.P50/1e3, row.Latency.P99/1e3, row.Latency.P999/1e3
		}
		var n int64
		for result, v := range after[r.model] {
			if d := v - before[r.model][result]; d > 0 {
				hr.Hedges[result] = d
				n += d
			}
		}
		if hr.Calls > 0 {
			hr.ExtraPct = 100 * float64(n) / float64(hr.Calls)
		}
		h.Routes = append(h.Routes, hr)
	}
	s.Feature = featureHedge
	s.Billing = nil
	s.Hedge = h
	s.Deltas = rowDeltas(s.Rows, [2]string{"hedge-p95-10", "hedge-off-10"}, [2]string{"hedge-20ms-10", "hedge-off-10"},
		[2]string{"hedge-p95-3", "hedge-off-3"})
	return s, nil
}

// scrapeHedges reads switchboard_hedges_total from t's /metrics, by
// route and result.
func scrapeHedges(t *target, timeout time.Duration) (map[string]map[string]int64, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(t.base + "/metrics")
	if err := t.client.DoTimeout(req, resp, timeout); err != nil {
		return nil, fmt.Errorf("%s /metrics: %w", t.name, err)
	}
	out := map[string]map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(resp.Body()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, `switchboard_hedges_total{route="`)
		if !ok {
			continue
		}
		route, rest, _ := strings.Cut(rest, `",result="`)
		result, value, _ := strings.Cut(rest, `"} `)
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			continue
		}
		if out[route] == nil {
			out[route] = map[string]int64{}
		}
		out[route][result] = v
	}
	return out, sc.Err()
}
