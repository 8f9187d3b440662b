package router

import (
	"testing"
	"time"

	"switchboard/configs"
)

// TestBuildReusesUnchangedProviders: a Router built with the one it
// replaces keeps the *upstream.Provider (so the pool) of every provider
// whose config did not change, and the Health of its targets, and a
// route's own-timeouts pool; a provider whose config changed gets a new
// one and fresh Healths.
func TestBuildReusesUnchangedProviders(t *testing.T) {
	load := func(keyB string) *configs.Config {
		t.Helper()
		cfg, err := configs.Load([]byte(`
auth: {disabled: true}
providers:
  - {name: a, base_url: "http://127.0.0.1:1/v1", api_key: sk-a, models: [m1]}
  - {name: b, base_url: "http://127.0.0.1:2/v1", api_key: `+keyB+`, models: [m2]}
routes:
  - {model: slow, targets: [a/m1, b/m2], timeouts: {first_byte: 300s}}
`), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	first, err := Build(load("sk-b"), configs.Catalog, nil)
	if err != nil {
		t.Fatal(err)
	}
	first.targets[modelKey{"a", "m1"}].Health.Failure(time.Now())
	second, err := Build(load("sk-b2"), configs.Catalog, first)
	if err != nil {
		t.Fatal(err)
	}
	if first.providers["a"] != second.providers["a"] {
		t.Error("provider a, unchanged, got a new pool")
	}
	if first.providers["b"] == second.providers["b"] {
		t.Error("provider b, whose api_key changed, kept its old pool")
	}
	ha, hb := second.targets[modelKey{"a", "m1"}].Health, second.targets[modelKey{"b", "m2"}].Health
	if ha != first.targets[modelKey{"a", "m1"}].Health || ha.consecutive.Load() != 1 {
		t.Error("target a/m1 lost its Health across the rebuild")
	}
	if hb == first.targets[modelKey{"b", "m2"}].Health {
		t.Error("target b/m2 of a changed provider kept its Health")
	}
	var rt Route
	if err := second.Resolve("slow", &rt); err != nil {
		t.Fatal(err)
	}
	var firstRoute Route
	if err := first.Resolve("slow", &firstRoute); err != nil {
		t.Fatal(err)
	}
	if rt.Targets[0].Provider != firstRoute.Targets[0].Provider || rt.Targets[0].Provider == second.providers["a"] {
		t.Error("the route's own-timeouts pool for a was not kept")
	}
	if rt.Targets[1].Provider == firstRoute.Targets[1].Provider {
		t.Error("the route's own-timeouts pool for the changed provider b was kept")
	}
	if second.prev != nil {
		t.Error("the new Router still references the one it replaced")
	}
	if got := len(second.Providers()); got != 2 {
		t.Errorf("Providers() has %d, want 2", got)
	}
}
