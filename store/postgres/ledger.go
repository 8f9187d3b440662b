package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"switchboard/store"

	"github.com/jackc/pgx/v5"
)

// Entry reads a request's entry from PostgreSQL, or, not shipped yet,
// from this node's spool.
func (s *Store) Entry(requestID string) (store.Entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var rec []byte
	err := s.pool.QueryRow(ctx, "SELECT record FROM ledger WHERE request_id=$1", requestID).Scan(&rec)
	s.reachable(err)
	if err == nil {
		return store.DecodeEntryRecord(requestID, rec)
	}
	if e, lerr := s.local.Entry(requestID); lerr == nil {
		return e, nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Entry{}, fmt.Errorf("ledger entry %q: %w", requestID, store.ErrNotFound)
	}
	return store.Entry{}, fmt.Errorf("cannot read ledger entry %q: %w", requestID, err)
}

// cursor is the position of the embedded store's cursors: an entry's
// time (big-endian nanoseconds) and request id, base64url.
func cursor(e *store.Entry) string {
	pos := binary.BigEndian.AppendUint64(nil, uint64(max(e.Time.UnixNano(), 0)))
	return base64.RawURLEncoding.EncodeToString(append(pos, e.RequestID...))
}

func parseCursor(c string) (at int64, id string, err error) {
	pos, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(pos) <= 8 {
		return 0, "", fmt.Errorf("cursor %q: %w", c, store.ErrBadCursor)
	}
	return int64(binary.BigEndian.Uint64(pos)), string(pos[8:]), nil
}

// timeRange is a query's [from, to) as unix nanoseconds, unbounded ends
// filled in.
func timeRange(from, to time.Time) (int64, int64) {
	lo, hi := int64(0), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = max(from.UnixNano(), 0)
	}
	if !to.IsZero() {
		hi = max(to.UnixNano(), 0)
	}
	return lo, hi
}

// newestFirst calls fn with each entry of sql's rows (request_id,
// record), until fn returns false.
func (s *Store) scanEntries(ctx context.Context, sql string, args []any, fn func(*store.Entry) bool) error {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		s.reachable(err)
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rec []byte
		if err := rows.Scan(&id, &rec); err != nil {
			return err
		}
		e, err := store.DecodeEntryRecord(id, rec)
		if err != nil {
			return err
		}
		if !fn(&e) {
			break
		}
	}
	s.reachable(rows.Err())
	return rows.Err()
}

// Entries lists an account's entries newest first, as the embedded store
// does (same filters, page size and cursors).
func (s *Store) Entries(account string, q store.Query) ([]store.Entry, string, error) {
	if err := store.CheckID("account", account); err != nil {
		return nil, "", err
	}
	limit, curAt, curID, err := pageStart(q.Limit, 100, 1000, q.Cursor)
	if err != nil {
		return nil, "", err
	}
	lo, hi := timeRange(q.From, q.To)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var entries []store.Entry
	next := ""
	err = s.scanEntries(ctx, `SELECT request_id, record FROM ledger
		WHERE account=$1 AND at >= $2 AND at < $3 AND (at < $4 OR (at = $4 AND request_id COLLATE "C" < $5 AND $5 <> ''))
		ORDER BY at DESC, request_id COLLATE "C" DESC`,
		[]any{account, lo, hi, curAt, curID}, func(e *store.Entry) bool {
			if q.Model != "" && e.ModelRequested != q.Model && e.UpstreamModel != q.Model {
				return true
			}
			if q.KeyID != "" && e.KeyID != q.KeyID {
				return true
			}
			if len(entries) == limit {
				next = cursor(&entries[len(entries)-1])
				return false
			}
			entries = append(entries, *e)
			return true
		})
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the ledger of account %q: %w", account, err)
	}
	return entries, next, nil
}

