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

	// Attempts is how many upstream attempts the call made (0 when none
	// was needed, as for a response cache hit). FallbackReason is the
	// trail of the attempts that failed before the one that answered,
	// "provider/model (reason), ...", as in the x-switchboard-fallback
	// header; "" when the first attempt answered.
	Attempts       int
	FallbackReason string
	// User, Session and Tags attribute the call: the end user the client
	// named (x-switchboard-user, OpenAI's "user", Anthropic's
	// metadata.user_id), the client's session (x-switchboard-session or a
	// coding CLI's session header), and the x-switchboard-tags labels,
	// comma-separated without spaces. The gateway bounds them (see
	// proxy/attribution.go); the store keeps what it is given.
	User    string
	Session string
	Tags    string
	// HedgeWasteTokens are the tokens of a hedged call's losing attempt,
	// which the call is not billed for but a provider may bill: its
	// reported usage when it answered, else its prompt estimated from the
	// body's size. HedgeWasteCost is their catalog price (0 when
	// unpriced). Both 0 for a call that started no hedge.
	HedgeWasteTokens int64
	HedgeWasteCost   money.Money
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
	err := s.read(func() (err error) {
		e, err = s.entry(requestID)
		return err
	})
	return e, err
}

// entry is Entry for a caller that holds the database open for reading.
func (s *Store) entry(requestID string) (Entry, error) {
	v, err := s.get(ledgerKey(nil, requestID))
	if err == ErrNotFound {
		return Entry{}, fmt.Errorf("ledger entry %q: %w", requestID, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("cannot read ledger entry %q: %w", requestID, err)
	}
	return decodeEntry(requestID, v)
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
	e.PaidByPlan = p.a.Charge(e.Cost, e.Time)
	p.dirty = true
	g.entries[e.RequestID] = struct{}{}

	g.key = ledgerKey(g.key[:0], e.RequestID)
	g.buf = appendEntry(g.buf[:0], e)
	_ = g.b.Set(g.key, g.buf, nil)
	s.stageOutbox(g, g.buf)

	g.key = ledgerTimeKey(g.key[:0], e.Time, e.RequestID)
	g.buf = appendUsageRecord(g.buf[:0], e)
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

// ledgerTimePrefix starts the keys of the ledger in time order:
// "r/<ns BE 8 B><requestID>", each holding the entry's usage record
// (appendUsageRecord), so that usage grouping and the request log read a
// time range as one sequential scan, without a lookup per entry.
var ledgerTimePrefix = []byte("r/")

// ledgerTimeKey appends the time-ordered key of an entry.
func ledgerTimeKey(dst []byte, t time.Time, requestID string) []byte {
	dst = append(dst, ledgerTimePrefix...)
	dst = binary.BigEndian.AppendUint64(dst, unixNanos(t))
	return append(dst, requestID...)
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

// Ledger entry record versions: v2 adds CompressedTokens; v3 Attempts,
// FallbackReason, User, Session and Tags; v4 HedgeWasteTokens and
// HedgeWasteCost. Older records still read, with the fields they lack
// zero.
const (
	entryRecordV1 = 1
	entryRecordV2 = 2
	entryRecordV3 = 3
	entryRecordV4 = 4
)

func appendEntry(dst []byte, e *Entry) []byte {
	dst = append(dst, entryRecordV4)
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
	dst = appendVarint(dst, e.CompressedTokens)
	dst = appendVarint(dst, int64(e.Attempts))
	dst = appendString(dst, e.FallbackReason)
	dst = appendString(dst, e.User)
	dst = appendString(dst, e.Session)
	dst = appendString(dst, e.Tags)
	dst = appendVarint(dst, e.HedgeWasteTokens)
	return appendVarint(dst, int64(e.HedgeWasteCost))
}

// AppendEntryRecord appends e as the versioned binary record the ledger
// keeps (record.go); DecodeEntryRecord reads it back. The postgres
// backend stores the same record, so an entry reads back the same on
// either backend.
func AppendEntryRecord(dst []byte, e *Entry) []byte { return appendEntry(dst, e) }

// DecodeEntryRecord decodes a record of AppendEntryRecord.
func DecodeEntryRecord(requestID string, v []byte) (Entry, error) { return decodeEntry(requestID, v) }

func decodeEntry(requestID string, v []byte) (Entry, error) {
	var e Entry
	return e, decodeEntryInto(&e, requestID, v, false)
}

// decodeEntryInto decodes the record v into e. With view, e's strings
// are views of v, valid only while v is: the scans that aggregate
// entries read them without a copy each.
func decodeEntryInto(e *Entry, requestID string, v []byte, view bool) error {
	r := reader{b: v, view: view}
	version := r.version("ledger entry", entryRecordV1, entryRecordV2, entryRecordV3, entryRecordV4)
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
	e.CompressedTokens, e.Attempts, e.FallbackReason, e.User, e.Session, e.Tags = 0, 0, "", "", "", ""
	e.HedgeWasteTokens, e.HedgeWasteCost = 0, 0
	if version >= entryRecordV2 {
		e.CompressedTokens = r.varint()
	}
	if version >= entryRecordV3 {
		e.Attempts = r.int()
		e.FallbackReason = r.string()
		e.User = r.string()
		e.Session = r.string()
		e.Tags = r.string()
	}
	if version >= entryRecordV4 {
		e.HedgeWasteTokens = r.varint()
		e.HedgeWasteCost = r.money()
	}
	return r.done("ledger entry", requestID)
}

// ledgerTimeIndexed marks a store whose every entry has its time-ordered
// usage record (ledgerTimeKey). Stores written before that index existed get it
// from indexLedgerByTime on their first Open.
var ledgerTimeIndexed = []byte("m/ledger-by-time")

// indexLedgerByTime writes the time-ordered usage record of every entry
// of a store that predates them, in batches, then marks the store indexed. It
// runs in Open before the writer starts; an Open that crashes midway
// redoes it (writing a record twice changes nothing).
func (s *Store) indexLedgerByTime() error {
	if ok, err := s.has(ledgerTimeIndexed); err != nil || ok {
		return err
	}
	b := s.db.NewBatch()
	var key, rec []byte
	var e Entry
	err := s.scan(ledgerPrefix, func(k, v []byte) error {
		id := string(k[len(ledgerPrefix):])
		if err := decodeEntryInto(&e, id, v, true); err != nil {
			return err
		}
		key = ledgerTimeKey(key[:0], e.Time, id)
		rec = appendUsageRecord(rec[:0], &e)
		_ = b.Set(key, rec, nil)
		if b.Len() < 4<<20 {
			return nil
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		b.Reset()
		return nil
	})
	if err == nil {
		_ = b.Set(ledgerTimeIndexed, nil, nil)
		err = b.Commit(pebble.Sync)
	}
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot index the ledger by time: %w", err)
	}
	return nil
}

// The usage record of an entry, under its time-ordered key: the fields
// that usage grouping and the request log's filters read, about a third
// of the entry's record, so that a month's scan reads a third of the
// bytes. Its versions evolve as the entry's do (record.go).
const usageRecordV1 = 1

func appendUsageRecord(dst []byte, e *Entry) []byte {
	dst = append(dst, usageRecordV1)
	dst = appendString(dst, e.KeyID)
	dst = appendString(dst, e.ModelRequested)
	dst = appendString(dst, e.Provider)
	dst = appendString(dst, e.User)
	dst = appendString(dst, e.Session)
	dst = appendString(dst, e.Tags)
	dst = appendVarint(dst, e.InputTokens)
	dst = appendVarint(dst, e.OutputTokens)
	dst = appendVarint(dst, e.CacheReadTokens)
	dst = appendVarint(dst, e.CacheWriteTokens)
	dst = appendVarint(dst, e.ReasoningTokens)
	dst = appendVarint(dst, int64(e.Cost))
	dst = appendVarint(dst, int64(e.Status))
	return appendBool(dst, e.CacheHit)
}

// decodeUsageRecord decodes the usage record v of the entry requestID at
// t into e: the fields appendUsageRecord keeps, every other field zero.
// e's strings are views of v and of requestID.
func decodeUsageRecord(e *Entry, requestID string, t time.Time, v []byte) error {
	r := reader{b: v, view: true}
	*e = Entry{RequestID: requestID, Time: t}
	r.version("usage record", usageRecordV1)
	e.KeyID = r.string()
	e.ModelRequested = r.string()
	e.Provider = r.string()
	e.User = r.string()
	e.Session = r.string()
	e.Tags = r.string()
	e.InputTokens = r.varint()
	e.OutputTokens = r.varint()
	e.CacheReadTokens = r.varint()
	e.CacheWriteTokens = r.varint()
	e.ReasoningTokens = r.varint()
	e.Cost = r.money()
	e.Status = r.int()
	e.CacheHit = r.bool()
	return r.done("usage record", requestID)
}
