package store

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The audit log: one record per admin action (a key created, changed or
// revoked; an account created, topped up, its credits or plan set), in
// time order under "w/<ns BE 8 B><seq BE 8 B>". Admin actions are rare
// and someone waits for each, so a record is written with pebble.Sync by
// the admin call itself, like a key record, not by the ledger's writer.

// AuditEntry is one admin action.
type AuditEntry struct {
	// ID orders the log: AppendAudit sets it, from Time and a counter.
	ID string
	// Time is when the action was made.
	Time time.Time
	// Principal is who made it: "master", "viewer", or the principal a
	// console session passed in.
	Principal string
	// Action names what was done, such as "keys.create" or
	// "accounts.topup"; Target is the id of the key or account.
	Action string
	Target string
	// Before and After are the record as JSON before and after the
	// action ("" for none): the caller's view of it, which never holds a
	// secret or a key hash.
	Before, After string
}

var auditPrefix = []byte("w/")

// auditSeq tells apart the audit records of one nanosecond.
var auditSeq atomic.Uint64

// AppendAudit writes e to the audit log, synced before it returns, and
// returns its ID.
func (s *Store) AppendAudit(e AuditEntry) (string, error) {
	if e.Time.IsZero() {
		return "", fmt.Errorf("audit entry for %s %q: no time", e.Action, e.Target)
	}
	pos := binary.BigEndian.AppendUint64(nil, unixNanos(e.Time))
	pos = binary.BigEndian.AppendUint64(pos, auditSeq.Add(1))
	e.ID = hex.EncodeToString(pos)
	err := s.read(func() error {
		return s.db.Set(append(append([]byte(nil), auditPrefix...), pos...), appendAudit(nil, &e), pebble.Sync)
	})
	if err != nil {
		return "", fmt.Errorf("cannot write the audit entry for %s %q: %w", e.Action, e.Target, err)
	}
	return e.ID, nil
}

// Audit lists the audit log newest first, limit entries a page (default
// 50, at most 500); cursor is the next of the page before, next the
// cursor of the following page ("" after the last).
func (s *Store) Audit(limit int, cursor string) (entries []AuditEntry, next string, err error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	upper := prefixEnd(auditPrefix)
	if cursor != "" {
		pos, err := hex.DecodeString(cursor)
		if err != nil || len(pos) != 16 {
			return nil, "", fmt.Errorf("cursor %q: %w", cursor, ErrBadCursor)
		}
		upper = append(append([]byte(nil), auditPrefix...), pos...)
	}
	err = s.read(func() error {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: auditPrefix, UpperBound: upper})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.Last(); ok; ok = it.Prev() {
			if len(entries) == limit {
				next = entries[len(entries)-1].ID
				return nil
			}
			k := it.Key()
			id := hex.EncodeToString(k[len(auditPrefix):])
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			e, err := decodeAudit(id, v)
			if err != nil {
				return err
			}
			entries = append(entries, e)
		}
		return it.Error()
	})
	if err != nil {
		return nil, "", err
	}
	return entries, next, nil
}

const auditRecordV1 = 1

func appendAudit(dst []byte, e *AuditEntry) []byte {
	dst = append(dst, auditRecordV1)
	dst = appendTime(dst, e.Time)
	dst = appendString(dst, e.Principal)
	dst = appendString(dst, e.Action)
	dst = appendString(dst, e.Target)
	dst = appendString(dst, e.Before)
	return appendString(dst, e.After)
}

func decodeAudit(id string, v []byte) (AuditEntry, error) {
	r := reader{b: v}
	e := AuditEntry{ID: id}
	r.version("audit entry", auditRecordV1)
	e.Time = r.time()
	e.Principal = r.string()
	e.Action = r.string()
	e.Target = r.string()
	e.Before = r.string()
	e.After = r.string()
	return e, r.done("audit entry", id)
}
