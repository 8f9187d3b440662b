package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/proxy/compress"
	"switchboard/store"
	"switchboard/store/money"
)

// The admin API under /api/v1/admin/ (routes in api.go's apiRoutes): keys
// and accounts, authenticated by the config's auth.master_key. Every change
// to a key reloads the in-memory key index before it answers, so the next
// request sees it.

var (
	// errBadMasterKey is an admin call without the master key (401).
	errBadMasterKey = errors.New("the admin API wants the master key (auth.master_key) as Authorization: Bearer or x-api-key")
	// errConflict is a request that contradicts an earlier one (409).
	errConflict = errors.New("conflict")
)

// checkMasterKey accepts a request that presents the master key. With no
// master key configured the admin API does not exist (404).
func (s *Server) checkMasterKey(h *fasthttp.RequestHeader) error {
	if s.masterHash == ([sha256.Size]byte{}) {
		return errAPINotFound
	}
	sum := sha256.Sum256(presentedSecret(h))
	if subtle.ConstantTimeCompare(sum[:], s.masterHash[:]) != 1 {
		return errBadMasterKey
	}
	return nil
}

// keyJSON is a store key in an admin answer; it never holds the hash.
// Limits that are off are null.
type keyJSON struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Account       string     `json:"account"`
	AllowedModels []string   `json:"allowed_models"`
	RPM           *int       `json:"rpm"`
	TPM           *int       `json:"tpm"`
	DailyLimit    *dollars   `json:"daily_limit"`
	MonthlyLimit  *dollars   `json:"monthly_limit"`
	ExpiresAt     *time.Time `json:"expires_at"`
	Revoked       bool       `json:"revoked"`
	CreatedAt     time.Time  `json:"created_at"`
	Compression   *string    `json:"compression"`
}

// newKeyJSON is the answer's view of k.
func newKeyJSON(k *store.Key) keyJSON {
	return keyJSON{
		ID:            k.ID,
		Name:          k.Name,
		Account:       k.Account,
		AllowedModels: nilIfEmpty(k.AllowedModels),
		RPM:           orNull(k.RPM),
		TPM:           orNull(k.TPM),
		DailyLimit:    orNull(dollars(k.DailyLimit)),
		MonthlyLimit:  orNull(dollars(k.MonthlyLimit)),
		ExpiresAt:     timeOrNull(k.ExpiresAt),
		Revoked:       k.Revoked,
		CreatedAt:     k.CreatedAt,
		Compression:   orNull(k.Compression),
	}
}

// keyFields are the settable fields of a key in a create or PATCH body.
// An absent field changes nothing; null clears it (no limit, no expiry,
// every model).
type keyFields struct {
	Name          opt[string]    `json:"name"`
	AllowedModels opt[[]string]  `json:"allowed_models"`
	RPM           opt[int]       `json:"rpm"`
	TPM           opt[int]       `json:"tpm"`
	DailyLimit    opt[amount]    `json:"daily_limit"`
	MonthlyLimit  opt[amount]    `json:"monthly_limit"`
	ExpiresAt     opt[time.Time] `json:"expires_at"`
	Revoked       opt[bool]      `json:"revoked"`
	Compression   opt[string]    `json:"compression"`
}

