package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/store"
	"switchboard/store/money"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
)

// Lease metrics.
var (
	leaseRequests     = metrics.NewCounter(`switchboard_lease_requests_total{path="background"}`)
	leaseRequestsSync = metrics.NewCounter(`switchboard_lease_requests_total{path="request"}`)
	leaseErrors       = metrics.NewCounter(`switchboard_lease_errors_total`)
)

// lease is this node's lease state of one account.
type lease struct {
	mu         sync.Mutex // one lease round trip of the account at a time
	last       atomic.Int64
	maxWorst   atomic.Int64
	queued     atomic.Bool
	emptyUntil atomic.Int64 // unix ns: PostgreSQL had only emptyAvail to lease until then
	emptyAvail atomic.Int64
	lastUse    atomic.Int64 // unix ns of the last reservation
	unlimited  atomic.Bool
}

// idleReturn is how long a lease goes unused before the node returns
// what is left of it, for other nodes to lease.
const idleReturn = 10 * time.Second

// emptyPause is how long a node waits before asking PostgreSQL again for
// more of an account than it found to lease, unless a top-up of it is
// notified first.
const emptyPause = 200 * time.Millisecond

func (s *Store) leaseOf(account string) *lease {
	s.leaseMu.RLock()
	l := s.leaseMap[account]
	s.leaseMu.RUnlock()
	if l != nil {
		return l
	}
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if l = s.leaseMap[account]; l == nil {
		l = &lease{}
		s.leaseMap[account] = l
	}
	return l
}

// Reserve holds worst on the account from this node's lease, in memory
// (store.Store.Reserve). When it runs low it asks for more in the
// background; only a reservation that finds it spent waits for a lease
// round trip, and with PostgreSQL unreachable then follows
// store.when_down.money.
func (s *Store) Reserve(account, keyID, requestID string, worst money.Money, now time.Time) (*store.Reservation, error) {
	r, err := s.local.Reserve(account, keyID, requestID, worst, now)
	l := s.leaseOf(account)
	l.lastUse.Store(now.UnixNano())
	if err == nil {
		if !l.unlimited.Load() {
			s.checkLow(l, account, worst, now)
		}
		return r, nil
	}
	if !errors.Is(err, store.ErrInsufficientCredit) {
		return nil, err
	}
	if err := s.leaseFor(l, account, worst, now); err != nil {
		return nil, err
	}
	return s.local.Reserve(account, keyID, requestID, worst, now)
}

// Settle bills the reservation locally; the shipper copies the entry to
// PostgreSQL.
func (s *Store) Settle(r *store.Reservation, e store.Entry) error { return s.local.Settle(r, e) }

// Release drops the reservation.
func (s *Store) Release(r *store.Reservation) error { return s.local.Release(r) }

// SetUnlimited marks the account as never refused for credit on this
// node (the config's operator keys); it needs no lease.
func (s *Store) SetUnlimited(id string) error {
	if err := s.EnsureAccount(id); err != nil && !isConnError(errors.Unwrap(err)) {
		return err
	}
	s.leaseOf(id).unlimited.Store(true)
	return s.local.SetUnlimited(id)
}

// checkLow queues a background lease when the lease has less left than
// half the last one or two of the largest reservations seen.
func (s *Store) checkLow(l *lease, account string, worst money.Money, now time.Time) {
	if int64(worst) > l.maxWorst.Load() {
		l.maxWorst.Store(int64(worst))
	}
	avail, _ := s.local.Available(account, now)
	if int64(avail) >= max(l.last.Load()/2, 2*l.maxWorst.Load()) || !l.queued.CompareAndSwap(false, true) {
		return
	}
	select {
	case s.wantLease <- account:
	default:
		l.queued.Store(false)
	}
}

// leaseFor leases at least what worst needs beyond what is left, while
// the request waits.
func (s *Store) leaseFor(l *lease, account string, worst money.Money, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	avail, _ := s.local.Available(account, now)
	if avail >= worst {
		return nil // leased meanwhile
	}
	refused := func(why string) error {
		return fmt.Errorf("account %q has %s available on this node, request needs up to %s%s: %w", account, max(avail, 0), worst, why, store.ErrInsufficientCredit)
	}
	need := worst - avail
	if time.Now().UnixNano() < l.emptyUntil.Load() && int64(need) > l.emptyAvail.Load() {
		return refused("")
	}
	leaseRequestsSync.Inc()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	g, pgAvail, err := s.grant(ctx, l, account, need, now)
	if err != nil {
		leaseErrors.Inc()
		if !isConnError(err) {
			return err
		}
		if s.o.FailOpen {
			// An overdraft no lease backs: the account may be overspent
			// by what is served until PostgreSQL is back.
			return s.local.GrantCredits(account, need)
		}
		return refused(" and PostgreSQL is unreachable (store.when_down.money: fail_closed)")
	}
	if g < need {
		l.emptyAvail.Store(int64(pgAvail))
		l.emptyUntil.Store(time.Now().Add(emptyPause).UnixNano())
		return refused("")
	}
	return nil
}

// leaseLoop takes the background leases checkLow queues, and refreshes
// the spend of other nodes every second.
func (s *Store) leaseLoop() {
	defer s.wg.Done()
	t := time.NewTicker(spendRefresh)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if s.downErr.Load() == nil {
				s.spend.refresh(s)
				s.returnIdle()
			}
		case account := <-s.wantLease:
			l := s.leaseOf(account)
			s.backgroundLease(l, account)
			l.queued.Store(false)
		}
	}
}

