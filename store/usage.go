package store

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"switchboard/store/money"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Reading the ledger by time (the r/ keys, ledgerTimeKey): usage totals
// grouped by who and what made the calls, and the request log of every
// account. Both are one sequential scan of the time range, decoding each
// entry in place (decodeEntryInto with view), off the request path.

// Dimension is a field of a ledger entry that Usage groups by.
type Dimension uint8

// The dimensions Usage groups by. DimTag counts an entry once under each
// of its tags, and under "" when it has none.
const (
	DimKey Dimension = 1 << iota
	DimModel
	DimProvider
	DimUser
	DimSession
	DimTag
)

// dimensionNames names each Dimension as the API's group_by does.
var dimensionNames = [...]struct {
	d    Dimension
	name string
}{{DimKey, "key"}, {DimModel, "model"}, {DimProvider, "provider"}, {DimUser, "user"}, {DimSession, "session"}, {DimTag, "tag"}}

// ParseDimensions reads a comma-separated list of dimension names (key,
// model, provider, user, session, tag), or returns an error naming the
// one it does not know.
func ParseDimensions(list string) (Dimension, error) {
	var ds Dimension
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		d := Dimension(0)
		for _, n := range dimensionNames {
			if n.name == name {
				d = n.d
			}
		}
		if d == 0 {
			return 0, fmt.Errorf("unknown dimension %q; want a comma-separated list of key, model, provider, user, session, tag", name)
		}
		ds |= d
	}
	return ds, nil
}

// UsageQuery selects and groups ledger entries for Usage.
type UsageQuery struct {
	// From and To bound Entry.Time: From <= Time < To; zero = unbounded.
	From, To time.Time
	// KeyID keeps the entries of one key; "" = every key.
	KeyID string
	// GroupBy are the dimensions each row totals; 0 = one total.
	GroupBy Dimension
	// Bucket splits the totals by UTC hour (time.Hour) or day (24h);
	// 0 = the whole range.
	Bucket time.Duration
	// MaxRows bounds the rows of an answer: Usage returns ErrTooManyRows
	// past it. Default (0) 100,000.
	MaxRows int
}

// ErrTooManyRows: a Usage query whose grouping yields more than MaxRows
// rows.
var ErrTooManyRows = fmt.Errorf("too many rows")

// UsageRow is the total of the entries of one group. Only the fields of
// the query's dimensions (and Bucket, when it has one) are set.
type UsageRow struct {
	// Bucket is the start of the row's hour or day; zero without buckets.
	Bucket   time.Time
	KeyID    string
	Model    string // Entry.ModelRequested
	Provider string
	User     string
	Session  string
	Tag      string

	Requests         int64
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64
	Cost             money.Money
}

// add counts e in the row.
func (r *UsageRow) add(e *Entry) {
	r.Requests++
	r.InputTokens += e.InputTokens
	r.OutputTokens += e.OutputTokens
	r.CacheReadTokens += e.CacheReadTokens
	r.CacheWriteTokens += e.CacheWriteTokens
	r.ReasoningTokens += e.ReasoningTokens
	r.Cost += e.Cost
}

// Usage totals the ledger entries that q selects by q's groups, ordered
// by bucket, then by cost (highest first), then by the group's fields.
// It reads the range in one scan, a second or less for a million entries
// (BenchmarkUsageByModelByDay).
func (s *Store) Usage(q UsageQuery) ([]UsageRow, error) {
	return SumUsage(q, func(fn func(*Entry) (bool, error)) error {
		return s.scanLedgerByTime(q.From, q.To, false, fn)
	})
}

