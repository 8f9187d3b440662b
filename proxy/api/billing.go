package api

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/store"
)

// A key holder's own billing data, for the gateway key the request
// presents, in OpenRouter's shapes (/api/v1/credits, key, generation,
// usage) and OpenAI's legacy credit summary.

// credits answers GET /api/v1/credits in OpenRouter's shape: what the
// key's account was ever given and has used, so that total_credits -
// total_usage is what it can spend now (credits plus plan allowance left).
func (a *API) credits(r *request) error {
	acc, err := a.store.Account(r.key.Account)
	if err != nil {
		return err
	}
	return writeData(r.ctx, fasthttp.StatusOK, creditsJSON{dollars(acc.Spent + acc.Credits + acc.PlanLeft(r.now)), dollars(acc.Spent)})
}

// creditsJSON is the answer of GET /api/v1/credits.
type creditsJSON struct {
	TotalCredits dollars `json:"total_credits"`
	TotalUsage   dollars `json:"total_usage"`
}

// keyInfo answers GET /api/v1/key in OpenRouter's shape: the key's
// limits and what it spent all time, today and this month (UTC).
func (a *API) keyInfo(r *request) error {
	k := r.key
	daily := a.store.Spend(k.ID, startOfDay(r.now))
	monthly := a.store.Spend(k.ID, startOfMonth(r.now))
	// OpenRouter's key has one limit: the monthly one, else the daily one.
	limit, spent, period := k.MonthlyLimit, monthly, "monthly"
	if limit == 0 {
		limit, spent, period = k.DailyLimit, daily, "daily"
	}
	var remaining *dollars
	var reset *string
	if limit > 0 {
		left := dollars(max(limit-spent, 0))
		remaining, reset = &left, &period
	}
	return writeData(r.ctx, fasthttp.StatusOK, keyInfoJSON{
		Label:          k.ID,
		Name:           k.Name,
		ID:             k.ID,
		Account:        k.Account,
		Limit:          orNull(dollars(limit)),
		LimitRemaining: remaining,
		LimitReset:     reset,
		Usage:          dollars(a.store.Spend(k.ID, time.Time{})),
		UsageDaily:     dollars(daily),
		UsageMonthly:   dollars(monthly),
		IsOperator:     k.Operator,
		AllowedModels:  nilIfEmpty(k.AllowedModels),
		ExpiresAt:      timeOrNull(k.ExpiresAt),
		RateLimit:      rateLimitJSON{orNull(k.RPM), orNull(k.TPM), "1m"},
	})
}

// keyInfoJSON is the answer of GET /api/v1/key.
type keyInfoJSON struct {
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
func (a *API) generation(r *request) error {
	id := string(r.ctx.QueryArgs().Peek("id"))
	if id == "" {
		return fmt.Errorf("%w: want ?id=<request id>, the x-request-id header of a call", ErrBadRequest)
	}
	e, err := a.store.Entry(id)
	if err == nil && e.Account != r.key.Account {
		err = fmt.Errorf("ledger entry %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return writeData(r.ctx, fasthttp.StatusOK, newEntryJSON(&e))
}

// usage answers GET /api/v1/usage: the key's own ledger entries, newest
// first, filtered and paged as in ledgerQuery; with group_by or bucket,
// the key's usage totals instead (usageQuery).
func (a *API) usage(r *request) error {
	if args := r.ctx.QueryArgs(); grouped(args) {
		q, err := usageQuery(args, r.now)
		if err != nil {
			return err
		}
		q.KeyID = r.key.ID
		return a.writeUsage(r.ctx, q)
	}
	q, err := ledgerQuery(r.ctx.QueryArgs())
	if err != nil {
		return err
	}
	q.KeyID = r.key.ID
	return a.writeEntries(r.ctx, r.key.Account, q)
}

// dashboardCredits answers GET /v1/dashboard/billing/credits in the shape
// of OpenAI's legacy credit summary, plus the pay-as-you-go balance and
// the subscription plan's period.
func (a *API) dashboardCredits(r *request) error {
	acc, err := a.store.Account(r.key.Account)
	if err != nil {
		return err
	}
	available := acc.Credits + acc.PlanLeft(r.now)
	return writeJSON(r.ctx, fasthttp.StatusOK, creditSummaryJSON{
		Object:         "credit_summary",
		TotalGranted:   dollars(acc.Spent + available),
		TotalUsed:      dollars(acc.Spent),
		TotalAvailable: dollars(available),
		PayAsYouGo:     payAsYouGoJSON{dollars(acc.Credits), dollars(acc.ToppedUp), dollars(acc.Spent)},
		Subscription:   newPlanJSON(&acc, r.now),
	})
}

// startOfDay is 00:00 UTC of t's UTC day.
func startOfDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// startOfMonth is 00:00 UTC of the first day of t's UTC month.
func startOfMonth(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// creditSummaryJSON is the answer of GET /v1/dashboard/billing/credits.
type creditSummaryJSON struct {
	Object         string         `json:"object"`
	TotalGranted   dollars        `json:"total_granted"`
	TotalUsed      dollars        `json:"total_used"`
	TotalAvailable dollars        `json:"total_available"`
	PayAsYouGo     payAsYouGoJSON `json:"pay_as_you_go"`
	Subscription   *planJSON      `json:"subscription"`
}

// payAsYouGoJSON is the credits part of a credit summary.
type payAsYouGoJSON struct {
	Balance  dollars `json:"balance"`
	ToppedUp dollars `json:"topped_up"`
	Spent    dollars `json:"spent"`
}
