package store

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"switchboard/store/money"
	"testing"
	"time"
)

// waitBehind waits until the writer handed a commit without a sync to the
// syncer.
func waitBehind(s *Store) {
	for !s.sy.behind() {
		runtime.Gosched()
	}
}

// openRecords counts the journal's records not resolved yet.
func openRecords(s *Store) int {
	s.journal.mu.Lock()
	defer s.journal.mu.Unlock()
	n := 0
	for _, seg := range s.journal.segs {
		n += seg.open
	}
	return n
}

// TestIntervalModeCommitsWithoutSyncUntilFlush: settled entries are
// committed without an fsync and their journal records kept until a sync;
// Flush syncs them (a pebble.Sync commit, here of nothing new) and lets
// the records go.
func TestIntervalModeCommitsWithoutSyncUntilFlush(t *testing.T) {
	defer func(n int64) { journalSegmentMax = n }(journalSegmentMax)
	journalSegmentMax = 256
	s, dir := openWith(t, Options{SyncInterval: noSync})
	if err := s.TopUp("team", 100*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	syncs, intervalSyncs := ledgerCommitSyncs.Get(), ledgerIntervalSyncs.Get()
	for i := range 20 {
		reserveSettle(t, s, fmt.Sprintf("req-%02d", i), money.Dollar, Entry{Cost: money.Dollar / 10})
	}
	waitCommitted(t, s, "req-19")
	waitBehind(s)
	if ledgerCommitSyncs.Get() != syncs {
		t.Fatalf("settled entries were committed with %d syncs", ledgerCommitSyncs.Get()-syncs)
	}
	if n := openRecords(s); n != 40 {
		t.Fatalf("%d journal records open before the sync, want the 20 entries' reserve and settle records", n)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.sy.behind() || ledgerCommitSyncs.Get() != syncs+1 {
		t.Fatalf("after Flush: behind %v, %d commit syncs, want one", s.sy.behind(), ledgerCommitSyncs.Get()-syncs)
	}
	if n, files := openRecords(s), len(journalFiles(t, dir)); n != 0 || files != 1 {
		t.Fatalf("after Flush: %d journal records open in %d segments, want none and the current segment", n, files)
	}
	if ledgerIntervalSyncs.Get() != intervalSyncs {
		t.Fatal("the syncer ran within its interval")
	}
}

// TestSyncSyncsOnlyWhatWasWritten: a sync runs when the writer committed
// without one or the journal was written since the last, and does nothing
// otherwise; the loop runs one after a write.
func TestSyncSyncsOnlyWhatWasWritten(t *testing.T) {
	s, _ := openWith(t, Options{SyncInterval: noSync})
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	f := func(what string, want bool) {
		t.Helper()
		did, err := s.syncNow()
		if err != nil {
			t.Fatal(err)
		}
		if did != want {
			t.Fatalf("%s: synced %v, want %v", what, did, want)
		}
	}
	f("the new journal segment's directory", true)
	f("nothing written", false)
	r, err := s.Reserve("team", "", "req-1", money.Dollar, t0)
	if err != nil {
		t.Fatal(err)
	}
	f("a reservation", true)
	f("nothing written", false)
	if err := s.Settle(r, Entry{Cost: money.Dollar / 2}); err != nil {
		t.Fatal(err)
	}
	waitBehind(s)
	f("a settled entry", true)
	if s.sy.behind() || openRecords(s) != 0 {
		t.Fatalf("after a sync: behind %v, %d journal records open", s.sy.behind(), openRecords(s))
	}
	f("nothing written", false)

	// The loop itself, on a short interval: the write wakes it, and its
	// sync lets the records go without a Flush.
	s, _ = openWith(t, Options{SyncInterval: time.Millisecond})
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	reserveSettle(t, s, "req-1", money.Dollar, Entry{Cost: money.Dollar / 2})
	for openRecords(s) > 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Entry("req-1"); err != nil {
		t.Fatalf("records let go before the entry was committed: %v", err)
	}
}

// TestSyncAlwaysSyncsEveryCommit: with SyncAlways every group commit is a
// pebble.Sync commit, there is no syncer, and the entry is in Pebble's
// files as the OS has them without the journal.
func TestSyncAlwaysSyncsEveryCommit(t *testing.T) {
	s, dir := openWith(t, Options{SyncInterval: SyncAlways})
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	commits, syncs, intervalSyncs := ledgerCommits.Get(), ledgerCommitSyncs.Get(), ledgerIntervalSyncs.Get()
	for i := range 5 {
		id := fmt.Sprintf("req-%d", i)
		reserveSettle(t, s, id, money.Dollar, Entry{Cost: money.Dollar / 10})
		waitCommitted(t, s, id)
	}
	// A commit is counted after its entry is visible: Flush (queued after
	// them, with nothing to commit itself) returns after the counts.
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, m := ledgerCommits.Get()-commits, ledgerCommitSyncs.Get()-syncs; n != m {
		t.Fatalf("%d commits, %d of them synced: want all", n, m)
	}
	if ledgerIntervalSyncs.Get() != intervalSyncs || !s.sy.always() || s.journal.track {
		t.Fatal("SyncAlways runs the syncer")
	}
	killed := killCopy(t, dir)
	for _, f := range journalFiles(t, killed) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	after := openKilled(t, killed)
	for i := range 5 {
		if _, err := after.Entry(fmt.Sprintf("req-%d", i)); err != nil {
			t.Fatalf("a synced commit is not in Pebble's files: %v", err)
		}
	}
}

// TestOpenWithRejectsANegativeInterval: SyncAlways is the one negative
// interval.
func TestOpenWithRejectsANegativeInterval(t *testing.T) {
	if _, err := OpenWith(filepath.Join(t.TempDir(), "db"), Options{SyncInterval: -time.Second}); err == nil {
		t.Fatal("a negative sync interval was accepted")
	}
}
