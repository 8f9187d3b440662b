package api

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/store"
	"switchboard/store/money"
)

// Usage totals grouped by who and what made the calls (a key holder's
// /api/v1/usage with group_by or bucket, and /api/v1/admin/usage), and
// the request log of every account (/api/v1/admin/requests).

// defaultUsageRange is the range of a usage query without from: the 30
// days before to.
const defaultUsageRange = 30 * 24 * time.Hour

// usageQuery reads a grouped usage query's parameters: group_by (a
// comma-separated list of key, model, provider, user, session, tag),
// bucket (hour or day; none = the whole range) and from and to (RFC 3339
// or unix seconds; default the 30 days before now).
func usageQuery(args *fasthttp.Args, now time.Time) (store.UsageQuery, error) {
	var q store.UsageQuery
	if v := args.Peek("group_by"); len(v) > 0 {
		d, err := store.ParseDimensions(string(v))
		if err != nil {
			return q, fmt.Errorf("%w: group_by: %v", ErrBadRequest, err)
		}
		q.GroupBy = d
	}
	switch v := string(args.Peek("bucket")); v {
	case "":
	case "hour":
		q.Bucket = time.Hour
	case "day":
		q.Bucket = 24 * time.Hour
	default:
		return q, fmt.Errorf("%w: bucket: want hour or day, got %q", ErrBadRequest, v)
	}
	var err error
	if q.From, err = timeArg(args, "from"); err != nil {
		return q, err
	}
	if q.To, err = timeArg(args, "to"); err != nil {
		return q, err
	}
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-defaultUsageRange)
	}
	if !q.From.Before(q.To) {
		return q, fmt.Errorf("%w: from: want a time before to (%s), got %s", ErrBadRequest, q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	return q, nil
}

// grouped reports whether a /api/v1/usage request asks for totals
// (group_by or bucket) rather than the key's entries.
func grouped(args *fasthttp.Args) bool { return args.Has("group_by") || args.Has("bucket") }

// writeUsage answers the usage totals q selects:
// {"object":"list","data":[row...]}.
func (a *API) writeUsage(ctx *fasthttp.RequestCtx, q store.UsageQuery) error {
	rows, err := a.store.Usage(q)
	if errors.Is(err, store.ErrTooManyRows) {
		return fmt.Errorf("%w: group_by: %v; narrow from and to, group by fewer fields or use a larger bucket", ErrBadRequest, err)
	}
	if err != nil {
		return err
	}
	out := usageListJSON{Object: "list", Data: make([]usageRowJSON, len(rows))}
	for i := range rows {
		out.Data[i] = newUsageRowJSON(&rows[i], q)
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

// usageListJSON is the answer of a grouped usage query.
type usageListJSON struct {
	Object string         `json:"object"`
	Data   []usageRowJSON `json:"data"`
}

// usageRowJSON is one group's totals. Only the fields of the query's
// group_by, and bucket when it has one, are present; cost is exact
// decimal dollars as a string.
type usageRowJSON struct {
	Bucket           *string `json:"bucket,omitempty"`
	Key              *string `json:"key,omitempty"`
	Model            *string `json:"model,omitempty"`
	Provider         *string `json:"provider,omitempty"`
	User             *string `json:"user,omitempty"`
	Session          *string `json:"session,omitempty"`
	Tag              *string `json:"tag,omitempty"`
	Requests         int64   `json:"requests"`
	InputTokens      int64   `json:"input_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	CacheReadTokens  int64   `json:"cache_read_tokens"`
	CacheWriteTokens int64   `json:"cache_write_tokens"`
	ReasoningTokens  int64   `json:"reasoning_tokens"`
	Cost             string  `json:"cost"`
}

// newUsageRowJSON is the answer's view of r, a row of q.
func newUsageRowJSON(r *store.UsageRow, q store.UsageQuery) usageRowJSON {
	field := func(d store.Dimension, v string) *string {
		if q.GroupBy&d == 0 {
			return nil
		}
		return &v
	}
	out := usageRowJSON{
		Key:              field(store.DimKey, r.KeyID),
		Model:            field(store.DimModel, r.Model),
		Provider:         field(store.DimProvider, r.Provider),
		User:             field(store.DimUser, r.User),
		Session:          field(store.DimSession, r.Session),
		Tag:              field(store.DimTag, r.Tag),
		Requests:         r.Requests,
		InputTokens:      r.InputTokens,
		OutputTokens:     r.OutputTokens,
		CacheReadTokens:  r.CacheReadTokens,
		CacheWriteTokens: r.CacheWriteTokens,
		ReasoningTokens:  r.ReasoningTokens,
		Cost:             string(money.Money(r.Cost).AppendDecimal(nil)),
	}
	if q.Bucket != 0 {
		b := r.Bucket.Format(time.RFC3339)
		out.Bucket = &b
	}
	return out
}

// adminUsage answers GET /api/v1/admin/usage: the usage totals of every
// account, or of one key with ?key=, as in usageQuery.
func (a *API) adminUsage(r *request) error {
	q, err := usageQuery(r.ctx.QueryArgs(), r.now)
	if err != nil {
		return err
	}
	q.KeyID = string(r.ctx.QueryArgs().Peek("key"))
	return a.writeUsage(r.ctx, q)
}

// requestQuery reads the request log's parameters: key, model
// (requested), provider, status, cache_hit (true or false), user,
// session, from and to, limit (1-500, default 50) and cursor.
func requestQuery(args *fasthttp.Args) (store.RequestQuery, error) {
	q := store.RequestQuery{
		KeyID:    string(args.Peek("key")),
		Model:    string(args.Peek("model")),
		Provider: string(args.Peek("provider")),
		User:     string(args.Peek("user")),
		Session:  string(args.Peek("session")),
		Cursor:   string(args.Peek("cursor")),
	}
	var err error
	if q.From, err = timeArg(args, "from"); err != nil {
		return q, err
	}
	if q.To, err = timeArg(args, "to"); err != nil {
		return q, err
	}
	if v := args.Peek("status"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 100 || n > 599 {
			return q, fmt.Errorf("%w: status: want an HTTP status from 100 to 599, got %q", ErrBadRequest, v)
		}
		q.Status = n
	}
	if v := args.Peek("cache_hit"); v != nil {
		hit, err := strconv.ParseBool(string(v))
		if err != nil {
			return q, fmt.Errorf("%w: cache_hit: want true or false, got %q", ErrBadRequest, v)
		}
		q.CacheHit = &hit
	}
	if v := args.Peek("limit"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > 500 {
			return q, fmt.Errorf("%w: limit: want an integer from 1 to 500, got %q", ErrBadRequest, v)
		}
		q.Limit = n
	}
	return q, nil
}

// listRequests answers GET /api/v1/admin/requests: the ledger entries of
// every account, newest first, filtered and paged as in requestQuery:
// {"object":"list","data":[entry...],"next_cursor":"..."|null}.
func (a *API) listRequests(r *request) error {
	q, err := requestQuery(r.ctx.QueryArgs())
	if err != nil {
		return err
	}
	entries, next, err := a.store.Requests(q)
	if err != nil {
		return err
	}
	page := requestPageJSON{Object: "list", Data: make([]entryJSON, len(entries)), NextCursor: orNull(next)}
	for i := range entries {
		page.Data[i] = newEntryJSON(&entries[i])
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, page)
}

// requestPageJSON is a page of the request log.
type requestPageJSON struct {
	Object     string      `json:"object"`
	Data       []entryJSON `json:"data"`
	NextCursor *string     `json:"next_cursor"`
}

// getRequest answers GET /api/v1/admin/requests/{id}: the ledger entry
// of one request of any account.
func (a *API) getRequest(r *request) error {
	e, err := a.store.Entry(r.id)
	if err != nil {
		return err
	}
	return writeData(r.ctx, fasthttp.StatusOK, newEntryJSON(&e))
}
