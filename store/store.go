// Package store keeps the gateway's durable state: API keys, accounts and
// their balances, the ledger of served requests, and per-key spend, in an
// embedded Pebble database, plus a journal of open reservations beside it.
// The response cache lives in the same database (cache.go).
//
// # Key layout
//
// Every Pebble key starts with a one-letter kind and '/', so a prefix scan
// reads one kind of record. IDs are the caller's strings, checked to be
// 1-256 bytes without NUL (NUL ends an ID inside a composite key). Every
// value starts with a version byte (see record.go). One file owns each
// kind: only it encodes, decodes and writes it.
//
//	k/<keyID>                          Key record                 keys.go
//	h/<SHA-256 of the secret, 32 B>    keyID: hash uniqueness     keys.go
//	a/<accountID>                      Account record             accounts.go
//	u/<idempotency key>                top-up: account, amount    accounts.go
//	l/<requestID>                      ledger Entry               ledger.go
//	t/<accountID> 0x00 <ns BE 8 B> <requestID>
//	                                   empty: an account's entries
//	                                   by time, for Entries       ledger.go
//	r/<ns BE 8 B><requestID>           copy of the ledger Entry: the
//	                                   ledger by time, for Usage
//	                                   and Requests               ledger.go
//	m/ledger-by-time                   empty: every entry has its
//	                                   r/ copy                    ledger.go
//	w/<ns BE 8 B><seq BE 8 B>          AuditEntry: the admin
//	                                   actions in time order      audit.go
//	s/<keyID> 0x00 <UTC day BE 4 B>    money.Money the key spent that
//	                                   UTC day (day 0 = 1970-01-01) spend.go
//	o/<seq BE 8 B>                     ledger Entry to ship       outbox.go
//	c/<namespace 1 B><key 32 B>        cached value, compressed   cache.go
//	e/<expiry ns BE 8 B><namespace 1 B><key 32 B>
//	                                   entry's bytes: the cache
//	                                   in expiry order, to evict  cache.go
//
// Beside Pebble's files, in the same directory (Pebble ignores names it
// does not know):
//
//	reservations-<n>.journal           open reservations          journal.go
//
// # Writes
//
// Account records, top-ups, ledger entries and spend rows are written only
// by the group-commit writer (writer.go), one Pebble batch per group, so
// an entry and the balance change it causes are atomic. Key records are
// written by the admin calls directly, with pebble.Sync. Reservations, and
// each settled entry until it is synced in Pebble, live in the journal;
// see Reserve for why they are not Pebble writes. The syncer (syncer.go)
// fsyncs the ledger's commits and the journal every sync interval. Cache
// entries are written by cache.go with pebble.NoSync: a cache may lose its
// latest writes in a crash, the ledger may not.
//
// The in-memory state (balances with their open holds, per-key spend) is
// rebuilt from Pebble and the journal by Open and changes only after the
// write that carries it has reached the OS (writer.go, invariant 2).
package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound: no record with that ID.
	ErrNotFound = errors.New("not found")
	// ErrExists: a record with that ID (or key hash) already exists.
	ErrExists = errors.New("already exists")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store is closed")
)

// Store is the open state of one gateway node. It is safe for concurrent
// use. Close it once; nothing may be called after Close.
type Store struct {
	db  *pebble.DB
	dir string

	mu     sync.RWMutex // readers of db hold it for reading, Close for writing
	closed atomic.Bool

	acctMu sync.RWMutex
	accts  map[string]*account // never shrinks: a *account outlives any lookup

	spendMu sync.RWMutex
	spend   map[string]*keySpend // by key ID; written by the writer only

	keyMu sync.Mutex // serializes key writes: check-then-set of ID and hash

	journal journal
	w       writer
	sy      syncer

	cache cache // the response cache's counters and writer lock

	ob outbox // the entries to ship, with Options.Outbox
}

// Options tune a store opened with OpenWith. The zero value is the
// default.
type Options struct {
	// SyncInterval is how often the ledger's commits and the reservation
	// journal are fsynced, off the requests' path: a process crash loses
	// nothing either way, a power loss or kernel crash at most what the
	// last interval wrote. Default (0) DefaultSyncInterval; SyncAlways
	// fsyncs every group commit instead, and never the journal.
	SyncInterval time.Duration
	// Outbox keeps a copy of every new ledger entry in the outbox
	// (outbox.go) until Shipped deletes it: the postgres backend's
	// spool. Default false.
	Outbox bool
}

// DefaultSyncInterval is the sync interval of Open and of a zero Options:
// at most 10 syncs a second whatever the load, and a power loss takes
// back at most a tenth of a second of entries.
const DefaultSyncInterval = 100 * time.Millisecond

// SyncAlways as Options.SyncInterval commits every ledger group with
// pebble.Sync, one fsync per group on the writer's goroutine.
const SyncAlways time.Duration = -1

