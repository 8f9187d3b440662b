package store

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"switchboard/store/money"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Entry is the ledger's record of one request: exactly one per request
// id. The store writes it through Settle (or Open, for crash leftovers);
// a second entry for an id changes nothing, not even the balance.
//
// Which requests get an entry: every request that reached a provider,
// including one that got an error status (cost 0 unless the provider
// billed usage, Status set); see Release for the ones that did not.
type Entry struct {
	RequestID string
	// Time is when the request started; Settle uses the reservation's
	// time when it is zero. Plan periods and daily spend use it.
	Time time.Time
	// KeyID is the visible ID of the key that made the request; its spend
	// counts toward the key's budgets. Account is the account charged.
	KeyID   string
	Account string
	// ModelRequested is the client's model string; Provider and
	// UpstreamModel are the target that served it.
	ModelRequested string
	Provider       string
	UpstreamModel  string

	// Tokens as the provider reported them. Pricing them is the caller's
	// (cache reads free, cache writes at provider price, reasoning at the
	// output price).
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64

	// The cost by component at catalog price, and Cost, what is charged.
	// The store charges Cost as given and does not recompute it.
	CostInput      money.Money
	CostOutput     money.Money
	CostCacheRead  money.Money
	CostCacheWrite money.Money
	Cost           money.Money
	// PaidByPlan is set by the store: the part of Cost drawn from the plan
	// allowance; Cost - PaidByPlan came out of credits.
	PaidByPlan money.Money

	// LatencyMicros is the whole request as the client saw it;
	// OverheadMicros the part the gateway added.
	LatencyMicros  int64
	OverheadMicros int64
	// Status is the HTTP status the client got; CacheHit is true when the
	// gateway's response cache answered.
	Status   int
	CacheHit bool
	// CompressedTokens is how many prompt tokens context compression
	// saved the call (the gateway's count, o200k_base).
	CompressedTokens int64
	// Settled is "" for a normal entry, SettledCrash for a reservation
	// settled at its reserved cost by Open after a crash, and
	// SettledEstimate for usage the gateway had to estimate.
	Settled string
}

// SettledCrash marks an entry Open wrote for a reservation a crash left
// open: Cost is the reserved worst case and the usage fields are zero.
const SettledCrash = "crash"

// SettledEstimate marks an entry whose usage the provider did not report
// (a stream the client cut short): the gateway estimated the tokens.
const SettledEstimate = "estimated"

// Query selects ledger entries for Entries.
type Query struct {
	// From and To bound Entry.Time: From <= Time < To; zero = unbounded.
	From, To time.Time
	// Model keeps entries whose ModelRequested or UpstreamModel is Model.
	Model string
	// KeyID keeps the entries of one key.
	KeyID string
	// Limit is the page size: default 100, at most 1000.
	Limit int
	// Cursor continues a listing where the page that returned it ended.
	Cursor string
}

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// ErrBadCursor: a Query.Cursor that Entries did not make.
var ErrBadCursor = errors.New("malformed cursor")