// SumUsage is Usage over the entries scan passes to its fn, which keeps
// those of q.KeyID (scan may pass others) and returns false to stop; fn
// copies what it keeps, so the entry may be reused after each call.
func SumUsage(q UsageQuery, scan func(fn func(*Entry) (bool, error)) error) ([]UsageRow, error) {
	if q.Bucket != 0 && q.Bucket != time.Hour && q.Bucket != 24*time.Hour {
		return nil, fmt.Errorf("usage bucket %s: want 1h or 24h", q.Bucket)
	}
	maxRows := q.MaxRows
	if maxRows <= 0 {
		maxRows = 100_000
	}
	groups := map[string]*UsageRow{}
	var gk []byte
	add := func(e *Entry, tag string) error {
		gk = appendGroupKey(gk[:0], e, tag, q)
		if r := groups[string(gk)]; r != nil {
			r.add(e)
			return nil
		}
		if len(groups) == maxRows {
			return fmt.Errorf("usage: more than %d rows: %w", maxRows, ErrTooManyRows)
		}
		r := newUsageRow(e, tag, q)
		r.add(e)
		groups[string(gk)] = r
		return nil
	}
	err := scan(func(e *Entry) (bool, error) {
		if q.KeyID != "" && e.KeyID != q.KeyID {
			return true, nil
		}
		if q.GroupBy&DimTag == 0 || e.Tags == "" {
			return true, add(e, "")
		}
		for tag := range strings.SplitSeq(e.Tags, ",") {
			if err := add(e, tag); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	rows := make([]UsageRow, 0, len(groups))
	for _, r := range groups {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b UsageRow) int {
		return cmp.Or(a.Bucket.Compare(b.Bucket), cmp.Compare(b.Cost, a.Cost),
			strings.Compare(a.KeyID, b.KeyID), strings.Compare(a.Model, b.Model),
			strings.Compare(a.Provider, b.Provider), strings.Compare(a.User, b.User),
			strings.Compare(a.Session, b.Session), strings.Compare(a.Tag, b.Tag))
	})
	return rows, nil
}

// bucketOf is the start of the bucket of t, or 0 without buckets.
func bucketOf(t time.Time, q UsageQuery) int64 {
	if q.Bucket == 0 {
		return 0
	}
	ns := t.UnixNano()
	return ns - ns%int64(q.Bucket) // UTC hours and days are whole multiples since 1970
}

// appendGroupKey appends the map key of e's group: its bucket and the
// values of q's dimensions, NUL-separated.
func appendGroupKey(dst []byte, e *Entry, tag string, q UsageQuery) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(bucketOf(e.Time, q)))
	for _, n := range dimensionNames {
		if q.GroupBy&n.d != 0 {
			dst = append(append(dst, dimensionValue(e, n.d, tag)...), 0)
		}
	}
	return dst
}

// dimensionValue is e's value of dimension d.
func dimensionValue(e *Entry, d Dimension, tag string) string {
	switch d {
	case DimKey:
		return e.KeyID
	case DimModel:
		return e.ModelRequested
	case DimProvider:
		return e.Provider
	case DimUser:
		return e.User
	case DimSession:
		return e.Session
	}
	return tag
}

// newUsageRow is the empty row of e's group, its strings copied out of
// the record they view.
func newUsageRow(e *Entry, tag string, q UsageQuery) *UsageRow {
	r := &UsageRow{}
	if q.Bucket != 0 {
		r.Bucket = time.Unix(0, bucketOf(e.Time, q)).UTC()
	}
	for _, n := range dimensionNames {
		if q.GroupBy&n.d == 0 {
			continue
		}
		v := strings.Clone(dimensionValue(e, n.d, tag))
		switch n.d {
		case DimKey:
			r.KeyID = v
		case DimModel:
			r.Model = v
		case DimProvider:
			r.Provider = v
		case DimUser:
			r.User = v
		case DimSession:
			r.Session = v
		case DimTag:
			r.Tag = v
		}
	}
	return r
}

// RequestQuery selects entries of every account for Requests. Empty
// fields do not filter.
type RequestQuery struct {
	// From and To bound Entry.Time: From <= Time < To; zero = unbounded.
	From, To time.Time
	KeyID    string
	// Model keeps entries whose ModelRequested is Model.
	Model    string
	Provider string
	User     string
	Session  string
	// Status keeps entries with that HTTP status; 0 = any.
	Status int
	// CacheHit keeps the response cache's hits (true) or the others.
	CacheHit *bool
	// Limit is the page size: default 50, at most 500.
	Limit int
	// Cursor continues a listing where the page that returned it ended.
	Cursor string
}

