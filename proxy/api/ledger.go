package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/store"
)

// Ledger listings, for a key holder's /api/v1/usage and the admin API's
// account ledger, and the entry shape they and /api/v1/generation share.

// writeEntries answers a page of the account's ledger entries selected by
// q: {"data":[entry...],"next_cursor":"..."|null}.
func (a *API) writeEntries(ctx *fasthttp.RequestCtx, account string, q store.Query) error {
	entries, next, err := a.store.Entries(account, q)
	if err != nil {
		return err
	}
	page := entryPageJSON{Data: make([]entryJSON, len(entries)), NextCursor: orNull(next)}
	for i := range entries {
		page.Data[i] = newEntryJSON(&entries[i])
	}
	return writeJSON(ctx, fasthttp.StatusOK, page)
}

// entryPageJSON is a page of ledger entries in an answer.
type entryPageJSON struct {
	Data       []entryJSON `json:"data"`
	NextCursor *string     `json:"next_cursor"`
}

// ledgerQuery reads a ledger listing's query parameters: from and to
// (RFC 3339 or unix seconds; from <= time < to), model (requested or
// upstream), key (a key id), limit (1-1000, default 100) and cursor (the
// next_cursor of the previous page).
func ledgerQuery(args *fasthttp.Args) (store.Query, error) {
	q := store.Query{
		Model:  string(args.Peek("model")),
		KeyID:  string(args.Peek("key")),
		Cursor: string(args.Peek("cursor")),
	}
	var err error
	if q.From, err = timeArg(args, "from"); err != nil {
		return q, err
	}
	if q.To, err = timeArg(args, "to"); err != nil {
		return q, err
	}
	if v := args.Peek("limit"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > 1000 {
			return q, fmt.Errorf("%w: limit: want an integer from 1 to 1000, got %q", ErrBadRequest, v)
		}
		q.Limit = n
	}
	return q, nil
}

// timeArg reads a query parameter holding a time as RFC 3339 or unix
// seconds; absent is the zero Time.
func timeArg(args *fasthttp.Args, name string) (time.Time, error) {
	v := string(args.Peek(name))
	if v == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if t := time.Unix(n, 0).UTC(); nanoTime(t) {
			return t, nil
		}
	}
	// An unescaped "+" of a time zone offset arrives as a space.
	if t, err := time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+")); err == nil && nanoTime(t) {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: %s: want an RFC 3339 time (2026-01-02T15:04:05Z) or unix seconds between 1678 and 2262, got %q", ErrBadRequest, name, v)
}

// nanoTime reports whether t fits in int64 unix nanoseconds, as the store
// keeps times.
func nanoTime(t time.Time) bool { return time.Unix(0, t.UnixNano()).Equal(t) }

// entryJSON is a ledger entry in an answer, in the field names of
// OpenRouter's generation stats.
type entryJSON struct {
	ID                     string            `json:"id"`
	CreatedAt              time.Time         `json:"created_at"`
	KeyID                  string            `json:"key_id"`
	Model                  string            `json:"model"`
	ProviderName           string            `json:"provider_name"`
	UpstreamModel          string            `json:"upstream_model"`
	TokensPrompt           int64             `json:"tokens_prompt"`
	TokensCompletion       int64             `json:"tokens_completion"`
	NativeTokensCached     int64             `json:"native_tokens_cached"`
	NativeTokensCacheWrite int64             `json:"native_tokens_cache_write"`
	NativeTokensReasoning  int64             `json:"native_tokens_reasoning"`
	TotalCost              dollars           `json:"total_cost"`
	CostBreakdown          costBreakdownJSON `json:"cost_breakdown"`
	PaidByPlan             dollars           `json:"paid_by_plan"`
	LatencyMs              int64             `json:"latency_ms"`
	GatewayOverheadUs      int64             `json:"gateway_overhead_us"`
	Status                 int               `json:"status"`
	CacheHit               bool              `json:"cache_hit"`
	CompressedTokens       int64             `json:"compressed_tokens"`
	// Settled is null for an entry at the provider's reported usage,
	// "estimated" or "crash" otherwise (see store.Entry.Settled).
	Settled *string `json:"settled"`
	// Account is the account charged.
	Account string `json:"account"`
	// Attempts is the number of upstream attempts; FallbackReason the
	// targets that failed before the one that answered, and why, or null.
	Attempts       int     `json:"attempts"`
	FallbackReason *string `json:"fallback_reason"`
	// User, Session and Tags attribute the call; null (tags: null) when
	// the call named none.
	User    *string  `json:"user"`
	Session *string  `json:"session"`
	Tags    []string `json:"tags"`
	// HedgeWasteTokens and HedgeWasteCost are what a hedged call's losing
	// attempt used (store.Entry.HedgeWasteTokens), not billed to the key.
	HedgeWasteTokens int64   `json:"hedge_waste_tokens"`
	HedgeWasteCost   dollars `json:"hedge_waste_cost"`
}

// costBreakdownJSON is an entry's cost by component.
type costBreakdownJSON struct {
	Input      dollars `json:"input"`
	Output     dollars `json:"output"`
	CacheRead  dollars `json:"cache_read"`
	CacheWrite dollars `json:"cache_write"`
}

// newEntryJSON is the answer's view of e.
func newEntryJSON(e *store.Entry) entryJSON {
	return entryJSON{
		ID:                     e.RequestID,
		CreatedAt:              e.Time,
		KeyID:                  e.KeyID,
		Model:                  e.ModelRequested,
		ProviderName:           e.Provider,
		UpstreamModel:          e.UpstreamModel,
		TokensPrompt:           e.InputTokens + e.CacheReadTokens + e.CacheWriteTokens,
		TokensCompletion:       e.OutputTokens,
		NativeTokensCached:     e.CacheReadTokens,
		NativeTokensCacheWrite: e.CacheWriteTokens,
		NativeTokensReasoning:  e.ReasoningTokens,
		TotalCost:              dollars(e.Cost),
		CostBreakdown:          costBreakdownJSON{dollars(e.CostInput), dollars(e.CostOutput), dollars(e.CostCacheRead), dollars(e.CostCacheWrite)},
		PaidByPlan:             dollars(e.PaidByPlan),
		LatencyMs:              e.LatencyMicros / 1000,
		GatewayOverheadUs:      e.OverheadMicros,
		Status:                 e.Status,
		CacheHit:               e.CacheHit,
		CompressedTokens:       e.CompressedTokens,
		Settled:                orNull(e.Settled),
		Account:                e.Account,
		Attempts:               e.Attempts,
		FallbackReason:         orNull(e.FallbackReason),
		User:                   orNull(e.User),
		Session:                orNull(e.Session),
		Tags:                   splitTags(e.Tags),
		HedgeWasteTokens:       e.HedgeWasteTokens,
		HedgeWasteCost:         dollars(e.HedgeWasteCost),
	}
}

// splitTags is an entry's comma-joined tags as a list, nil for none.
func splitTags(tags string) []string {
	if tags == "" {
		return nil
	}
	return strings.Split(tags, ",")
}