// Usage totals the entries of q's range as the embedded store does.
func (s *Store) Usage(q store.UsageQuery) ([]store.UsageRow, error) {
	lo, hi := timeRange(q.From, q.To)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return store.SumUsage(q, func(fn func(*store.Entry) (bool, error)) error {
		var ferr error
		sql, args := `SELECT request_id, record FROM ledger WHERE at >= $1 AND at < $2 ORDER BY at, request_id COLLATE "C"`, []any{lo, hi}
		if q.KeyID != "" {
			sql, args = `SELECT request_id, record FROM ledger WHERE key_id=$3 AND at >= $1 AND at < $2 ORDER BY at, request_id COLLATE "C"`, []any{lo, hi, q.KeyID}
		}
		err := s.scanEntries(ctx, sql, args, func(e *store.Entry) bool {
			more, err := fn(e)
			ferr = err
			return more && err == nil
		})
		return errors.Join(ferr, err)
	})
}

// Requests lists every account's entries newest first, as the embedded
// store does.
func (s *Store) Requests(q store.RequestQuery) ([]store.Entry, string, error) {
	limit, curAt, curID, err := pageStart(q.Limit, 50, 500, q.Cursor)
	if err != nil {
		return nil, "", err
	}
	lo, hi := timeRange(q.From, q.To)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var entries []store.Entry
	next := ""
	err = s.scanEntries(ctx, `SELECT request_id, record FROM ledger
		WHERE at >= $1 AND at < $2 AND (at < $3 OR (at = $3 AND request_id COLLATE "C" < $4 AND $4 <> ''))
		ORDER BY at DESC, request_id COLLATE "C" DESC`,
		[]any{lo, hi, curAt, curID}, func(e *store.Entry) bool {
			if !q.Matches(e) {
				return true
			}
			if len(entries) == limit {
				next = cursor(&entries[len(entries)-1])
				return false
			}
			entries = append(entries, *e)
			return true
		})
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the request log: %w", err)
	}
	return entries, next, nil
}

// AppendAudit writes e to the audit log; its ID sorts by time.
func (s *Store) AppendAudit(e store.AuditEntry) (string, error) {
	if e.Time.IsZero() {
		return "", fmt.Errorf("audit entry for %s %q: no time", e.Action, e.Target)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var seq int64
	err := s.pool.QueryRow(ctx, "SELECT nextval('audit_seq')").Scan(&seq)
	if err == nil {
		pos := binary.BigEndian.AppendUint64(nil, uint64(max(e.Time.UnixNano(), 0)))
		e.ID = hex.EncodeToString(binary.BigEndian.AppendUint64(pos, uint64(seq)))
		_, err = s.pool.Exec(ctx, "INSERT INTO audit (id, at, principal, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			e.ID, nanos(e.Time), e.Principal, e.Action, e.Target, e.Before, e.After)
	}
	s.reachable(err)
	if err != nil {
		return "", fmt.Errorf("cannot write the audit entry for %s %q: %w", e.Action, e.Target, err)
	}
	return e.ID, nil
}

// Audit lists the audit log newest first, as the embedded store does.
func (s *Store) Audit(limit int, cur string) ([]store.AuditEntry, string, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	if cur != "" {
		if pos, err := hex.DecodeString(cur); err != nil || len(pos) != 16 {
			return nil, "", fmt.Errorf("cursor %q: %w", cur, store.ErrBadCursor)
		}
	} else {
		cur = "g" // after every hex id
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT id, at, principal, action, target, before, after FROM audit
		WHERE id COLLATE "C" < $1 ORDER BY id COLLATE "C" DESC LIMIT $2`, cur, limit+1)
	if err != nil {
		s.reachable(err)
		return nil, "", fmt.Errorf("cannot read the audit log: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Principal, &e.Action, &e.Target, &e.Before, &e.After); err != nil {
			return nil, "", err
		}
		e.Time = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// pageStart is a listing's page size (limit, or def when unset, at most
// most) and where it starts: after cur, a cursor of an earlier page, or
// at the newest entry.
func pageStart(limit, def, most int, cur string) (n int, curAt int64, curID string, err error) {
	if limit <= 0 {
		limit = def
	}
	curAt = math.MaxInt64
	if cur != "" {
		if curAt, curID, err = parseCursor(cur); err != nil {
			return 0, 0, "", err
		}
	}
	return min(limit, most), curAt, curID, nil
}
