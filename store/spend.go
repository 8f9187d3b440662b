package store

import (
	"encoding/binary"
	"fmt"
	"switchboard/store/money"
	"time"
)

// Per-key spend answers the budget check on the hot path (is the key's
// DailyLimit or MonthlyLimit reached?) from memory. It follows the settled
// entries: the writer updates it after each group commit, so it trails the
// ledger by at most one commit, and it never counts open reservations —
// requests in flight can together pass a key's budget, unlike a balance.
//
// Durably, each key has one row per UTC day with spend (s/ rows); Open
// rebuilds the counters from them. In memory a key keeps its all-time
// total and a ring of its last spendDays days with spend, enough for a
// UTC day and a UTC calendar month.

// spendDays is the ring's length: days counted back from the latest day
// with spend, covering any calendar month.
const spendDays = 32

// keySpend is one key's spend in memory; the writer changes it under
// Store.spendMu.
type keySpend struct {
	total         money.Money
	seen          bool
	first, latest int32 // first and latest UTC day with spend
	ring          [spendDays]daySpend
}

type daySpend struct {
	day    int32
	amount money.Money
}

func (k *keySpend) add(day int32, m money.Money) {
	k.total += m
	if !k.seen {
		k.seen, k.first, k.latest = true, day, day
	}
	k.first = min(k.first, day)
	k.latest = max(k.latest, day)
	sl := &k.ring[uint32(day)%spendDays]
	switch {
	case sl.day == day:
		sl.amount += m
	case sl.day < day:
		*sl = daySpend{day: day, amount: m}
	}
	// Else day is 32+ days older than the slot's: out of the ring.
}

// Spend returns what the key's settled entries cost since the start of the
// UTC day holding since (since is rounded down to 00:00 UTC): pass the
// start of today for the daily budget and of the month for the monthly
// one, the zero Time for the all-time total. It reads memory under a read
// lock when since is within 32 days of the key's latest spend, or at or
// before its first; any other since reads the day rows from Pebble (for
// reports, not the hot path) and returns what it could read.
func (s *Store) Spend(keyID string, since time.Time) money.Money {
	day := unixDay(since)
	s.spendMu.RLock()
	ks := s.spend[keyID]
	switch {
	case ks == nil || day > ks.latest:
		s.spendMu.RUnlock()
		return 0
	case day <= ks.first:
		t := ks.total
		s.spendMu.RUnlock()
		return t
	case day > ks.latest-spendDays:
		var sum money.Money
		for i := range ks.ring {
			if ks.ring[i].day >= day {
				sum += ks.ring[i].amount
			}
		}
		s.spendMu.RUnlock()
		return sum
	}
	s.spendMu.RUnlock()
	var sum money.Money
	_ = s.read(func() error {
		lower := spendKey(nil, keyID, day)
		return s.scanRange(lower, prefixEnd(spendKeyPrefix(nil, keyID)), func(k, v []byte) error {
			m, err := decodeSpendRow(k, v)
			sum += m
			return err
		})
	})
	return sum
}

// unixDay is the UTC day holding t; day 0 is 1970-01-01.
func unixDay(t time.Time) int32 {
	secs := t.Unix()
	d := secs / 86400
	if secs < 0 && secs%86400 != 0 {
		d--
	}
	return int32(max(min(d, 1<<31-1), -1<<31))
}

// spendRow is a day row the group writes: its value before and after.
type spendRow struct{ before, after money.Money }

type spendRowKey struct {
	keyID string
	day   int32
}

// stageSpend adds cost to the key's row for day in the group;
// stageSpendRows writes the row.
func (s *Store) stageSpend(g *group, keyID string, day int32, cost money.Money) error {
	day = max(day, 0)
	rk := spendRowKey{keyID, day}
	row, ok := g.spend[rk]
	if !ok {
		before, err := s.spentOn(keyID, day)
		if err != nil {
			return err
		}
		row = spendRow{before: before, after: before}
	}
	row.after += cost
	g.spend[rk] = row
	return nil
}

// stageSpendRows writes the group's changed spend rows, each once however
// many of the group's entries it sums: a row per entry would make every
// memtable flush and compaction carry the superseded values too.
func stageSpendRows(g *group) {
	for rk, row := range g.spend {
		g.key = spendKey(g.key[:0], rk.keyID, rk.day)
		g.buf = append(g.buf[:0], spendRecordV1)
		g.buf = appendVarint(g.buf, int64(row.after))
		_ = g.b.Set(g.key, g.buf, nil)
	}
}

// spentOn is the key's committed spend on day. Only the writer calls it
// (the writer alone changes spend), so it reads the map without locking.
func (s *Store) spentOn(keyID string, day int32) (money.Money, error) {
	ks := s.spend[keyID]
	if ks == nil || day > ks.latest {
		return 0, nil
	}
	if day > ks.latest-spendDays {
		if sl := ks.ring[uint32(day)%spendDays]; sl.day == day {
			return sl.amount, nil
		}
		return 0, nil
	}
	v, err := s.get(spendKey(nil, keyID, day))
	if err == ErrNotFound {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read spend of key %q: %w", keyID, err)
	}
	return decodeSpendRow(spendKey(nil, keyID, day), v)
}

// applySpend makes a committed group's rows visible to Spend.
func (s *Store) applySpend(g *group) {
	if len(g.spend) == 0 {
		return
	}
	s.spendMu.Lock()
	for rk, row := range g.spend {
		ks := s.spend[rk.keyID]
		if ks == nil {
			ks = &keySpend{}
			s.spend[rk.keyID] = ks
		}
		ks.add(rk.day, row.after-row.before)
	}
	s.spendMu.Unlock()
}

// loadSpend rebuilds the counters from the day rows.
func (s *Store) loadSpend() error {
	return s.scan(spendPrefix, func(k, v []byte) error {
		m, err := decodeSpendRow(k, v)
		if err != nil {
			return err
		}
		id := string(k[len(spendPrefix) : len(k)-5])
		ks := s.spend[id]
		if ks == nil {
			ks = &keySpend{}
			s.spend[id] = ks
		}
		ks.add(int32(binary.BigEndian.Uint32(k[len(k)-4:])), m)
		return nil
	})
}

var spendPrefix = []byte("s/")

// spendKeyPrefix appends "s/<keyID>\x00".
func spendKeyPrefix(dst []byte, keyID string) []byte {
	dst = append(dst, spendPrefix...)
	dst = append(dst, keyID...)
	return append(dst, 0)
}

func spendKey(dst []byte, keyID string, day int32) []byte {
	return binary.BigEndian.AppendUint32(spendKeyPrefix(dst, keyID), uint32(max(day, 0)))
}

const spendRecordV1 = 1

func decodeSpendRow(k, v []byte) (money.Money, error) {
	if len(k) < len(spendPrefix)+5 || k[len(k)-5] != 0 {
		return 0, fmt.Errorf("spend row key %q is malformed", k)
	}
	r := reader{b: v}
	r.version("spend", spendRecordV1)
	m := r.money()
	return m, r.done("spend", string(k))
}
