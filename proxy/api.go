package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/store"
	"switchboard/store/money"
)

// The /api/v1 surface: a key holder's own billing data in OpenRouter's
// shapes (and OpenAI's legacy credit summary), and under admin/ the admin
// API of admin.go. None of it is on the hot path: it answers through
// typed structs and sonic, and every handler returns an error that
// serveAPI turns into the OpenAI error shape.

// apiCall is one request to the /api/v1 surface as its handler sees it.
type apiCall struct {
	ctx *fasthttp.RequestCtx
	key *Key   // the key holder's key; nil on admin calls
	id  string // the {id} segment of an admin path
	now time.Time
}

// apiRoutes maps "METHOD pattern" to the handler of each endpoint; a
// pattern is the path after /api/v1/, with {id} for a key or account id.
// Patterns under admin/ take the master key, the others a gateway key.
var apiRoutes = map[string]func(*Server, *apiCall) error{
	"GET credits":                   (*Server).credits,
	"GET key":                       (*Server).keyInfo,
	"GET generation":                (*Server).generation,
	"GET usage":                     (*Server).usage,
	"GET dashboard/billing/credits": (*Server).dashboardCredits,

	"GET admin/keys":                  (*Server).listKeys,
	"POST admin/keys":                 (*Server).createKey,
	"GET admin/keys/{id}":             (*Server).getKey,
	"PATCH admin/keys/{id}":           (*Server).patchKey,
	"DELETE admin/keys/{id}":          (*Server).revokeKey,
	"GET admin/accounts":              (*Server).listAccounts,
	"GET admin/accounts/{id}":         (*Server).getAccount,
	"POST admin/accounts/{id}/topup":  (*Server).topUp,
	"PUT admin/accounts/{id}/credits": (*Server).setCredits,
	"PUT admin/accounts/{id}/plan":    (*Server).setPlan,
	"GET admin/accounts/{id}/ledger":  (*Server).accountLedger,
}

var errAPINotFound = fmt.Errorf("%w: no such endpoint under /api/v1; see /api/v1/credits, /api/v1/key, /api/v1/generation, /api/v1/usage and /api/v1/admin", errNoRoute)

// serveAPI answers a request for path, the part after /api/v1/ (or
// "dashboard/billing/credits" for OpenAI's legacy path).
func (s *Server) serveAPI(ctx *fasthttp.RequestCtx, path string) {
	if err := s.api(ctx, path); err != nil {
		writeError(ctx, err)
	}
}

// api authenticates the caller (the master key for admin paths, first,
// so that nothing about them shows without it; a gateway key for the
// others) and runs the path's handler.
func (s *Server) api(ctx *fasthttp.RequestCtx, path string) error {
	c := &apiCall{ctx: ctx, now: time.Now()}
	pattern := strings.TrimSuffix(path, "/")
	admin := pattern == "admin" || strings.HasPrefix(pattern, "admin/")
	if admin {
		if err := s.checkMasterKey(&ctx.Request.Header); err != nil {
			return err
		}
		// admin/<collection>/<id>[/<action>]
		if parts := strings.SplitN(pattern, "/", 4); len(parts) >= 3 {
			c.id, parts[2] = parts[2], "{id}"
			if c.id == "" {
				return errAPINotFound
			}
			if err := checkID("id", c.id); err != nil {
				return err
			}
			pattern = strings.Join(parts, "/")
		}
	}
	h, err := findRoute(ctx, pattern)
	if err != nil {
		return err
	}
	if !admin {
		if c.key, err = s.keys.authenticate(&ctx.Request.Header, c.now); err != nil {
			return err
		}
	}
	return h(s, c)
}