// Matches reports whether q's filters (all but the time range) keep e.
func (q *RequestQuery) Matches(e *Entry) bool {
	return (q.KeyID == "" || e.KeyID == q.KeyID) &&
		(q.Model == "" || e.ModelRequested == q.Model) &&
		(q.Provider == "" || e.Provider == q.Provider) &&
		(q.User == "" || e.User == q.User) &&
		(q.Session == "" || e.Session == q.Session) &&
		(q.Status == 0 || e.Status == q.Status) &&
		(q.CacheHit == nil || e.CacheHit == *q.CacheHit)
}

// Requests lists the entries of every account newest first, filtered by
// q. next is the cursor of the following page, "" after the last one.
// It filters on the usage records and reads the whole entry of each one
// it returns.
func (s *Store) Requests(q RequestQuery) (entries []Entry, next string, err error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	to := q.To
	var after []byte // the cursor's position: entries before it
	if q.Cursor != "" {
		pos, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(pos) <= 8 {
			return nil, "", fmt.Errorf("cursor %q: %w", q.Cursor, ErrBadCursor)
		}
		after = append(append([]byte(nil), ledgerTimePrefix...), pos...)
	}
	err = s.scanLedgerRange(q.From, to, after, true, func(e *Entry) (bool, error) {
		if !q.Matches(e) {
			return true, nil
		}
		if len(entries) == limit { // one more matches: there is a next page
			last := &entries[len(entries)-1]
			pos := binary.BigEndian.AppendUint64(nil, unixNanos(last.Time))
			next = base64.RawURLEncoding.EncodeToString(append(pos, last.RequestID...))
			return false, nil
		}
		full, err := s.entry(e.RequestID)
		if err != nil {
			return false, err
		}
		entries = append(entries, full)
		return true, nil
	})
	if err != nil {
		return nil, "", err
	}
	return entries, next, nil
}

// scanLedgerByTime is scanLedgerRange without a cursor.
func (s *Store) scanLedgerByTime(from, to time.Time, newestFirst bool, fn func(*Entry) (bool, error)) error {
	return s.scanLedgerRange(from, to, nil, newestFirst, fn)
}

// scanLedgerRange calls fn with each entry of from <= Time < to (zero =
// unbounded), oldest first or newest first, and with before set only
// those whose time key sorts before it. The entry holds only what its
// usage record keeps (decodeUsageRecord) and views the record: it is
// valid only during the call. fn returns false to stop.
func (s *Store) scanLedgerRange(from, to time.Time, before []byte, newestFirst bool, fn func(*Entry) (bool, error)) error {
	lower := append([]byte(nil), ledgerTimePrefix...)
	if !from.IsZero() {
		lower = binary.BigEndian.AppendUint64(lower, unixNanos(from))
	}
	upper := prefixEnd(ledgerTimePrefix)
	if !to.IsZero() {
		upper = binary.BigEndian.AppendUint64(append([]byte(nil), ledgerTimePrefix...), unixNanos(to))
	}
	if before != nil && string(before) < string(upper) {
		upper = before
	}
	if string(upper) <= string(lower) {
		return nil
	}
	return s.read(func() error {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return err
		}
		defer it.Close()
		var e Entry
		first, step := it.First, it.Next
		if newestFirst {
			first, step = it.Last, it.Prev
		}
		for ok := first(); ok; ok = step() {
			k := it.Key()
			if len(k) <= len(ledgerTimePrefix)+8 {
				return fmt.Errorf("ledger time key %q is too short", k)
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			id := unsafeString(k[len(ledgerTimePrefix)+8:])
			at := time.Unix(0, int64(binary.BigEndian.Uint64(k[len(ledgerTimePrefix):]))).UTC()
			if err := decodeUsageRecord(&e, id, at, v); err != nil {
				return err
			}
			if more, err := fn(&e); err != nil || !more {
				return err
			}
		}
		return it.Error()
	})
}
