package router

import (
	"sync"
	"time"
)

// Affinity remembers which target served each conversation, so that its
// next turns go to the same provider and model while that target is
// healthy: providers keep prompt caches per account and per machine
// pool, and a conversation spread over targets by a weighted or latency
// strategy would pay for its prefix again on each. A conversation is a
// 64-bit key the caller derives (a session id, or a hash of the
// conversation's opening). Entries expire after a TTL; the table is
// bounded, and a full shard forgets its entries all at once (an entry
// lost costs one cache miss, nothing more). Safe for concurrent use.
type Affinity struct {
	ttl    time.Duration
	max    int // entries per shard
	shards [affinityShards]affinityShard
}

const affinityShards = 16

type affinityShard struct {
	mu sync.Mutex
	m  map[uint64]affinityEntry
}

type affinityEntry struct {
	provider string
	model    string
	until    int64 // unix nanoseconds
}

// NewAffinity returns a table keeping each conversation's target for
// ttl, holding about max conversations.
func NewAffinity(ttl time.Duration, max int) *Affinity {
	a := &Affinity{ttl: ttl, max: max/affinityShards + 1}
	for i := range a.shards {
		a.shards[i].m = make(map[uint64]affinityEntry)
	}
	return a
}

// Prefer moves the target remembered for key to the front of order, if
// order holds it and its circuit breaker lets calls through. It reports
// whether it found one.
func (a *Affinity) Prefer(order []Target, key uint64, now time.Time) bool {
	s := &a.shards[key%affinityShards]
	s.mu.Lock()
	e, ok := s.m[key]
	s.mu.Unlock()
	if !ok || now.UnixNano() > e.until {
		return false
	}
	for i := range order {
		t := &order[i]
		if t.Provider.Name == e.provider && t.Model == e.model {
			if !t.Health.Ready(now) {
				return false
			}
			first := order[i]
			copy(order[1:i+1], order[:i])
			order[0] = first
			return true
		}
	}
	return false
}

// Remember records that t served the conversation key at now.
func (a *Affinity) Remember(key uint64, t *Target, now time.Time) {
	s := &a.shards[key%affinityShards]
	s.mu.Lock()
	if e, ok := s.m[key]; !ok || e.provider != t.Provider.Name || e.model != t.Model {
		if len(s.m) >= a.max {
			clear(s.m)
		}
	}
	s.m[key] = affinityEntry{provider: t.Provider.Name, model: t.Model, until: now.Add(a.ttl).UnixNano()}
	s.mu.Unlock()
}

// Varies reports whether the targets of rt, ordered for a request with
// preferences p (nil for none), may come in another order on the next
// call: a random or measured strategy (weighted, default, latency,
// throughput) and no explicit provider order. Only then does a
// conversation need Affinity to stay with its target; a fixed order
// keeps it there by itself, back on the first target once it recovers.
func (rt *Route) Varies(p *ProviderPrefs) bool {
	if p != nil && len(p.Order) > 0 {
		return false
	}
	switch rt.Policy.strategyFor(rt.Suffixes, p) {
	case StrategyWeighted, StrategyDefault, StrategyLatency, StrategyThroughput:
		return true
	}
	return false
}