// findRoute returns the handler of the request's method and pattern, or
// the error to answer: 405 when the pattern exists for other methods,
// else 404.
func findRoute(ctx *fasthttp.RequestCtx, pattern string) (func(*Server, *apiCall) error, error) {
	method := string(ctx.Method())
	if h := apiRoutes[method+" "+pattern]; h != nil {
		return h, nil
	}
	var allowed []string
	for route := range apiRoutes {
		if m, p, _ := strings.Cut(route, " "); p == pattern {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		return nil, errAPINotFound
	}
	slices.Sort(allowed)
	return nil, fmt.Errorf("%w: %s %s; want %s", errMethodNotAllowed, method, ctx.Path(), strings.Join(allowed, " or "))
}

// credits answers GET /api/v1/credits in OpenRouter's shape: what the
// key's account was ever given and has used, so that total_credits -
// total_usage is what it can spend now (credits plus plan allowance left).
func (s *Server) credits(c *apiCall) error {
	a, err := s.store.Account(c.key.Account)
	if err != nil {
		return err
	}
	return writeData(c.ctx, fasthttp.StatusOK, struct {
		TotalCredits dollars `json:"total_credits"`
		TotalUsage   dollars `json:"total_usage"`
	}{dollars(a.Spent + a.Credits + a.PlanLeft(c.now)), dollars(a.Spent)})
}

// keyInfo answers GET /api/v1/key in OpenRouter's shape: the key's
// limits and what it spent all time, today and this month (UTC).
func (s *Server) keyInfo(c *apiCall) error {
	k := c.key
	daily := s.store.Spend(k.ID, startOfDay(c.now))
	monthly := s.store.Spend(k.ID, startOfMonth(c.now))
	// OpenRouter's key has one limit: the monthly one, else the daily one.
	limit, spent, period := k.monthlyLimit, monthly, "monthly"
	if limit == 0 {
		limit, spent, period = k.dailyLimit, daily, "daily"
	}
	var remaining *dollars
	var reset *string
	if limit > 0 {
		left := dollars(max(limit-spent, 0))
		remaining, reset = &left, &period
	}
	return writeData(c.ctx, fasthttp.StatusOK, struct {
		Label          string        `json:"label"`
		Name           string        `json:"name"`
		ID             string        `json:"id"`
		Account        string        `json:"account"`
		Limit          *dollars      `json:"limit"`
		LimitRemaining *dollars      `json:"limit_remaining"`
		LimitReset     *string       `json:"limit_reset"`
		Usage          dollars       `json:"usage"`
		UsageDaily     dollars       `json:"usage_daily"`
		UsageMonthly   dollars       `json:"usage_monthly"`
		IsFreeTier     bool          `json:"is_free_tier"`
		IsOperator     bool          `json:"is_operator"`
		AllowedModels  []string      `json:"allowed_models"`
		ExpiresAt      *time.Time    `json:"expires_at"`
		RateLimit      rateLimitJSON `json:"rate_limit"`
	}{
		Label:          k.ID,
		Name:           k.Name,
		ID:             k.ID,
		Account:        k.Account,
		Limit:          orNull(dollars(limit)),
		LimitRemaining: remaining,
		LimitReset:     reset,
		Usage:          dollars(s.store.Spend(k.ID, time.Time{})),
		UsageDaily:     dollars(daily),
		UsageMonthly:   dollars(monthly),
		IsOperator:     k.Operator,
		AllowedModels:  nilIfEmpty(k.allowed),
		ExpiresAt:      timeOrNull(k.expiresAt),
		RateLimit:      rateLimitJSON{orNull(k.rpm), orNull(k.tpm), "1m"},
	})
}

// rateLimitJSON is a key's rate limits; null = none.
type rateLimitJSON struct {
	Requests *int   `json:"requests"`
	Tokens   *int   `json:"tokens"`
	Interval string `json:"interval"`
}

// generation answers GET /api/v1/generation?id=<request id>: the ledger
// entry of one of the account's requests. Another account's entry is
// "not found", as an unknown id is.
func (s *Server) generation(c *apiCall) error {
	id := string(c.ctx.QueryArgs().Peek("id"))
	if id == "" {
		return fmt.Errorf("%w: want ?id=<request id>, the x-request-id header of a call", errBadRequest)
	}
	e, err := s.store.Entry(id)
	if err == nil && e.Account != c.key.Account {
		err = fmt.Errorf("ledger entry %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return writeData(c.ctx, fasthttp.StatusOK, newEntryJSON(&e))
}

// usage answers GET /api/v1/usage: the key's own ledger entries, newest
// first, filtered and paged as in ledgerQuery.
func (s *Server) usage(c *apiCall) error {
	q, err := ledgerQuery(c.ctx.QueryArgs())
	if err != nil {
		return err
	}
	q.KeyID = c.key.ID
	return s.writeEntries(c.ctx, c.key.Account, q)
}

// dashboardCredits answers GET /v1/dashboard/billing/credits in the shape
// of OpenAI's legacy credit summary, plus the pay-as-you-go balance and
// the subscription plan's period.
func (s *Server) dashboardCredits(c *apiCall) error {
	a, err := s.store.Account(c.key.Account)
	if err != nil {
		return err
	}
	available := a.Credits + a.PlanLeft(c.now)
	type payAsYouGo struct {
		Balance  dollars `json:"balance"`
		ToppedUp dollars `json:"topped_up"`
		Spent    dollars `json:"spent"`
	}
	return writeJSON(c.ctx, fasthttp.StatusOK, struct {
		Object         string     `json:"object"`
		TotalGranted   dollars    `json:"total_granted"`
		TotalUsed      dollars    `json:"total_used"`
		TotalAvailable dollars    `json:"total_available"`
		PayAsYouGo     payAsYouGo `json:"pay_as_you_go"`
		Subscription   *planJSON  `json:"subscription"`
	}{
		Object:         "credit_summary",
		TotalGranted:   dollars(a.Spent + available),
		TotalUsed:      dollars(a.Spent),
		TotalAvailable: dollars(available),
		PayAsYouGo:     payAsYouGo{dollars(a.Credits), dollars(a.ToppedUp), dollars(a.Spent)},
		Subscription:   newPlanJSON(&a, c.now),
	})
}

// writeEntries answers a page of the account's ledger entries selected by
// q: {"data":[entry...],"next_cursor":"..."|null}.
func (s *Server) writeEntries(ctx *fasthttp.RequestCtx, account string, q store.Query) error {
	entries, next, err := s.store.Entries(account, q)
	if err != nil {
		return err
	}
	page := struct {
		Data       []entryJSON `json:"data"`
		NextCursor *string     `json:"next_cursor"`
	}{Data: make([]entryJSON, len(entries)), NextCursor: orNull(next)}
	for i := range entries {
		page.Data[i] = newEntryJSON(&entries[i])
	}
	return writeJSON(ctx, fasthttp.StatusOK, page)
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
			return q, fmt.Errorf("%w: limit: want an integer from 1 to 1000, got %q", errBadRequest, v)
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
	return time.Time{}, fmt.Errorf("%w: %s: want an RFC 3339 time (2026-01-02T15:04:05Z) or unix seconds between 1678 and 2262, got %q", errBadRequest, name, v)
}

// nanoTime reports whether t fits in int64 unix nanoseconds, as the store
// keeps times.
func nanoTime(t time.Time) bool { return time.Unix(0, t.UnixNano()).Equal(t) }

// startOfDay is 00:00 UTC of t's UTC day.
func startOfDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// startOfMonth is 00:00 UTC of the first day of t's UTC month.
func startOfMonth(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

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
	}
}

// planJSON is an account's subscription plan in an answer. Used and
// remaining are as of now: a period that has ended counts as unused,
// since the next charge rolls it over.
type planJSON struct {
	Plan        string    `json:"plan"`
	Price       dollars   `json:"price"`
	Allowance   dollars   `json:"allowance"`
	Used        dollars   `json:"used"`
	Remaining   dollars   `json:"remaining"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
}

// newPlanJSON returns a's plan at now, or nil when it has none.
func newPlanJSON(a *store.Account, now time.Time) *planJSON {
	if a.Plan == "" {
		return nil
	}
	left := a.PlanLeft(now)
	return &planJSON{
		Plan:        a.Plan,
		Price:       dollars(a.PlanPrice),
		Allowance:   dollars(a.PlanAllowance()),
		Used:        dollars(a.PlanAllowance() - left),
		Remaining:   dollars(left),
		PeriodStart: a.PeriodStart,
		PeriodEnd:   a.PeriodEnd,
	}
}

// dollars is Money in an answer: a JSON number of exact decimal dollars,
// such as 0.000001234.
type dollars money.Money

// MarshalJSON writes d as plain decimal dollars.
func (d dollars) MarshalJSON() ([]byte, error) { return money.Money(d).AppendDecimal(nil), nil }

// orNull returns a pointer to v, or nil (JSON null) when v is zero.
func orNull[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// timeOrNull returns a pointer to t, or nil (JSON null) when t is zero.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nilIfEmpty turns an empty list into nil, which answers as JSON null.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// apiJSON encodes answers and strictly decodes request bodies: an unknown
// field is an error, so a typo is a 400 rather than silently ignored.
// Decoded strings are copies, never views of the request buffer.
var apiJSON = sonic.Config{
	EscapeHTML:            true,
	CompactMarshaler:      true,
	CopyString:            true,
	ValidateString:        true,
	DisallowUnknownFields: true,
}.Froze()

// writeData answers {"data":v} with status.
func writeData(ctx *fasthttp.RequestCtx, status int, v any) error {
	return writeJSON(ctx, status, struct {
		Data any `json:"data"`
	}{v})
}

// writeJSON answers v as JSON with status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	b, err := apiJSON.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode answer: %w", err)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

// decodeBody decodes the request's JSON body into v strictly (see
// apiJSON), or returns a 400 that says what is wrong and where.
func decodeBody(ctx *fasthttp.RequestCtx, v any) error {
	body := bytes.TrimSpace(ctx.PostBody())
	if len(body) == 0 || body[0] != '{' {
		return fmt.Errorf("%w: want a JSON object body", errBadRequest)
	}
	err := apiJSON.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	// sonic's messages (Description, when it has one: its Error quotes
	// it) continue with a copy of the input on the lines after the first.
	msg := err.Error()
	var described interface{ Description() string }
	if errors.As(err, &described) {
		msg = described.Description()
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return fmt.Errorf("%w: request body: %s", errBadRequest, msg)
}

// checkID checks an id from a request as the store wants ids: 1-256 bytes
// without NUL.
func checkID(what, id string) error {
	if id == "" || len(id) > 256 || strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("%w: %s: want 1 to 256 bytes without NUL, got %.40q", errBadRequest, what, id)
	}
	return nil
}