// Entry returns the ledger entry of a request, or ErrNotFound. An entry
// is visible once the writer committed its group, within settleLinger of
// Settle (Flush waits for it).
func (s *Store) Entry(requestID string) (Entry, error) {
	var e Entry
	err := s.read(func() error {
		v, err := s.get(ledgerKey(nil, requestID))
		if err == ErrNotFound {
			return fmt.Errorf("ledger entry %q: %w", requestID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("cannot read ledger entry %q: %w", requestID, err)
		}
		e, err = decodeEntry(requestID, v)
		return err
	})
	return e, err
}

// Entries lists an account's entries newest first, filtered by q. next is
// the cursor of the following page, "" after the last one.
func (s *Store) Entries(account string, q Query) (entries []Entry, next string, err error) {
	if err := checkID("account", account); err != nil {
		return nil, "", err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)
	prefix := ledgerIndexPrefix(nil, account)
	lower := prefix
	if !q.From.IsZero() {
		lower = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), unixNanos(q.From))
	}
	upper := prefixEnd(prefix)
	if !q.To.IsZero() {
		upper = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), unixNanos(q.To))
	}
	if q.Cursor != "" {
		pos, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(pos) <= 8 {
			return nil, "", fmt.Errorf("cursor %q: %w", q.Cursor, ErrBadCursor)
		}
		if at := append(append([]byte(nil), prefix...), pos...); string(at) < string(upper) {
			upper = at
		}
	}
	if string(upper) <= string(lower) {
		return nil, "", nil
	}
	err = s.read(func() error {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.Last(); ok; ok = it.Prev() {
			k := it.Key()
			if len(k) <= len(prefix)+8 {
				return fmt.Errorf("ledger index key %q is too short", k)
			}
			id := string(k[len(prefix)+8:])
			v, err := s.get(ledgerKey(nil, id))
			if err != nil {
				return fmt.Errorf("cannot read ledger entry %q of account %q: %w", id, account, err)
			}
			e, err := decodeEntry(id, v)
			if err != nil {
				return err
			}
			if q.Model != "" && e.ModelRequested != q.Model && e.UpstreamModel != q.Model {
				continue
			}
			if q.KeyID != "" && e.KeyID != q.KeyID {
				continue
			}
			if len(entries) == limit { // one more matches: there is a next page
				last := &entries[len(entries)-1]
				pos := binary.BigEndian.AppendUint64(nil, unixNanos(last.Time))
				next = base64.RawURLEncoding.EncodeToString(append(pos, last.RequestID...))
				return nil
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

// stageEntry adds a new entry to the group and charges its account. The
// caller has checked that the id has no entry yet.
func (s *Store) stageEntry(g *group, p *pendingAccount, e *Entry) error {
	if e.KeyID != "" && e.Cost != 0 {
		if err := s.stageSpend(g, e.KeyID, unixDay(e.Time), e.Cost); err != nil {
			return err
		}
	}
	e.PaidByPlan = p.a.charge(e.Cost, e.Time)
	p.dirty = true
	g.entries[e.RequestID] = struct{}{}

	g.key = ledgerKey(g.key[:0], e.RequestID)
	g.buf = appendEntry(g.buf[:0], e)
	_ = g.b.Set(g.key, g.buf, nil)

	g.key = ledgerIndexPrefix(g.key[:0], e.Account)
	g.key = binary.BigEndian.AppendUint64(g.key, unixNanos(e.Time))
	g.key = append(g.key, e.RequestID...)
	_ = g.b.Set(g.key, nil, nil)
	return nil
}

// entryExists reports whether requestID has an entry, written or staged.
func (s *Store) entryExists(g *group, requestID string) (bool, error) {
	if _, ok := g.entries[requestID]; ok {
		return true, nil
	}
	g.key = ledgerKey(g.key[:0], requestID)
	ok, err := s.has(g.key)
	if err != nil {
		return false, fmt.Errorf("cannot read ledger entry %q: %w", requestID, err)
	}
	return ok, nil
}

var ledgerPrefix = []byte("l/")

// ledgerIndexPrefix appends "t/<account>\x00", the prefix of an account's
// entries by time.
func ledgerIndexPrefix(dst []byte, account string) []byte {
	dst = append(dst, "t/"...)
	dst = append(dst, account...)
	return append(dst, 0)
}

func ledgerKey(dst []byte, requestID string) []byte {
	return append(append(dst, ledgerPrefix...), requestID...)
}

// unixNanos orders times in keys; times before 1970 sort as 1970.
func unixNanos(t time.Time) uint64 {
	if ns := t.UnixNano(); ns > 0 {
		return uint64(ns)
	}
	return 0
}

// Ledger entry record versions: v2 adds CompressedTokens; v1 records
// still read (as 0).
const (
	entryRecordV1 = 1
	entryRecordV2 = 2
)

func appendEntry(dst []byte, e *Entry) []byte {
	dst = append(dst, entryRecordV2)
	dst = appendString(dst, e.RequestID)
	dst = appendTime(dst, e.Time)
	dst = appendString(dst, e.KeyID)
	dst = appendString(dst, e.Account)
	dst = appendString(dst, e.ModelRequested)
	dst = appendString(dst, e.Provider)
	dst = appendString(dst, e.UpstreamModel)
	dst = appendVarint(dst, e.InputTokens)
	dst = appendVarint(dst, e.OutputTokens)
	dst = appendVarint(dst, e.CacheReadTokens)
	dst = appendVarint(dst, e.CacheWriteTokens)
	dst = appendVarint(dst, e.ReasoningTokens)
	dst = appendVarint(dst, int64(e.CostInput))
	dst = appendVarint(dst, int64(e.CostOutput))
	dst = appendVarint(dst, int64(e.CostCacheRead))
	dst = appendVarint(dst, int64(e.CostCacheWrite))
	dst = appendVarint(dst, int64(e.Cost))
	dst = appendVarint(dst, int64(e.PaidByPlan))
	dst = appendVarint(dst, e.LatencyMicros)
	dst = appendVarint(dst, e.OverheadMicros)
	dst = appendVarint(dst, int64(e.Status))
	dst = appendBool(dst, e.CacheHit)
	dst = appendString(dst, e.Settled)
	return appendVarint(dst, e.CompressedTokens)
}

func decodeEntry(requestID string, v []byte) (Entry, error) {
	r := reader{b: v}
	var e Entry
	version := r.version("ledger entry", entryRecordV1, entryRecordV2)
	e.RequestID = r.string()
	e.Time = r.time()
	e.KeyID = r.string()
	e.Account = r.string()
	e.ModelRequested = r.string()
	e.Provider = r.string()
	e.UpstreamModel = r.string()
	e.InputTokens = r.varint()
	e.OutputTokens = r.varint()
	e.CacheReadTokens = r.varint()
	e.CacheWriteTokens = r.varint()
	e.ReasoningTokens = r.varint()
	e.CostInput = r.money()
	e.CostOutput = r.money()
	e.CostCacheRead = r.money()
	e.CostCacheWrite = r.money()
	e.Cost = r.money()
	e.PaidByPlan = r.money()
	e.LatencyMicros = r.varint()
	e.OverheadMicros = r.varint()
	e.Status = r.int()
	e.CacheHit = r.bool()
	e.Settled = r.string()
	if version >= entryRecordV2 {
		e.CompressedTokens = r.varint()
	}
	return e, r.done("ledger entry", requestID)
}
