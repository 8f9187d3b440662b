package store

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// The outbox: with Options.Outbox, every ledger entry the writer commits
// is also written under "o/<seq BE 8 B>", in the same batch as the entry
// and its charge, with seq counting up in commit order. A shipper (the
// postgres backend) reads it oldest first, copies the entries to the
// shared ledger, and deletes what it copied with Shipped. So an entry
// reaches the shared ledger whatever happens to the process: it is in
// the outbox from the commit that makes it part of the local ledger (or
// in the journal before that, replayed into both by Open). A delete lost
// in a crash ships an entry twice; the shared ledger's request id key
// makes that harmless.
//
//	o/<seq BE 8 B>                     ledger Entry to ship       outbox.go

var outboxPrefix = []byte("o/")

// outbox is the store's outbox state. seq is the writer's (and Open's);
// waiting counts the entries written and not yet shipped.
type outbox struct {
	on      bool
	seq     uint64
	waiting atomic.Int64
	wake    chan struct{}
}

// OutboxEntry is an entry waiting in the outbox.
type OutboxEntry struct {
	Seq   uint64
	Entry Entry
}

// loadOutbox counts the entries waiting and finds the last seq.
func (s *Store) loadOutbox() error {
	s.ob.wake = make(chan struct{}, 1)
	return s.scan(outboxPrefix, func(k, _ []byte) error {
		if len(k) != len(outboxPrefix)+8 {
			return fmt.Errorf("outbox key %q: want 8 bytes of sequence", k)
		}
		s.ob.seq = binary.BigEndian.Uint64(k[len(outboxPrefix):])
		s.ob.waiting.Add(1)
		return nil
	})
}

// stageOutbox adds the record rec of an entry to the group's outbox.
func (s *Store) stageOutbox(g *group, rec []byte) {
	if !s.ob.on {
		return
	}
	s.ob.seq++
	var key [10]byte
	copy(key[:], outboxPrefix)
	binary.BigEndian.PutUint64(key[len(outboxPrefix):], s.ob.seq)
	_ = g.b.Set(key[:], rec, nil)
	g.outboxed++
}

// Outbox appends to dst up to max entries waiting in the outbox, oldest
// first. It reads Pebble, off the request path.
func (s *Store) Outbox(dst []OutboxEntry, max int) ([]OutboxEntry, error) {
	err := s.read(func() error {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: outboxPrefix, UpperBound: prefixEnd(outboxPrefix)})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok && max > 0; ok = it.Next() {
			k := it.Key()
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			seq := binary.BigEndian.Uint64(k[len(outboxPrefix):])
			e, err := decodeEntry(fmt.Sprintf("outbox %d", seq), v)
			if err != nil {
				return err
			}
			dst = append(dst, OutboxEntry{Seq: seq, Entry: e})
			max--
		}
		return it.Error()
	})
	return dst, err
}

// Shipped deletes shipped entries from the outbox. It does not sync: a
// delete a crash loses ships its entry again.
func (s *Store) Shipped(shipped []OutboxEntry) error {
	if len(shipped) == 0 {
		return nil
	}
	err := s.read(func() error {
		b := s.db.NewBatch()
		defer b.Close()
		var key [10]byte
		copy(key[:], outboxPrefix)
		for _, oe := range shipped {
			binary.BigEndian.PutUint64(key[len(outboxPrefix):], oe.Seq)
			_ = b.Delete(key[:], nil)
		}
		return b.Commit(pebble.NoSync)
	})
	if err != nil {
		return fmt.Errorf("cannot delete %d shipped entries from the outbox: %w", len(shipped), err)
	}
	s.ob.waiting.Add(-int64(len(shipped)))
	return nil
}

// HasOutbox reports whether the store was opened with Options.Outbox.
func (s *Store) HasOutbox() bool { return s.ob.on }

// OutboxLen is how many entries wait in the outbox.
func (s *Store) OutboxLen() int64 { return s.ob.waiting.Load() }

// OutboxWake receives after a commit that added entries to the outbox.
func (s *Store) OutboxWake() <-chan struct{} { return s.ob.wake }
