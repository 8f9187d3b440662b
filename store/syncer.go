package store

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
)

// The syncer: one goroutine per store that makes the writer's
// pebble.NoSync commits and the journal's records durable every sync
// interval (Options.SyncInterval), off the requests' path. The writer's
// design comment (writer.go) says what that changes; this is how.
//
// It sleeps until the first write after its last sync pokes it (a commit
// without a sync, a journal record, a new journal segment), waits one
// interval so that the sync covers everything written meanwhile, then
// syncs: db.LogData(nil, pebble.Sync) writes out and fdatasyncs Pebble's
// WAL, and with it every commit before it, and each journal segment
// written since the last sync is fdatasynced. Only then are the
// reservations of the synced commits resolved in the journal. Nothing
// written since the last sync: no wake-up, no sync.
//
// A write lands in at most the interval plus two syncs' time after it
// reached the OS: it may come just after a running sync took its list.
//
// With SyncAlways there is no loop: the writer commits every group with
// pebble.Sync and the journal is never fsynced, as before the syncer.

// Syncer metrics. switchboard_ledger_syncs_total{trigger="commit"} is the
// writer's, in writer.go.
var (
	ledgerIntervalSyncs = metrics.NewCounter(`switchboard_ledger_syncs_total{trigger="interval"}`)
	ledgerSyncErrors    = metrics.NewCounter(`switchboard_ledger_sync_errors_total`)
	ledgerSyncDuration  = metrics.NewHistogram(`switchboard_ledger_sync_duration_seconds`)
)

type syncer struct {
	every  time.Duration // 0: SyncAlways, no loop
	wake   chan struct{} // the first write since the last sync
	stop   chan struct{}
	exited chan struct{}

	// run is held by one sync at a time: the loop's, or the writer's
	// resolving after a commit with pebble.Sync, which must not return
	// before a sync already running resolved what it took.
	run sync.Mutex

	mu       sync.Mutex
	commits  int            // commits without a sync since the last take
	resolved []*Reservation // the settled reservations of those commits
	spare    []*Reservation // never aliases resolved
}

func (sy *syncer) init(every time.Duration) {
	sy.every = every
	sy.wake = make(chan struct{}, 1)
	sy.stop = make(chan struct{})
	sy.exited = make(chan struct{})
}

// always reports whether every commit syncs (SyncAlways).
func (sy *syncer) always() bool { return sy.every == 0 }

func (s *Store) startSyncer() {
	if s.sy.always() {
		close(s.sy.exited)
		return
	}
	go s.syncLoop()
}

// closeSyncer stops the loop after a last sync. The writer has drained.
func (s *Store) closeSyncer() {
	if !s.sy.always() {
		close(s.sy.stop)
	}
	<-s.sy.exited
}

// committed hands the syncer a group the writer committed without a sync:
// its reservations are resolved after the next sync.
func (sy *syncer) committed(rs []*Reservation) {
	sy.mu.Lock()
	first := sy.commits == 0
	sy.commits++
	sy.resolved = append(sy.resolved, rs...)
	sy.mu.Unlock()
	if first {
		poke(sy.wake)
	}
}

// behind reports whether a commit is waiting for a sync.
func (sy *syncer) behind() bool {
	sy.mu.Lock()
	defer sy.mu.Unlock()
	return sy.commits > 0
}

// take returns what was committed without a sync since the last take.
// Hand rs back with giveBack once done with it.
func (sy *syncer) take() (commits int, rs []*Reservation) {
	sy.mu.Lock()
	commits, rs = sy.commits, sy.resolved
	sy.commits, sy.resolved, sy.spare = 0, sy.spare[:0], nil
	sy.mu.Unlock()
	return commits, rs
}

func (sy *syncer) giveBack(rs []*Reservation) {
	clear(rs) // drop references for the GC
	sy.mu.Lock()
	if sy.spare == nil {
		sy.spare = rs[:0]
	}
	sy.mu.Unlock()
}

func (s *Store) syncLoop() {
	sy := &s.sy
	defer close(sy.exited)
	t := time.NewTimer(sy.every)
	t.Stop()
	for {
		select {
		case <-sy.wake:
		case <-sy.stop:
			_, _ = s.syncNow() // reported by Close
			return
		}
		t.Reset(sy.every)
		select {
		case <-t.C:
		case <-sy.stop:
			t.Stop()
			_, _ = s.syncNow()
			return
		}
		_, _ = s.syncNow() // reported by Flush and Close
	}
}

// syncNow makes everything committed and journaled so far durable, and
// then resolves the synced commits' reservations. It reports whether
// there was anything to sync. Its error is also kept for Flush and Close.
func (s *Store) syncNow() (bool, error) {
	sy := &s.sy
	sy.run.Lock()
	defer sy.run.Unlock()
	commits, rs := sy.take()
	defer sy.giveBack(rs)
	if commits == 0 && !s.journal.pending() {
		return false, nil
	}
	start := time.Now()
	var perr error
	if commits > 0 {
		if err := s.db.LogData(nil, pebble.Sync); err != nil {
			perr = fmt.Errorf("cannot sync %d ledger commits: %w", commits, err)
		}
	}
	jerr := s.journal.sync()
	ledgerSyncDuration.UpdateDuration(start)
	ledgerIntervalSyncs.Inc()
	if perr == nil {
		// Their entries are durable in Pebble: the journal may let go of
		// their records. After a failed sync they stay, and the next Open
		// settles them from their settle records.
		s.journal.resolve(rs)
	}
	if err := errors.Join(perr, jerr); err != nil {
		ledgerSyncErrors.Inc()
		s.w.fail(err)
		return true, err
	}
	return true, nil
}

// synced resolves, after the writer committed g with pebble.Sync, the
// reservations of g and of every commit before it that had no sync.
func (s *Store) synced(g *group) {
	sy := &s.sy
	sy.run.Lock()
	_, rs := sy.take()
	s.journal.resolve(rs)
	s.journal.resolve(g.resolved)
	sy.run.Unlock()
	sy.giveBack(rs)
}