func (s *Store) backgroundLease(l *lease, account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	avail, _ := s.local.Available(account, now)
	if int64(avail) >= max(l.last.Load()/2, 2*l.maxWorst.Load()) || now.UnixNano() < l.emptyUntil.Load() || s.downErr.Load() != nil {
		return
	}
	leaseRequests.Inc()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	g, pgAvail, err := s.grant(ctx, l, account, 0, now)
	if err != nil {
		leaseErrors.Inc()
		s.o.Logf("postgres: cannot lease credit of account %q: %v", account, err)
		return
	}
	if g == 0 {
		l.emptyAvail.Store(int64(pgAvail))
		l.emptyUntil.Store(time.Now().Add(emptyPause).UnixNano())
	}
}

// grant leases credit of the account to this node in one transaction
// and adds it to the local store: at least need (else nothing), and
// otherwise lease_share of what is available, at most lease_max, at
// least two of the largest reservations seen. Available is credits plus
// the plan allowance left, less what every node holds already. It
// returns what it granted and what was available.
func (s *Store) grant(ctx context.Context, l *lease, account string, need money.Money, now time.Time) (g, avail money.Money, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		a, err := scanAccount(tx.QueryRow(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id=$1 FOR UPDATE", account))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // no account, nothing to lease
		}
		if err != nil {
			return err
		}
		var held int64
		if err := tx.QueryRow(ctx, "SELECT coalesce(sum(amount), 0)::bigint FROM leases WHERE account=$1", account).Scan(&held); err != nil {
			return err
		}
		avail = a.Credits + a.PlanLeft(now) - money.Money(held)
		if avail <= 0 || avail < need {
			return nil
		}
		// Enough for twice what this node holds in flight, so that a
		// busy node does not lease once per call.
		var inFlight money.Money
		if la, err := s.local.Account(account); err == nil {
			if left, err := s.local.Available(account, now); err == nil {
				inFlight = la.Credits + la.PlanLeft(now) - left
			}
		}
		want := shareOf(avail, s.o.LeaseShare)
		want = max(min(want, s.o.LeaseMax), 2*money.Money(l.maxWorst.Load()), 2*inFlight, need)
		g = min(want, avail)
		_, err = tx.Exec(ctx, `INSERT INTO leases (node, account, amount) VALUES ($1, $2, $3)
			ON CONFLICT (node, account) DO UPDATE SET amount = leases.amount + excluded.amount`, s.o.Node, account, int64(g))
		return err
	})
	s.reachable(err)
	if err != nil || g == 0 {
		return 0, max(avail, 0), err
	}
	// The lease is PostgreSQL's before it is the node's: a crash here
	// strands it (unspendable) until this node's next start returns it.
	if err := s.local.GrantCredits(account, g); err != nil {
		return 0, avail, err
	}
	l.last.Store(int64(g))
	return g, avail, nil
}

// returnLeases gives back what this node holds: every account's unspent
// local credit is taken out of the local store first, then the node's
// leases are deleted, so a crash between the two strands money (until
// the next start) rather than letting it be spent twice. A local
// balance below zero (calls that cost more than they reserved, already
// charged in PostgreSQL) is reset to zero. The outbox must be empty.
func (s *Store) returnLeases(ctx context.Context) error {
	accts, _ := s.local.Accounts()
	now := time.Now()
	for _, a := range accts {
		if s.leaseOf(a.ID).unlimited.Load() {
			continue
		}
		avail, err := s.local.Available(a.ID, now)
		switch {
		case err != nil:
			return err
		case avail > 0:
			err = s.local.TakeCredits(a.ID, avail)
		case a.Credits < 0:
			err = s.local.GrantCredits(a.ID, -a.Credits)
		}
		if err != nil {
			return fmt.Errorf("cannot return the lease of account %q: %w", a.ID, err)
		}
		s.leaseOf(a.ID).last.Store(0)
	}
	_, err := s.pool.Exec(ctx, "DELETE FROM leases WHERE node=$1", s.o.Node)
	s.reachable(err)
	return err
}

// returnIdle returns what is left of leases unused for idleReturn: the
// local credit first, then the lease, so that a crash between strands
// it rather than letting it be spent twice.
func (s *Store) returnIdle() {
	cutoff := time.Now().Add(-idleReturn).UnixNano()
	s.leaseMu.RLock()
	var idle []string
	for account, l := range s.leaseMap {
		if !l.unlimited.Load() && l.last.Load() > 0 && l.lastUse.Load() < cutoff {
			idle = append(idle, account)
		}
	}
	s.leaseMu.RUnlock()
	for _, account := range idle {
		l := s.leaseOf(account)
		l.mu.Lock()
		left, err := s.local.Available(account, time.Now())
		if err == nil && left > 0 && l.lastUse.Load() < cutoff {
			err = s.local.TakeCredits(account, left)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				_, err = s.pool.Exec(ctx, "UPDATE leases SET amount = greatest(amount - $3, 0) WHERE node=$1 AND account=$2", s.o.Node, account, int64(left))
				cancel()
				s.reachable(err)
			}
		}
		if err == nil {
			l.last.Store(0)
		} else {
			s.o.Logf("postgres: cannot return the idle lease of account %q: %v", account, err)
		}
		l.mu.Unlock()
	}
}

// accountChanged is a notification of a change to an account's balance
// (a top-up on any node): it may have credit to lease again.
func (s *Store) accountChanged(account string) {
	s.leaseMu.RLock()
	l := s.leaseMap[account]
	s.leaseMu.RUnlock()
	if l != nil {
		l.emptyUntil.Store(0)
	}
}

// shareOf is share (0 to 1) of m, in integer money: the share is rounded
// to thousandths, so no float touches the amount.
func shareOf(m money.Money, share float64) money.Money {
	permille := money.Money(share*1000 + 0.5)
	return m/1000*permille + m%1000*permille/1000
}
