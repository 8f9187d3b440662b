package store

import (
	"fmt"
	"switchboard/store/money"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
)

// The group commit.
//
// Every change to money goes through one goroutine, the writer: ledger
// entries (Settle), top-ups, EnsureAccount, SetCredits, AssignPlan and
// CreateKeyAndAccount. A
// caller appends an op to a queue under a mutex and pokes the writer; the
// writer takes the whole queue, stages every op into one Pebble batch,
// commits it, and only then applies the group to memory and answers the
// waiters. While it commits, new ops queue up and become the next group,
// so the group size follows the load. When only settled entries are
// queued, the writer lingers up to settleLinger before taking the queue,
// so that at low load a group still holds several entries: nobody waits
// for those.
//
// How a group is committed follows the sync interval (Options.SyncInterval,
// the config's billing.sync_interval):
//
//   - An interval (the default, DefaultSyncInterval): a group of settled
//     entries only is committed with pebble.NoSync, which makes no system
//     call; the syncer (syncer.go), one goroutine per store, fsyncs
//     Pebble's WAL and the journal once per interval in which something
//     was written. A group with a waiter (Flush, TopUp, EnsureAccount,
//     SetCredits, AssignPlan) is committed with pebble.Sync, which makes
//     every commit before it durable too.
//   - SyncAlways ("always"): every group is committed with pebble.Sync,
//     one fsync per group, as before the syncer; the journal is never
//     fsynced.
//
// What keeps a settled entry through a crash before any fsync: Settle
// writes the entry to the reservation journal as a settle record, one
// write(2) on the caller's goroutine, before it queues the op and before
// the handler sends the end of its answer. A pebble.NoSync commit alone
// would not: Pebble v2 keeps it in the WAL writer's user-space block
// until a sync or a full 32 KiB block (see Reserve), so a SIGKILL loses
// it. Open replays the settle records of the reservations the journal
// still holds, so an entry that did not reach Pebble's files comes back
// at its real cost, not its reserved worst case.
//
// So "durable" has two levels. Written: the entry's settle record (for
// an admin change, its Pebble commit) is in the OS, and survives the
// process dying in any way (kill -9, OOM kill, panic). Synced: fsynced,
// and survives a power loss or kernel crash. An entry is written when
// Settle returns and synced within about one interval (with SyncAlways,
// at its group's commit); top-ups and admin changes are synced before
// they return, as they are rare and someone waits for them.
//
// Invariants:
//
//  1. One writer. Only the writer goroutine writes account records, ledger
//     entries, top-up records and spend rows (and Open, before the writer
//     starts). So it computes each account's new record from the committed
//     state in memory, with no read-modify-write race and no lock held
//     across I/O.
//  2. Memory follows the OS. An account's fields in memory and the spend
//     counters change only after the write carrying the change reached
//     the OS: for settled entries, after their group's commit, their
//     settle records having been written before they were queued; for a
//     group with a waiter, after its fsync. A settled reservation holds
//     its worst case until then. Reserve therefore never sees money a
//     process crash could take back; a power loss can take back what the
//     last interval wrote (see Reserve).
//  3. Atomic. An entry, its account's new record, its spend row and its
//     index key are in the group's one batch: after a crash all of them
//     are there or none, and then the reservation and its settle record
//     are still in the journal.
//  4. Exactly once. Before staging an entry the writer checks that its
//     request id has no entry, in Pebble or earlier in the group; that
//     goes for the entries Open replays too. A second entry for an id
//     only releases its hold.
//  5. Replayed in order. Settle writes its settle record and queues its
//     op under the queue's lock, and settle records go to the current
//     segment, so the journal holds them in the order the writer applies
//     them and Open replays them in that order: a replayed charge draws
//     on the plan or the credits as it did before the crash.
//  6. Answered after synced. Flush, TopUp, SetCredits, AssignPlan and
//     EnsureAccount return after their group's fsync, which covers every
//     commit before it: after Flush every entry queued before it is
//     synced (reservations are left to the syncer). Settle returns after
//     its one write(2), so the hot path never waits for a disk.
//  7. Let go after synced. A reservation's journal records are resolved
//     (its segment may then be deleted) only after its entry is fsynced
//     in Pebble, by the syncer's sync or a later pebble.Sync commit. So
//     no crash of any kind finds neither the entry nor its records.
//  8. Close drains. After Close marks the queue closed no op is accepted,
//     the writer exits only after committing every op queued before, and
//     the syncer's last sync comes after the writer's last commit.
//  9. Bounded. A batch holds at most maxGroup ops, and enqueue waits while
//     maxQueued ops are queued: a disk slower than the requests slows the
//     handlers down instead of growing memory without end.
//
// Rejected alternatives:
//
//   - db.Apply(b, pebble.Sync) per request: Pebble groups concurrent syncs
//     in its own commit pipeline too, but each caller blocks for the fsync
//     (the handler after its last byte) or needs a goroutine to wait in.
//   - One fsync per group as the default (now SyncAlways): the fsync, an
//     fdatasync of ~220 µs of which ~75 µs kernel CPU on the bench VM,
//     ran up to 200 times a second on the one CPU the gateway is pinned
//     to; the bench measured +569 µs p99 over the floor at c=1 (+5 µs
//     with billing off) and a p99 of 19.6 ms against 2 ms at 5000/s.
//   - pebble.NoSync commits without settle records: a SIGKILL loses the
//     entries still in Pebble's user-space WAL block, and their requests
//     are settled at their worst case instead of their cost.
//   - Settle records written by the writer, one write(2) per group: less
//     CPU, but an entry would reach the OS up to settleLinger after its
//     answer, and a kill in between would bill it at the worst case.
//   - Settle records in the reservation's own segment, as releases: a
//     long stream's older segment would get them out of the writer's
//     order, and a failed write would tear a segment that later records
//     follow.
//   - Syncing on the writer's goroutine on a timer: the groups queued
//     behind each fsync would wait for it. Pebble's WALMinSyncInterval:
//     it spaces out the fsyncs of pebble.Sync commits, but each committer
//     still waits for one.
//   - No linger (a group is whatever queued during the last commit): at
//     one request at a time every entry paid a whole commit, with
//     SyncAlways an fsync of its own; the bench measured +370 µs of CPU
//     and +450 µs of latency per request on a one-CPU gateway. Ops
//     someone waits for never linger.
//   - A channel of ops: the slice lets the writer take the whole queue at
//     once and reuse both backing arrays, with no allocation per op.
//   - Charging in memory at Settle and compensating later: a duplicate
//     entry or a failed commit would need an undo; holding the reservation
//     until the entry is committed needs none and errs on the safe side.
//
// On a commit error the group's ops fail (waiters get the error, Flush
// reports it), their holds stay and their reservations stay in the
// journal, so the next Open settles them from their settle records (or
// at their worst case). A sync error is kept for Flush and Close likewise,
// and the reservations of the commits it did not sync stay in the journal.

