package router

import (
	"testing"
	"time"

	"switchboard/upstream"
)

func TestAffinityPrefersTheRememberedHealthyTarget(t *testing.T) {
	a, b, c := &upstream.Provider{Name: "a"}, &upstream.Provider{Name: "b"}, &upstream.Provider{Name: "c"}
	cfg := &BreakerConfig{Failures: 1, ErrorPercent: 50, Cooldown: time.Minute, Window: time.Minute, MinCalls: 100, MaxCooldown: time.Minute}
	order := func() []Target {
		return []Target{{Provider: a, Model: "m", Health: newHealth(cfg)}, {Provider: b, Model: "m", Health: newHealth(cfg)}, {Provider: c, Model: "m", Health: newHealth(cfg)}}
	}
	now := time.Unix(1000, 0)
	aff := NewAffinity(time.Hour, 100)
	o := order()
	if aff.Prefer(o, 7, now) {
		t.Fatal("an unknown conversation had a preference")
	}
	aff.Remember(7, &o[2], now)
	if !aff.Prefer(o, 7, now.Add(time.Minute)) || o[0].Provider != c || o[1].Provider != a || o[2].Provider != b {
		t.Fatalf("order %s %s %s, want c a b", o[0].Provider.Name, o[1].Provider.Name, o[2].Provider.Name)
	}
	// An open breaker, an expired entry or another conversation: no change.
	o = order()
	o[2].Health.Failure(now)
	if aff.Prefer(o, 7, now) || o[0].Provider != a {
		t.Fatal("preferred a target whose breaker is open")
	}
	if o = order(); aff.Prefer(o, 7, now.Add(2*time.Hour)) || aff.Prefer(o, 8, now) {
		t.Fatal("preferred after expiry or for another conversation")
	}
	// A full table forgets rather than grows.
	small := NewAffinity(time.Hour, 1)
	for k := range uint64(1000) {
		small.Remember(k, &o[0], now)
	}
	total := 0
	for i := range small.shards {
		total += len(small.shards[i].m)
	}
	if total > 2*affinityShards {
		t.Fatalf("%d entries kept, want at most %d", total, 2*affinityShards)
	}
}