// apply checks the given fields and sets them on k.
func (f *keyFields) apply(k *store.Key) error {
	if f.Name.Set {
		if len(f.Name.V) > 256 {
			return fmt.Errorf("%w: name: want at most 256 bytes, got %d", errBadRequest, len(f.Name.V))
		}
		k.Name = f.Name.V
	}
	if f.AllowedModels.Set {
		if slices.Contains(f.AllowedModels.V, "") {
			return fmt.Errorf("%w: allowed_models: want model names, got an empty one", errBadRequest)
		}
		k.AllowedModels = f.AllowedModels.V
	}
	if f.ExpiresAt.Set {
		if t := f.ExpiresAt.V; !t.IsZero() && (!nanoTime(t) || t.UnixNano() <= 0) {
			return fmt.Errorf("%w: expires_at: want a time between 1970 and 2262, got %s", errBadRequest, t.Format(time.RFC3339))
		}
		k.ExpiresAt = f.ExpiresAt.V.UTC()
	}
	if f.Compression.Set {
		if v := f.Compression.V; v != "" {
			if _, err := compress.ParseStages(v); err != nil {
				return fmt.Errorf("%w: compression: %v", errBadRequest, err)
			}
		}
		k.Compression = f.Compression.V
	}
	if f.Revoked.Set {
		if k.Revoked && !f.Revoked.V {
			return fmt.Errorf("%w: revoked: a revoked key stays revoked; create a new one", errBadRequest)
		}
		k.Revoked = f.Revoked.V
	}
	return errors.Join(
		setNonNegative("rpm", f.RPM, &k.RPM),
		setNonNegative("tpm", f.TPM, &k.TPM),
		setNonNegative("daily_limit", f.DailyLimit, &k.DailyLimit),
		setNonNegative("monthly_limit", f.MonthlyLimit, &k.MonthlyLimit))
}

// setNonNegative sets *dst to the value of o when o was given (null is 0,
// which turns the limit off), refusing a negative value.
func setNonNegative[T ~int | ~int64, D ~int | ~int64](name string, o opt[T], dst *D) error {
	if !o.Set {
		return nil
	}
	if o.V < 0 {
		return fmt.Errorf("%w: %s: want a value >= 0, got %v", errBadRequest, name, o.V)
	}
	*dst = D(o.V)
	return nil
}

// listKeys answers GET /api/v1/admin/keys[?account=]: the store's keys,
// revoked ones included, in ID order. Operator keys of the config are
// not listed.
func (s *Server) listKeys(c *apiCall) error {
	keys, err := s.store.Keys()
	if err != nil {
		return err
	}
	account := string(c.ctx.QueryArgs().Peek("account"))
	out := make([]keyJSON, 0, len(keys))
	for i := range keys {
		if account == "" || keys[i].Account == account {
			out = append(out, newKeyJSON(&keys[i]))
		}
	}
	return writeData(c.ctx, fasthttp.StatusOK, out)
}

