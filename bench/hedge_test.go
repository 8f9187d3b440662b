package main

import (
	"testing"

	"switchboard/configs"
)

// The bench gateway's config carries the hedge scenario's routes: each
// with a slow first target of its own, hedged as the scenario says.
func TestHedgeRoutesInTheGatewayConfig(t *testing.T) {
	text := gatewayConfig("127.0.0.1:1", t.TempDir(), "http://127.0.0.1:2", "", true)
	cfg, err := configs.Load([]byte(text), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range cfg.Routes {
		for _, hr := range hedgeRoutes {
			if r.Model != hr.model {
				continue
			}
			found++
			if len(r.Targets) != 2 || r.Targets[0].Target != hr.slowTarget() || r.Targets[1].Target != hedgeFastTarget {
				t.Errorf("%s: targets %+v", r.Model, r.Targets)
			}
			switch {
			case hr.after == "" && r.Hedge != nil, hr.after == "p95" && (r.Hedge == nil || !r.Hedge.After.P95()),
				hr.after == hedgeFixed.String() && (r.Hedge == nil || r.Hedge.After.D() != hedgeFixed):
				t.Errorf("%s: hedge %+v, want after %q", r.Model, r.Hedge, hr.after)
			}
		}
	}
	if found != len(hedgeRoutes) {
		t.Fatalf("%d of %d hedge routes in the config", found, len(hedgeRoutes))
	}
}
