package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/store"
	"switchboard/store/money"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
)

// The shipper copies the local outbox to PostgreSQL, oldest first, in
// batches of up to shipBatch entries, each one transaction:
//
//  1. read which of the batch's request ids the ledger has already (a
//     retry after a lost commit, or a crash before Shipped): those
//     change nothing;
//  2. lock the batch's accounts (in id order, so two nodes never
//     deadlock), charge each new entry in order (plan first, then
//     credits, as the embedded store does), insert it with
//     ON CONFLICT DO NOTHING, and take its cost off this node's lease;
//  3. commit, then delete the batch from the outbox.
//
// A crash or a lost connection anywhere leaves the batch in the outbox to
// be shipped again, and step 1 makes that harmless. One goroutine ships;
// Flush and Close ship on theirs, under the same lock.

// Shipper metrics.
var (
	shippedEntries = metrics.NewCounter(`switchboard_ledger_shipped_entries_total`)
	shipBatches    = metrics.NewCounter(`switchboard_ledger_ship_batches_total`)
	shipErrors     = metrics.NewCounter(`switchboard_ledger_ship_errors_total`)
)

const shipBatch = 512

type shipper struct {
	mu        sync.Mutex
	buf       []store.OutboxEntry
	wake      chan struct{}
	lastEmpty atomic.Int64 // unix ns when a drain last left the outbox empty
}

func (sh *shipper) poke() {
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// behind reports whether the outbox has not been empty for a while: it
// holds more than the moment's entries on their way.
func (sh *shipper) behind() bool {
	return time.Since(time.Unix(0, sh.lastEmpty.Load())) > 2*time.Second
}

// drain ships until the outbox is empty or a batch fails.
func (sh *shipper) drain(ctx context.Context, s *Store) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for {
		batch, err := s.local.Outbox(sh.buf[:0], shipBatch)
		sh.buf = batch
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			sh.lastEmpty.Store(time.Now().UnixNano())
			return nil
		}
		if err := s.shipBatch(ctx, batch); err != nil {
			shipErrors.Inc()
			return fmt.Errorf("cannot ship %d ledger entries to PostgreSQL: %w", len(batch), err)
		}
		if err := s.local.Shipped(batch); err != nil {
			return err
		}
		clear(sh.buf)
	}
}

func (s *Store) shipLoop() {
	defer s.wg.Done()
	s.ship.lastEmpty.Store(time.Now().UnixNano())
	retry := time.NewTicker(500 * time.Millisecond)
	defer retry.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.local.OutboxWake():
		case <-s.ship.wake:
		case <-retry.C:
			if s.local.OutboxLen() == 0 {
				s.ship.lastEmpty.Store(time.Now().UnixNano())
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.ship.drain(ctx, s); err != nil && s.downErr.Load() == nil {
			s.o.Logf("postgres: %v", err)
		}
		cancel()
	}
}

func (s *Store) shipBatch(ctx context.Context, batch []store.OutboxEntry) error {
	ids := make([]string, len(batch))
	var accts []string
	for i := range batch {
		ids[i] = batch[i].Entry.RequestID
		accts = append(accts, batch[i].Entry.Account)
	}
	slices.Sort(accts)
	accts = slices.Compact(accts)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		have := map[string]bool{}
		rows, err := tx.Query(ctx, "SELECT request_id FROM ledger WHERE request_id = ANY($1)", ids)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			have[id] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(have) == len(batch) {
			return nil
		}
		if _, err := tx.Exec(ctx, "INSERT INTO accounts (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", accts); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, "SELECT "+accountColumns+` FROM accounts WHERE id = ANY($1) ORDER BY id COLLATE "C" FOR UPDATE`, accts)
		if err != nil {
			return err
		}
		byID := map[string]*store.Account{}
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			byID[a.ID] = &a
		}
		if err := rows.Err(); err != nil {
			return err
		}
		consumed := map[string]money.Money{}
		b := &pgx.Batch{}
		var inserted []string
		var rec []byte
		for i := range batch {
			e := &batch[i].Entry
			if have[e.RequestID] {
				continue
			}
			have[e.RequestID] = true
			a := byID[e.Account]
			if a == nil {
				return fmt.Errorf("BUG: account %q of entry %q not locked", e.Account, e.RequestID)
			}
			e.PaidByPlan = a.Charge(e.Cost, e.Time)
			consumed[e.Account] += e.Cost
			rec = store.AppendEntryRecord(rec[:0], e)
			inserted = append(inserted, e.RequestID)
			b.Queue(`INSERT INTO ledger (request_id, at, account, key_id, cost, paid_by_plan, node, record)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
				e.RequestID, max(e.Time.UnixNano(), 0), e.Account, e.KeyID, int64(e.Cost), int64(e.PaidByPlan), s.o.Node, slices.Clone(rec))
		}
		for _, id := range accts {
			a := byID[id]
			b.Queue(`UPDATE accounts SET credits=$2, plan=$3, plan_price=$4, plan_period=$5, plan_since=$6,
				period_start=$7, period_end=$8, plan_used=$9, spent=$10, topped_up=$11 WHERE id=$1`,
				a.ID, int64(a.Credits), a.Plan, int64(a.PlanPrice), int64(a.PlanPeriod), nanos(a.PlanSince),
				nanos(a.PeriodStart), nanos(a.PeriodEnd), int64(a.PlanUsed), int64(a.Spent), int64(a.ToppedUp))
			if c := consumed[id]; c != 0 {
				b.Queue("UPDATE leases SET amount = greatest(amount - $3, 0) WHERE node=$1 AND account=$2", s.o.Node, id, int64(c))
			}
		}
		res := tx.SendBatch(ctx, b)
		for i := 0; i < b.Len(); i++ {
			tag, err := res.Exec()
			if err == nil && i < len(inserted) && tag.RowsAffected() != 1 {
				// Another writer inserted it since step 1: roll back, so
				// that the retry charges it nowhere.
				err = fmt.Errorf("ledger entry %q appeared during the batch", inserted[i])
			}
			if err != nil {
				_ = res.Close()
				return err
			}
		}
		return res.Close()
	})
	s.reachable(err)
	if err == nil {
		shipBatches.Inc()
		shippedEntries.Add(len(batch))
	}
	return err
}
