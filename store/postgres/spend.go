package postgres

import (
	"context"
	"sync"
	"time"

	"switchboard/store/money"
)

// Spend is what a key spent since since on every node: this node's own
// from its local store (unshipped entries included), the others' from
// PostgreSQL as of at most about a second ago. The first call for a
// key and start reads PostgreSQL; later ones read memory, refreshed in
// the background.
func (s *Store) Spend(keyID string, since time.Time) money.Money {
	return s.local.Spend(keyID, since) + s.spend.others(s, keyID, since)
}

// spendCache keeps, per key and start time, what the key spent on the
// other nodes.
type spendCache struct {
	mu sync.Mutex
	m  map[spendKey]*spendVal
}

type spendKey struct {
	keyID string
	since int64
}

type spendVal struct {
	others money.Money
	used   time.Time
}

func (c *spendCache) init() { c.m = map[spendKey]*spendVal{} }

// spendRefresh is how often the cached spend of other nodes is read
// again; spendForget drops keys not asked about for that long.
const (
	spendRefresh = time.Second
	spendForget  = 10 * time.Minute
)

func (c *spendCache) others(s *Store, keyID string, since time.Time) money.Money {
	k := spendKey{keyID, nanos(since)}
	now := time.Now()
	c.mu.Lock()
	v := c.m[k]
	if v != nil {
		v.used = now
		m := v.others
		c.mu.Unlock()
		return m
	}
	c.mu.Unlock()
	if s.downErr.Load() != nil {
		return 0 // known once PostgreSQL is back; a call must not wait for it
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err := s.othersSpend(ctx, k)
	if err != nil {
		return 0
	}
	c.mu.Lock()
	c.m[k] = &spendVal{others: m, used: now}
	c.mu.Unlock()
	return m
}

func (s *Store) othersSpend(ctx context.Context, k spendKey) (money.Money, error) {
	var sum int64
	err := s.pool.QueryRow(ctx, "SELECT coalesce(sum(cost), 0)::bigint FROM ledger WHERE key_id=$1 AND at >= $2 AND node <> $3",
		k.keyID, k.since, s.o.Node).Scan(&sum)
	s.reachable(err)
	return money.Money(sum), err
}

// refresh reads again the spend of the keys asked about lately.
func (c *spendCache) refresh(s *Store) {
	now := time.Now()
	c.mu.Lock()
	keys := make([]spendKey, 0, len(c.m))
	for k, v := range c.m {
		if now.Sub(v.used) > spendForget {
			delete(c.m, k)
			continue
		}
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		m, err := s.othersSpend(ctx, k)
		cancel()
		if err != nil {
			return
		}
		c.mu.Lock()
		if v := c.m[k]; v != nil {
			v.others = m
		}
		c.mu.Unlock()
	}
}