// Open is OpenWith with the default Options.
func Open(dir string) (*Store, error) {
	return OpenWith(dir, Options{})
}

// OpenWith opens (creating if needed) the store in dir, rebuilds the
// balances and spend counters, and settles the reservations a crash left
// open: at the entry of their settle record if Settle had written one,
// else at their reserved cost (entries with Settled "crash"). Running Open
// again after a crash at any point of that settles nothing twice.
func OpenWith(dir string, o Options) (*Store, error) {
	every := o.SyncInterval
	switch {
	case every == SyncAlways:
		every = 0
	case every == 0:
		every = DefaultSyncInterval
	case every < 0:
		return nil, fmt.Errorf("cannot open store in %q: sync interval %s is negative", dir, every)
	}
	// The block cache keeps the index and filter blocks the writer's
	// per-entry existence checks read. With Pebble's default (8 MB made
	// per DB) BenchmarkReserveSettle measured a 7% hit rate and a pread per
	// check; with this one 99% and 3x the throughput.
	cache := pebble.NewCache(32 << 20)
	defer cache.Unref() // the DB holds its own reference
	opts := &pebble.Options{Logger: quietLogger{}, Cache: cache}
	for i := range opts.Levels {
		// The writer looks up every request id before writing its entry
		// (exactly once); ids are random, so nearly all lookups miss.
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open store in %q: %w", dir, err)
	}
	s := &Store{
		db:    db,
		dir:   dir,
		accts: map[string]*account{},
		spend: map[string]*keySpend{},
	}
	s.ob.on = o.Outbox
	s.sy.init(every)
	s.journal.track, s.journal.wake = !s.sy.always(), s.sy.wake
	if err := s.recover(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot open store in %q: %w", dir, err)
	}
	s.w.start(s)
	s.startSyncer()
	return s, nil
}

// recover loads the in-memory state and settles the journal's leftovers.
func (s *Store) recover() error {
	if err := s.loadAccounts(); err != nil {
		return err
	}
	if err := s.loadSpend(); err != nil {
		return err
	}
	if err := s.loadCache(); err != nil {
		return err
	}
	if err := s.indexLedgerByTime(); err != nil {
		return err
	}
	if err := s.loadOutbox(); err != nil {
		return err
	}
	left, segs, err := readJournal(s.dir)
	if err != nil {
		return err
	}
	if err := s.settleCrashed(left); err != nil {
		return err
	}
	// Only now, with the crash entries durable, may the old segments go.
	return s.journal.start(s.dir, segs)
}

// Ready reports whether the store can serve reads.
func (s *Store) Ready() error {
	if s == nil {
		return errors.New("store is not open")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	_, closer, err := s.db.Get(readyProbeKey)
	if err == nil {
		_ = closer.Close()
		return nil
	}
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("store read failed: %w", err)
}

// Degraded is always nil: the embedded store is whole or not Ready.
func (s *Store) Degraded() error { return nil }

// readyProbeKey is a key that is never written; reading it exercises the
// read path without touching data.
var readyProbeKey = []byte("\x00ready")

// Flush waits until everything queued before it (settled entries, top-ups)
// is committed and fsynced, whatever the sync interval; the journal's
// reservations are left to the syncer. It returns the first commit or
// sync error since Open, if any.
func (s *Store) Flush() error {
	return s.w.flush()
}

// Close waits for everything queued, syncs it, then closes the store.
// Reservations still open stay in the journal and are settled at their
// reserved cost by the next Open, so stop serving requests before closing.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	_ = s.w.close()
	s.closeSyncer() // after the writer's last commit: its last sync covers it
	werr := s.w.firstErr()
	jerr := s.journal.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(werr, jerr, s.db.Close())
}

// get returns a copy of the value at key, or nil and ErrNotFound.
func (s *Store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, nil
}

// has reports whether key exists.
func (s *Store) has(key []byte) (bool, error) {
	_, closer, err := s.db.Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	_ = closer.Close()
	return true, nil
}

// read runs fn with the database open for reading.
func (s *Store) read(fn func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	return fn()
}

// scan calls fn for each key and value under prefix, in key order. The
// slices are valid only during the call.
func (s *Store) scan(prefix []byte, fn func(k, v []byte) error) error {
	return s.scanRange(prefix, prefixEnd(prefix), fn)
}

// scanRange is scan over the keys in [lower, upper).
func (s *Store) scanRange(lower, upper []byte, fn func(k, v []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			_ = it.Close()
			return err
		}
	}
	return it.Close()
}

// prefixEnd returns the first key after every key with prefix p (p does not
// end in 0xff in this layout).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	end[len(end)-1]++
	return end
}

// quietLogger drops Pebble's informational lines and keeps errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}