// createKey answers POST /api/v1/admin/keys: a new key for an account
// (created if new), with its secret in "key", shown this once only.
func (s *Server) createKey(c *apiCall) error {
	var body struct {
		Account string `json:"account"`
		keyFields
	}
	if err := decodeBody(c.ctx, &body); err != nil {
		return err
	}
	if err := checkID("account", body.Account); err != nil {
		return err
	}
	k := store.Key{Account: body.Account, CreatedAt: c.now.UTC()}
	if err := body.apply(&k); err != nil {
		return err
	}
	if err := s.store.EnsureAccount(k.Account); err != nil {
		return err
	}
	var secret string
	err := s.changeKeys(func() error {
		var err error
		for range 5 { // a visible ID is 6 random characters: retry a clash
			if secret, err = store.NewSecret(); err != nil {
				return err
			}
			k.ID, k.Hash = store.SecretID(secret), store.SecretHash(secret)
			if err = s.store.CreateKey(k); !errors.Is(err, store.ErrExists) {
				break
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	return writeData(c.ctx, fasthttp.StatusCreated, struct {
		keyJSON
		Key string `json:"key"`
	}{newKeyJSON(&k), secret})
}

// getKey answers GET /api/v1/admin/keys/{id}.
func (s *Server) getKey(c *apiCall) error {
	k, err := s.store.KeyByID(c.id)
	if err != nil {
		return err
	}
	return writeData(c.ctx, fasthttp.StatusOK, newKeyJSON(&k))
}

// patchKey answers PATCH /api/v1/admin/keys/{id}: it changes the fields
// the body gives (see keyFields) and answers the key.
func (s *Server) patchKey(c *apiCall) error {
	var f keyFields
	if err := decodeBody(c.ctx, &f); err != nil {
		return err
	}
	if err := s.changeKeys(func() error { return s.store.UpdateKey(c.id, f.apply) }); err != nil {
		return err
	}
	return s.getKey(c)
}

// revokeKey answers DELETE /api/v1/admin/keys/{id}: the key is revoked
// (kept, for its ledger entries, but never accepted again).
func (s *Server) revokeKey(c *apiCall) error {
	if err := s.changeKeys(func() error { return s.store.RevokeKey(c.id) }); err != nil {
		return err
	}
	return s.getKey(c)
}

// changeKeys runs change, a write of keys to the store, then reloads the
// key index so that the next request sees it.
func (s *Server) changeKeys(change func() error) error {
	if err := change(); err != nil {
		return err
	}
	if err := s.keys.reload(s.store); err != nil {
		return fmt.Errorf("cannot reload keys: %w", err)
	}
	return nil
}

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

// newAccountJSON is the answer's view of a at now.
func (s *Server) newAccountJSON(a *store.Account, now time.Time) accountJSON {
	avail, _ := s.store.Available(a.ID, now) // a exists: no error
	return accountJSON{
		ID:        a.ID,
		Credits:   dollars(a.Credits),
		Available: dollars(avail),
		Spent:     dollars(a.Spent),
		ToppedUp:  dollars(a.ToppedUp),
		Plan:      newPlanJSON(a, now),
	}
}

// listAccounts answers GET /api/v1/admin/accounts, in ID order.
func (s *Server) listAccounts(c *apiCall) error {
	accounts := s.store.Accounts()
	out := make([]accountJSON, len(accounts))
	for i := range accounts {
		out[i] = s.newAccountJSON(&accounts[i], c.now)
	}
	return writeData(c.ctx, fasthttp.StatusOK, out)
}

// getAccount answers GET /api/v1/admin/accounts/{id}.
func (s *Server) getAccount(c *apiCall) error {
	a, err := s.store.Account(c.id)
	if err != nil {
		return err
	}
	return writeData(c.ctx, fasthttp.StatusOK, s.newAccountJSON(&a, c.now))
}

// topUp answers POST /api/v1/admin/accounts/{id}/topup
// {"amount":"10.00","idempotency_key":"..."}: it adds amount (> 0) to
// the account's credits, creating the account if new. The idempotency
// key may come as the Idempotency-Key header instead; a replay changes
// nothing, and a replay with another amount or account is a 409.
func (s *Server) topUp(c *apiCall) error {
	var body struct {
		Amount         *amount `json:"amount"`
		IdempotencyKey string  `json:"idempotency_key"`
	}
	if err := decodeBody(c.ctx, &body); err != nil {
		return err
	}
	m, err := body.Amount.check("amount", false)
	if err != nil {
		return err
	}
	idem := body.IdempotencyKey
	if h := string(c.ctx.Request.Header.Peek("Idempotency-Key")); h != "" {
		if idem != "" && idem != h {
			return fmt.Errorf("%w: the Idempotency-Key header %q and idempotency_key %q differ", errBadRequest, h, idem)
		}
		idem = h
	}
	if idem != "" {
		if err := checkID("idempotency_key", idem); err != nil {
			return err
		}
	}
	if a, err := s.store.Account(c.id); err == nil && (a.Credits > money.Max-m || a.ToppedUp > money.Max-m) {
		return fmt.Errorf("%w: amount: %s would overflow the account's credits", errBadRequest, m)
	}
	if err := s.store.TopUp(c.id, m, idem); err != nil {
		if errors.Is(err, store.ErrIdempotencyConflict) {
			return fmt.Errorf("%w: %v", errConflict, err)
		}
		return err
	}
	return s.getAccount(c)
}

// setCredits answers PUT /api/v1/admin/accounts/{id}/credits
// {"amount":"5"}: it sets the credits to amount (>= 0); a top-up it is
// not, so topped_up does not change.
func (s *Server) setCredits(c *apiCall) error {
	var body struct {
		Amount *amount `json:"amount"`
	}
	if err := decodeBody(c.ctx, &body); err != nil {
		return err
	}
	m, err := body.Amount.check("amount", true)
	if err != nil {
		return err
	}
	if err := s.store.SetCredits(c.id, m); err != nil {
		return err
	}
	return s.getAccount(c)
}

// setPlan answers PUT /api/v1/admin/accounts/{id}/plan {"plan":"pro"}:
// it assigns a plan of the config's billing.plans, starting a fresh
// period now; "" or null removes the plan.
func (s *Server) setPlan(c *apiCall) error {
	var body struct {
		Plan opt[string] `json:"plan"`
	}
	if err := decodeBody(c.ctx, &body); err != nil {
		return err
	}
	if !body.Plan.Set {
		return fmt.Errorf(`%w: plan: want a plan name, or "" or null to remove the plan`, errBadRequest)
	}
	name := body.Plan.V
	var price money.Money
	var period time.Duration
	if name != "" {
		p, ok := s.billing.plans[name]
		if !ok {
			return fmt.Errorf("%w: plan: no plan %q in billing.plans; there are %q", errBadRequest, name, slices.Sorted(maps.Keys(s.billing.plans)))
		}
		var err error
		if period, err = p.PeriodDuration(); err != nil {
			return fmt.Errorf("plan %q: %w", name, err)
		}
		price = money.Money(p.Price)
	}
	if err := s.store.AssignPlan(c.id, name, price, period, c.now); err != nil {
		return err
	}
	return s.getAccount(c)
}

// accountLedger answers GET /api/v1/admin/accounts/{id}/ledger: the
// account's entries, newest first, filtered and paged as in ledgerQuery.
func (s *Server) accountLedger(c *apiCall) error {
	if _, err := s.store.Account(c.id); err != nil {
		return err
	}
	q, err := ledgerQuery(c.ctx.QueryArgs())
	if err != nil {
		return err
	}
	return s.writeEntries(c.ctx, c.id, q)
}

// opt is a field of a request body that tells absent (Set false) from
// null (Set and Null, V the zero value) and from a value.
type opt[T any] struct {
	Set, Null bool
	V         T
}

// UnmarshalJSON records that the field was given and decodes it. A value
// of the wrong type is reported as such: sonic's message would point at
// byte 0 of the value, not of the body.
func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	err := apiJSON.Unmarshal(b, &o.V)
	if _, custom := any(&o.V).(interface{ UnmarshalJSON([]byte) error }); err != nil && !custom {
		return fmt.Errorf("want %T, got %.40s", o.V, b)
	}
	return err
}

// amount is money in a request body: decimal dollars as a JSON string
// ("10.50") or number (10.50), parsed from its text, never a float. Up to
// nine decimals; no exponent.
type amount money.Money

// UnmarshalJSON parses a JSON string or number of dollars.
func (a *amount) UnmarshalJSON(b []byte) error {
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := apiJSON.UnmarshalFromString(text, &text); err != nil {
			return err
		}
	}
	m, err := money.Parse(text)
	if err != nil {
		return fmt.Errorf(`want decimal dollars like "10.50", got %s`, b)
	}
	*a = amount(m)
	return nil
}

// String formats a as exact dollars.
func (a amount) String() string { return money.Money(a).String() }

// check returns the amount of a required field, refusing a missing one,
// a negative one, and zero unless zeroOK.
func (a *amount) check(name string, zeroOK bool) (money.Money, error) {
	switch {
	case a == nil:
		return 0, fmt.Errorf(`%w: %s: want decimal dollars like "10.50"`, errBadRequest, name)
	case *a < 0 || *a == 0 && !zeroOK:
		want := "more than $0"
		if zeroOK {
			want = "at least $0"
		}
		return 0, fmt.Errorf("%w: %s: want %s, got %s", errBadRequest, name, want, *a)
	}
	return money.Money(*a), nil
}
