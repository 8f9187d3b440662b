package store

import (
	"errors"
	"fmt"
	"switchboard/store/money"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInsufficientCredit: the account's available balance does not cover
// the reservation (or the account does not exist). The proxy answers 402.
var ErrInsufficientCredit = errors.New("insufficient credit")

// ErrReservationDone: the reservation was already settled or released.
var ErrReservationDone = errors.New("reservation already settled or released")

// account is an account's balance in memory, what Reserve checks without
// touching disk:
//
//	available = a.Credits + a.PlanLeft(now) - reserved
//
// a is the committed record (the writer replaces it after each durable
// commit); reserved is the sum of the holds not yet released, including
// those of settled entries whose group commit is still running.
type account struct {
	mu       sync.Mutex
	a        Account
	reserved money.Money
	// unlimited accounts are never refused for credit (see SetUnlimited).
	unlimited bool
}

func (ac *account) available(now time.Time) money.Money {
	return ac.a.Credits + ac.a.PlanLeft(now) - ac.reserved
}

// Reservation holds a request's worst-case cost on its account, from
// Reserve until Settle or Release. The request owns it; its fields are
// read-only, and it is done with after Settle or Release returned nil.
type Reservation struct {
	RequestID string
	Account   string
	// KeyID is the key making the request: a crash-settled entry counts
	// toward its budgets.
	KeyID string
	Worst money.Money
	Time  time.Time

	acct  *account
	seg   *segment      // the journal segment of its reserve record
	sseg  *segment      // and of its settle record; nil without one
	state atomic.Uint32 // reservationOpen, then settled or released
}

const (
	reservationOpen uint32 = iota
	reservationSettled
	reservationReleased
)

// Reserve holds worst on the account for request requestID of key keyID
// ("" for none) before it is forwarded. It fails with ErrInsufficientCredit when the account's
// available balance (credits + plan allowance left at now - open holds)
// is below worst, and then holds nothing. Reserves on one account are
// serialized by the account's mutex, so concurrent requests never hold
// more than the balance: a balance is overspent only by what an entry
// costs beyond its own reservation.
//
// Reserve checks memory, and records the reservation in the journal with
// one write(2) (no fsync; ~2 µs on a VM's ext4) before returning.
//
// Crash guarantee: once Reserve returned, the reservation survives the
// process dying in any way (SIGKILL, OOM kill, panic): the record is in
// the kernel's page cache, and the next Open settles it at worst (an entry
// with Settled "crash") unless it was settled or released first. The
// syncer fdatasyncs the journal every sync interval, so a kernel crash or
// power loss loses at most the records of the last interval: the
// reservations of requests then in flight (unbilled), a release record
// (settled at worst) or a settle record whose entry was not synced either
// (settled at worst). With SyncAlways the journal is never fsynced (the
// kernel writes it back within seconds) and settled entries are fsynced
// at their commit.
//
// Why not a Pebble write with pebble.NoSync, as the WAL would seem to
// promise: in Pebble v2 a NoSync commit leaves its record in the WAL
// writer's user-space block until a sync or a full 32 KiB block flushes it
// (record.LogWriter.SyncRecordGeneralized signals the flusher only for
// syncs), so a SIGKILL right after Reserve would lose it, and the request
// the provider then served would be missing from the ledger (checked
// again on v2.1.7: a process that SIGKILLed itself after a NoSync Set,
// and after a NoSync LogData, left a WAL of 0 bytes and lost it on
// reopen). pebble.Sync per request would put an fsync on the hot path.
// TestReservationSurvivesSIGKILL checks the journal's guarantee.
func (s *Store) Reserve(account, keyID, requestID string, worst money.Money, now time.Time) (*Reservation, error) {
	if worst < 0 {
		return nil, fmt.Errorf("reservation %q: worst case %s is negative", requestID, worst)
	}
	if err := checkID("request id", requestID); err != nil {
		return nil, err
	}
	if keyID != "" {
		if err := checkID("key id", keyID); err != nil {
			return nil, err
		}
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.acctMu.RLock()
	ac := s.accts[account]
	s.acctMu.RUnlock()
	if ac == nil {
		return nil, fmt.Errorf("account %q has no balance: %w", account, ErrInsufficientCredit)
	}
	ac.mu.Lock()
	if avail := ac.available(now); avail < worst && !ac.unlimited {
		ac.mu.Unlock()
		return nil, fmt.Errorf("account %q has %s available, request %q needs up to %s: %w",
			account, avail, requestID, worst, ErrInsufficientCredit)
	}
	ac.reserved += worst
	ac.mu.Unlock()

	r := &Reservation{RequestID: requestID, Account: account, KeyID: keyID, Worst: worst, Time: now, acct: ac}
	if err := s.journal.reserve(r); err != nil {
		ac.mu.Lock()
		ac.reserved -= worst
		ac.mu.Unlock()
		return nil, err
	}
	return r, nil
}

// Settle writes the request's final entry to the journal (one write(2))
// and hands it to the group-commit writer, without waiting for the disk:
// once Settle returned the entry survives the process dying in any way
// (the next Open replays it), and within about one sync interval a power
// loss too. The entry, the charge of e.Cost (plan allowance first, then
// credits), the key's spend and the end of the reservation are committed
// in one atomic batch shortly after (at most settleLinger); Flush waits
// until they are synced. The hold stays on the balance until the commit.
//
// e.RequestID and e.Account default to the reservation's and must match
// it when set; a zero e.Time is the reservation's. If the request id
// already has an entry, nothing is charged again: the hold is released.
// On an error the reservation stays open (Release it, or a later Open
// settles it at its worst case).
func (s *Store) Settle(r *Reservation, e Entry) error {
	if r == nil {
		return errors.New("settle: nil reservation")
	}
	if e.RequestID == "" {
		e.RequestID = r.RequestID
	} else if e.RequestID != r.RequestID {
		return fmt.Errorf("settle %q: entry is for request %q", r.RequestID, e.RequestID)
	}
	if e.Account == "" {
		e.Account = r.Account
	} else if e.Account != r.Account {
		return fmt.Errorf("settle %q: entry charges account %q, the reservation holds %q", r.RequestID, e.Account, r.Account)
	}
	if e.Time.IsZero() {
		e.Time = r.Time
	}
	if e.KeyID == "" {
		e.KeyID = r.KeyID
	}
	if e.Cost < 0 {
		return fmt.Errorf("settle %q: cost %s is negative", r.RequestID, e.Cost)
	}
	if !r.state.CompareAndSwap(reservationOpen, reservationSettled) {
		return fmt.Errorf("settle %q: %w", r.RequestID, ErrReservationDone)
	}
	if err := s.w.enqueue(op{kind: opSettle, r: r, e: e, hold: r.Worst}); err != nil {
		r.state.Store(reservationOpen)
		return fmt.Errorf("settle %q: %w", r.RequestID, err)
	}
	return nil
}

// Release ends a reservation without a ledger entry, for a request that
// reached no provider (refused by a rate limit or budget after reserving,
// no route, every target unreachable before sending): nothing was served,
// so nothing is billed. A request that reached a provider and got an error
// status is settled instead, with its status and cost 0 (or what the
// provider billed). Release is durable against a process crash like
// Reserve; after Close it returns ErrClosed and the next Open settles the
// reservation at its worst case.
func (s *Store) Release(r *Reservation) error {
	if r == nil {
		return errors.New("release: nil reservation")
	}
	if !r.state.CompareAndSwap(reservationOpen, reservationReleased) {
		return fmt.Errorf("release %q: %w", r.RequestID, ErrReservationDone)
	}
	if err := s.journal.release(r); err != nil {
		return err // still held: Open will settle it
	}
	r.acct.mu.Lock()
	r.acct.reserved -= r.Worst
	r.acct.mu.Unlock()
	return nil
}

// SetUnlimited creates the account if needed and marks it, for this
// process, as never refused for credit: Reserve always holds, charges
// still draw on the plan and then on credits, which go negative. The
// gateway uses it for the accounts of operator keys from its config; the
// mark is not stored, so it lasts as long as the config says so.
func (s *Store) SetUnlimited(id string) error {
	if err := s.EnsureAccount(id); err != nil {
		return err
	}
	s.acctMu.RLock()
	ac := s.accts[id]
	s.acctMu.RUnlock()
	if ac == nil {
		return fmt.Errorf("account %q: %w", id, ErrNotFound)
	}
	ac.mu.Lock()
	ac.unlimited = true
	ac.mu.Unlock()
	return nil
}

// Available returns what the account can still reserve at now: credits,
// plus the plan allowance left, minus open holds. It reads memory.
func (s *Store) Available(id string, now time.Time) (money.Money, error) {
	s.acctMu.RLock()
	ac := s.accts[id]
	s.acctMu.RUnlock()
	if ac == nil {
		return 0, fmt.Errorf("account %q: %w", id, ErrNotFound)
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.available(now), nil
}

// stageSettle stages one settled reservation: a new entry with its
// charge, or nothing for an id that has an entry already. Its hold is
// released when the group commits.
func (s *Store) stageSettle(g *group, o *op) error {
	e := &o.e
	dup, err := s.entryExists(g, e.RequestID)
	if err != nil {
		return err
	}
	p := s.pending(g, e.Account)
	if !dup {
		if err := s.stageEntry(g, p, e); err != nil {
			return err
		}
	}
	p.hold += o.hold
	if o.r.seg != nil {
		g.resolved = append(g.resolved, o.r)
	}
	return nil
}

// settleCrashed settles the reservations a crash left open, before the
// writer starts, in one synced commit: with the entry of their settle
// record (Settle had run; the entry is replayed as it was queued, in the
// writer's order), else at their reserved cost. Those that have an entry
// are skipped by stageSettle, which is what makes a second Open harmless.
func (s *Store) settleCrashed(left []journalRecord) error {
	if len(left) == 0 {
		return nil
	}
	ops := make([]op, len(left))
	for i, jr := range left {
		r := &Reservation{RequestID: jr.requestID, Account: jr.account, KeyID: jr.keyID, Worst: jr.worst, Time: jr.time}
		if jr.entry != nil {
			ops[i] = op{kind: opSettle, r: r, e: *jr.entry}
			continue
		}
		ops[i] = op{kind: opSettle, r: r, e: Entry{
			RequestID: jr.requestID,
			Time:      jr.time,
			Account:   jr.account,
			KeyID:     jr.keyID,
			Cost:      jr.worst,
			Settled:   SettledCrash,
		}}
	}
	if err := s.commitGroup(newGroup(), ops, true); err != nil {
		return fmt.Errorf("cannot settle %d reservations left by a crash: %w", len(left), err)
	}
	var errs []error
	for i := range ops {
		if ops[i].err != nil {
			errs = append(errs, ops[i].err)
		}
	}
	return errors.Join(errs...)
}