// Writer metrics.
var (
	ledgerCommits        = metrics.NewCounter(`switchboard_ledger_commits_total`)
	ledgerCommitErrors   = metrics.NewCounter(`switchboard_ledger_commit_errors_total`)
	ledgerEntries        = metrics.NewCounter(`switchboard_ledger_entries_total`)
	ledgerCommitDuration = metrics.NewHistogram(`switchboard_ledger_commit_duration_seconds`)
	ledgerGroupOps       = metrics.NewHistogram(`switchboard_ledger_group_ops`)
	ledgerCommitSyncs    = metrics.NewCounter(`switchboard_ledger_syncs_total{trigger="commit"}`)
)

const (
	// maxGroup caps the ops in one batch: a group of 1024 entries is
	// ~200 KB, well under the half memtable at which Pebble turns a batch
	// into a flushable batch of its own (a new L0 table per commit).
	maxGroup = 1024
	// maxQueued is the queue length at which enqueue waits: ~6 MB of ops,
	// over a second of 10k requests/s while a disk stalls.
	maxQueued = 1 << 14
)

// settleLinger is how long the writer lets settled entries gather before
// it commits them, unless an op with a waiter or a full group arrives.
var settleLinger = 5 * time.Millisecond

type opKind uint8

const (
	opSettle opKind = iota + 1
	opTopUp
	opEnsureAccount
	opSetCredits
	opAssignPlan
	opCreateKey
	opGrant
	opTake
	opFlush
)

// op is one queued write. Ops are queued by value.
type op struct {
	kind    opKind
	create  bool         // opTopUp, opSetCredits, opAssignPlan: create a missing account (next to kind: no padding)
	r       *Reservation // opSettle
	e       Entry        // opSettle
	hold    money.Money  // opSettle: the hold to release once committed
	account string       // opTopUp, opSetCredits, opAssignPlan, opEnsureAccount, opCreateKey, opGrant, opTake
	amount  money.Money  // opTopUp, opSetCredits, opGrant, opTake; the price for opAssignPlan
	idem    string       // opTopUp
	plan    string       // opAssignPlan
	key     *Key         // opCreateKey
	period  time.Duration
	at      time.Time
	done    chan error // nil: nobody waits (opSettle)
	err     error      // the op's own result, set by the writer
}

