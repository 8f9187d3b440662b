package api

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/store"
	"switchboard/store/money"
)

// The admin API's accounts under /api/v1/admin/accounts: balances,
// top-ups, plans and the ledger of any account.

// accountJSON is an account in an admin answer. Available is what it can
// spend now: credits plus plan allowance left, minus open reservations.
type accountJSON struct {
	ID        string    `json:"id"`
	Credits   dollars   `json:"credits"`
	Available dollars   `json:"available"`
	Spent     dollars   `json:"spent"`
	ToppedUp  dollars   `json:"topped_up"`
	Plan      *planJSON `json:"plan"`
}

// newAccountJSON is the answer's view of acc at now.
func (a *API) newAccountJSON(acc *store.Account, now time.Time) accountJSON {
	avail, _ := a.store.Available(acc.ID, now) // acc exists: no error
	return accountJSON{
		ID:        acc.ID,
		Credits:   dollars(acc.Credits),
		Available: dollars(avail),
		Spent:     dollars(acc.Spent),
		ToppedUp:  dollars(acc.ToppedUp),
		Plan:      newPlanJSON(acc, now),
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

// newPlanJSON returns acc's plan at now, or nil when it has none.
func newPlanJSON(acc *store.Account, now time.Time) *planJSON {
	if acc.Plan == "" {
		return nil
	}
	left := acc.PlanLeft(now)
	return &planJSON{
		Plan:        acc.Plan,
		Price:       dollars(acc.PlanPrice),
		Allowance:   dollars(acc.PlanAllowance()),
		Used:        dollars(acc.PlanAllowance() - left),
		Remaining:   dollars(left),
		PeriodStart: acc.PeriodStart,
		PeriodEnd:   acc.PeriodEnd,
	}
}

// listAccounts answers GET /api/v1/admin/accounts, in ID order.
func (a *API) listAccounts(r *request) error {
	accounts, err := a.store.Accounts()
	if err != nil {
		return err
	}
	out := make([]accountJSON, len(accounts))
	for i := range accounts {
		out[i] = a.newAccountJSON(&accounts[i], r.now)
	}
	return writeData(r.ctx, fasthttp.StatusOK, out)
}

// createAccount answers POST /api/v1/admin/accounts {"id":"team-a"}: a
// new account with no credits and no plan, 201; an id that exists is a
// 409, so a typo in the id of an existing account shows.
func (a *API) createAccount(r *request) error {
	var body createAccountBody
	if err := decodeBody(r.ctx, &body); err != nil {
		return err
	}
	if err := checkID("id", body.ID); err != nil {
		return err
	}
	a.accountMu.Lock()
	defer a.accountMu.Unlock()
	if _, err := a.store.Account(body.ID); err == nil {
		return fmt.Errorf("%w: id: account %q exists; top it up, set its credits or its plan under /api/v1/admin/accounts/%s", ErrConflict, body.ID, body.ID)
	}
	if err := a.store.EnsureAccount(body.ID); err != nil {
		return err
	}
	acc, err := a.store.Account(body.ID)
	if err != nil {
		return err
	}
	view := a.newAccountJSON(&acc, r.now)
	if err := a.audit(r, "accounts.create", body.ID, nil, &view); err != nil {
		return err
	}
	return writeData(r.ctx, fasthttp.StatusCreated, view)
}

// createAccountBody is the body of POST /api/v1/admin/accounts.
type createAccountBody struct {
	ID string `json:"id"`
}

// getAccount answers GET /api/v1/admin/accounts/{id}.
func (a *API) getAccount(r *request) error {
	acc, err := a.store.Account(r.id)
	if err != nil {
		return err
	}
	return writeData(r.ctx, fasthttp.StatusOK, a.newAccountJSON(&acc, r.now))
}

// topUp answers POST /api/v1/admin/accounts/{id}/topup
// {"amount":"10.00","idempotency_key":"..."}: it adds amount (> 0) to
// the account's credits; an account that does not exist is a 404 (see
// missingAccount) unless "create_account": true creates it in the same
// store write. The idempotency key may come as the Idempotency-Key
// header instead; a replay changes nothing (nor creates the account
// again), and a replay with another amount or account is a 409.
func (a *API) topUp(r *request) error {
	var body topUpBody
	if err := decodeBody(r.ctx, &body); err != nil {
		return err
	}
	m, err := body.Amount.check("amount", false)
	if err != nil {
		return err
	}
	idem := body.IdempotencyKey
	if h := string(r.ctx.Request.Header.Peek("Idempotency-Key")); h != "" {
		if idem != "" && idem != h {
			return fmt.Errorf("%w: the Idempotency-Key header %q and idempotency_key %q differ", ErrBadRequest, h, idem)
		}
		idem = h
	}
	if idem != "" {
		if err := checkID("idempotency_key", idem); err != nil {
			return err
		}
	}
	if acc, err := a.store.Account(r.id); err == nil && (acc.Credits > money.Max-m || acc.ToppedUp > money.Max-m) {
		return fmt.Errorf("%w: amount: %s would overflow the account's credits", ErrBadRequest, m)
	}
	before := a.accountView(r, r.id)
	if err := a.store.TopUp(r.id, m, idem, store.IfMissing(body.CreateAccount)); err != nil {
		if errors.Is(err, store.ErrIdempotencyConflict) {
			return fmt.Errorf("%w: %v", ErrConflict, err)
		}
		return missingAccount(err, "account ", r.id)
	}
	return a.answerAccountChange(r, "accounts.topup", before)
}

// topUpBody is the body of POST /api/v1/admin/accounts/{id}/topup.
type topUpBody struct {
	Amount         *amount `json:"amount"`
	IdempotencyKey string  `json:"idempotency_key"`
	CreateAccount  bool    `json:"create_account"`
}

// setCredits answers PUT /api/v1/admin/accounts/{id}/credits
// {"amount":"5"}: it sets the credits to amount (>= 0); a top-up it is
// not, so topped_up does not change. An account that does not exist is a
// 404 unless "create_account": true creates it in the same store write.
func (a *API) setCredits(r *request) error {
	var body setCreditsBody
	if err := decodeBody(r.ctx, &body); err != nil {
		return err
	}
	m, err := body.Amount.check("amount", true)
	if err != nil {
		return err
	}
	before := a.accountView(r, r.id)
	if err := a.store.SetCredits(r.id, m, store.IfMissing(body.CreateAccount)); err != nil {
		return missingAccount(err, "account ", r.id)
	}
	return a.answerAccountChange(r, "accounts.credits", before)
}

// setCreditsBody is the body of PUT /api/v1/admin/accounts/{id}/credits.
type setCreditsBody struct {
	Amount        *amount `json:"amount"`
	CreateAccount bool    `json:"create_account"`
}

// setPlan answers PUT /api/v1/admin/accounts/{id}/plan {"plan":"pro"}:
// it assigns a plan of the config's billing.plans, starting a fresh
// period now; "" or null removes the plan. An account that does not
// exist is a 404 unless "create_account": true creates it in the same
// store write.
func (a *API) setPlan(r *request) error {
	var body setPlanBody
	if err := decodeBody(r.ctx, &body); err != nil {
		return err
	}
	if !body.Plan.Set {
		return fmt.Errorf(`%w: plan: want a plan name, or "" or null to remove the plan`, ErrBadRequest)
	}
	name := body.Plan.V
	var price money.Money
	var period time.Duration
	if name != "" {
		p, ok := a.plans[name]
		if !ok {
			return fmt.Errorf("%w: plan: no plan %q in billing.plans; there are %q", ErrBadRequest, name, slices.Sorted(maps.Keys(a.plans)))
		}
		var err error
		if period, err = p.PeriodDuration(); err != nil {
			return fmt.Errorf("plan %q: %w", name, err)
		}
		price = money.Money(p.Price)
	}
	before := a.accountView(r, r.id)
	if err := a.store.AssignPlan(r.id, name, price, period, r.now, store.IfMissing(body.CreateAccount)); err != nil {
		return missingAccount(err, "account ", r.id)
	}
	return a.answerAccountChange(r, "accounts.plan", before)
}

// answerAccountChange records the change of account r.id in the audit
// log and answers the account.
func (a *API) answerAccountChange(r *request, action string, before *accountJSON) error {
	after := a.accountView(r, r.id)
	if err := a.audit(r, action, r.id, before, after); err != nil {
		return err
	}
	return a.getAccount(r)
}

// setPlanBody is the body of PUT /api/v1/admin/accounts/{id}/plan.
type setPlanBody struct {
	Plan          opt[string] `json:"plan"`
	CreateAccount bool        `json:"create_account"`
}

// missingAccount returns err, or when it is the store's ErrNotFound for
// account id, the 404 that says how to create it; what leads the message
// ("account: " for a body field, "account " for the path).
func missingAccount(err error, what, id string) error {
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return fmt.Errorf(`%w: %s%q does not exist; create it with POST /api/v1/admin/accounts first, or pass "create_account": true`, store.ErrNotFound, what, id)
}

// accountLedger answers GET /api/v1/admin/accounts/{id}/ledger: the
// account's entries, newest first, filtered and paged as in ledgerQuery.
func (a *API) accountLedger(r *request) error {
	if _, err := a.store.Account(r.id); err != nil {
		return err
	}
	q, err := ledgerQuery(r.ctx.QueryArgs())
	if err != nil {
		return err
	}
	return a.writeEntries(r.ctx, r.id, q)
}