type writer struct {
	journal *journal // settle records are written under mu
	mu      sync.Mutex
	queue   []op
	closed  bool
	err     error     // the first commit error, reported by flush
	drained sync.Cond // on mu: the writer took the queue
	wake    chan struct{}
	urgent  chan struct{} // an op with a waiter, a full group, or close
	exited  chan struct{}
}

func (w *writer) start(s *Store) {
	w.journal = &s.journal
	w.drained.L = &w.mu
	w.wake = make(chan struct{}, 1)
	w.urgent = make(chan struct{}, 1)
	w.exited = make(chan struct{})
	go s.writeLoop()
}

// enqueue queues o for the next group. It waits only when maxQueued ops
// are queued already: the disk cannot keep up, and holding the caller
// (after its client got the last byte) is the backpressure. A settled
// entry is first written to the journal, under the queue's lock, so that
// settle records are in queue order (invariant 5). If that write fails,
// the entry is queued all the same: only a crash before its commit is
// synced would then bill it at its worst case, as its reservation's
// record still says.
func (w *writer) enqueue(o op) error {
	w.mu.Lock()
	for len(w.queue) >= maxQueued && !w.closed {
		w.drained.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if o.kind == opSettle {
		_ = w.journal.settle(o.r, &o.e) // counted in journalWriteErrors
	}
	w.queue = append(w.queue, o)
	urgent := o.done != nil || len(w.queue) >= maxGroup
	w.mu.Unlock()
	poke(w.wake)
	if urgent {
		poke(w.urgent)
	}
	return nil
}

// poke wakes the writer through ch unless it is poked already.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// do queues o and waits until its group is synced.
func (w *writer) do(o op) error {
	o.done = make(chan error, 1)
	if err := w.enqueue(o); err != nil {
		return err
	}
	return <-o.done
}

// fail keeps err if it is the first error since Open, for flush and close.
func (w *writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// firstErr returns the first commit or sync error since Open.
func (w *writer) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *writer) flush() error {
	if err := w.do(op{kind: opFlush}); err != nil {
		return err
	}
	return w.firstErr()
}

// close stops the queue and waits until the writer committed it all.
func (w *writer) close() error {
	w.mu.Lock()
	w.closed = true
	w.drained.Broadcast()
	w.mu.Unlock()
	poke(w.wake)
	poke(w.urgent)
	<-w.exited
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (s *Store) writeLoop() {
	w := &s.w
	defer close(w.exited)
	g := newGroup()
	var spare []op
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for range w.wake {
		for {
			linger.Reset(settleLinger)
			select {
			case <-linger.C:
			case <-w.urgent:
				linger.Stop()
			}
			w.mu.Lock()
			ops, closed := w.queue, w.closed
			if len(ops) > 0 {
				w.queue = spare[:0] // swap only a full queue: spare must never alias it
			}
			w.mu.Unlock()
			if len(ops) > 0 {
				w.drained.Broadcast()
				for rest := ops; len(rest) > 0; {
					n := min(len(rest), maxGroup)
					sync := s.sy.always() || hasWaiter(rest[:n])
					_ = s.commitGroup(g, rest[:n], sync) // reported to the ops and by flush
					rest = rest[n:]
				}
				clear(ops) // drop references for the GC
				spare = ops
			}
			if closed {
				return // nothing can be queued after closed was set
			}
			if len(ops) == 0 {
				break // wait for a poke
			}
		}
	}
}

// hasWaiter reports whether someone waits for one of ops: the group is
// then committed with pebble.Sync.
func hasWaiter(ops []op) bool {
	for i := range ops {
		if ops[i].done != nil {
			return true
		}
	}
	return false
}

// group is the writer's scratch state for one commit, reused.
type group struct {
	b        *pebble.Batch
	accts    map[string]*pendingAccount
	free     []*pendingAccount
	entries  map[string]struct{}
	topUps   map[string]topUp
	spend    map[spendRowKey]spendRow
	resolved []*Reservation
	outboxed int // entries added to the outbox
	key, buf []byte
}

// pendingAccount is an account's new state within a group.
type pendingAccount struct {
	mem   *account // nil: a new account, added to memory on commit
	a     Account
	hold  money.Money // holds of the group's settled reservations
	dirty bool
}

func newGroup() *group {
	return &group{
		accts:   map[string]*pendingAccount{},
		entries: map[string]struct{}{},
		topUps:  map[string]topUp{},
		spend:   map[spendRowKey]spendRow{},
	}
}

func (g *group) reset(b *pebble.Batch) {
	g.b = b
	for _, p := range g.accts {
		*p = pendingAccount{}
		g.free = append(g.free, p)
	}
	clear(g.accts)
	clear(g.entries)
	clear(g.topUps)
	clear(g.spend)
	clear(g.resolved)
	g.resolved = g.resolved[:0]
	g.outboxed = 0
}

// pending returns the group's working copy of an account.
func (s *Store) pending(g *group, id string) *pendingAccount {
	if p := g.accts[id]; p != nil {
		return p
	}
	var p *pendingAccount
	if n := len(g.free); n > 0 {
		p, g.free = g.free[n-1], g.free[:n-1]
	} else {
		p = &pendingAccount{}
	}
	s.acctMu.RLock()
	p.mem = s.accts[id]
	s.acctMu.RUnlock()
	if p.mem != nil {
		p.mem.mu.Lock()
		p.a = p.mem.a
		p.mem.mu.Unlock()
	} else {
		p.a = Account{ID: id}
	}
	g.accts[id] = p
	return p
}

// commitGroup stages ops into one batch, commits it (with pebble.Sync if
// sync, else pebble.NoSync and the syncer syncs it later) and applies it
// to memory. Each op's own error is in op.err; the returned error is the
// commit's, which fails them all.
func (s *Store) commitGroup(g *group, ops []op, sync bool) error {
	g.reset(s.db.NewBatch())
	for i := range ops {
		o := &ops[i]
		switch o.kind {
		case opSettle:
			o.err = s.stageSettle(g, o)
		case opTopUp:
			o.err = s.stageTopUp(g, o)
		case opEnsureAccount:
			s.stageEnsureAccount(g, o)
		case opSetCredits:
			o.err = s.stageSetCredits(g, o)
		case opAssignPlan:
			o.err = s.stageAssignPlan(g, o)
		case opCreateKey:
			s.stageCreateKey(g, o)
		case opGrant:
			o.err = s.stageGrant(g, o)
		case opTake:
			o.err = s.stageTake(g, o)
		case opFlush:
		default:
			panic(fmt.Sprintf("BUG: unknown writer op %d", o.kind))
		}
	}
	stageAccounts(g)
	stageSpendRows(g)
	if sync && g.b.Empty() && s.sy.behind() {
		// A Flush with nothing new to write still syncs the commits
		// before it.
		_ = g.b.LogData(nil, nil)
	}
	var err error
	if !g.b.Empty() {
		opts := pebble.NoSync
		if sync {
			opts = pebble.Sync
		}
		start := time.Now()
		err = g.b.Commit(opts)
		ledgerCommitDuration.UpdateDuration(start)
		ledgerCommits.Inc()
		ledgerGroupOps.Update(float64(len(ops)))
		if sync {
			ledgerCommitSyncs.Inc()
		}
	}
	_ = g.b.Close()
	g.b = nil
	if err != nil {
		err = fmt.Errorf("cannot commit a group of %d ledger writes: %w", len(ops), err)
		ledgerCommitErrors.Inc()
		s.w.fail(err)
		for i := range ops {
			if ops[i].done != nil {
				ops[i].done <- err
			}
		}
		return err
	}
	s.applyGroup(g)
	if sync {
		s.synced(g)
	} else if len(g.resolved) > 0 {
		s.sy.committed(g.resolved) // an empty batch too: a duplicate's entry may be unsynced
	}
	for i := range ops {
		if ops[i].done != nil {
			ops[i].done <- ops[i].err
		}
	}
	return nil
}

// applyGroup makes a committed group visible: account records, released
// holds, spend counters.
func (s *Store) applyGroup(g *group) {
	for id, p := range g.accts {
		if p.mem == nil {
			s.acctMu.Lock()
			if p.mem = s.accts[id]; p.mem == nil {
				p.mem = &account{}
				s.accts[id] = p.mem
			}
			s.acctMu.Unlock()
		}
		p.mem.mu.Lock()
		if p.dirty {
			p.mem.a = p.a
		}
		p.mem.reserved -= p.hold
		p.mem.mu.Unlock()
	}
	s.applySpend(g)
	ledgerEntries.Add(len(g.entries))
	if g.outboxed > 0 {
		s.ob.waiting.Add(int64(g.outboxed))
		poke(s.ob.wake)
	}
}
