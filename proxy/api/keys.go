package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/proxy/compress"
	"switchboard/store"
)

// The admin API's keys under /api/v1/admin/keys. Every change to a key
// reloads the gateway's key index before it answers, so the next request
// sees it.

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
	Compression   []string   `json:"compression"`
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
		Compression:   stageNames(k.Compression),
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
	Compression   opt[stageList] `json:"compression"`
}

// apply checks the given fields and sets them on k; now is the request's
// time, which a new expiry must be after.
func (f *keyFields) apply(k *store.Key, now time.Time) error {
	if f.Name.Set {
		if len(f.Name.V) > 256 {
			return fmt.Errorf("%w: name: want at most 256 bytes, got %d", ErrBadRequest, len(f.Name.V))
		}
		k.Name = f.Name.V
	}
	if f.AllowedModels.Set {
		if slices.Contains(f.AllowedModels.V, "") {
			return fmt.Errorf("%w: allowed_models: want model names, got an empty one", ErrBadRequest)
		}
		k.AllowedModels = f.AllowedModels.V
	}
	if f.ExpiresAt.Set {
		if t := f.ExpiresAt.V; !t.IsZero() && (!nanoTime(t) || t.UnixNano() <= 0) {
			return fmt.Errorf("%w: expires_at: want a time between 1970 and 2262, got %s", ErrBadRequest, t.Format(time.RFC3339))
		}
		if t := f.ExpiresAt.V; !t.IsZero() && !t.After(now) {
			return fmt.Errorf("%w: expires_at: %s is not in the future; to stop a key now, revoke it (DELETE the key or \"revoked\": true)", ErrBadRequest, t.Format(time.RFC3339))
		}
		k.ExpiresAt = f.ExpiresAt.V.UTC()
	}
	if f.Compression.Set {
		st, err := compress.ParseStages(strings.Join(f.Compression.V, ","))
		if err != nil {
			return fmt.Errorf("%w: compression: %v", ErrBadRequest, err)
		}
		k.Compression = string(st.AppendText(nil))
	}
	if f.Revoked.Set {
		if k.Revoked && !f.Revoked.V {
			return fmt.Errorf("%w: revoked: a revoked key stays revoked; create a new one", ErrBadRequest)
		}
		k.Revoked = f.Revoked.V
	}
	return errors.Join(
		setNonNegative("rpm", f.RPM, &k.RPM),
		setNonNegative("tpm", f.TPM, &k.TPM),
		setNonNegative("daily_limit", f.DailyLimit, &k.DailyLimit),
		setNonNegative("monthly_limit", f.MonthlyLimit, &k.MonthlyLimit))
}

// stageList is a key's compression in a request body: a JSON list of
// stage names and sets (["dedupe","minify"], ["lossless"]), or, as
// earlier versions took it, one string of them joined by commas, as the
// x-switchboard-compression header names them ("dedupe,minify").
type stageList []string

// UnmarshalJSON reads a list of strings or one string.
func (l *stageList) UnmarshalJSON(b []byte) error {
	var one string
	if apiJSON.Unmarshal(b, &one) == nil {
		*l = stageList{one}
		return nil
	}
	var list []string
	if err := apiJSON.Unmarshal(b, &list); err != nil {
		return fmt.Errorf(`want a list of stage names like ["dedupe","minify"], got %.40s`, b)
	}
	*l = list
	return nil
}

// stageNames is a key's stored compression as an answer lists it: the
// names of its stages in the order they run, or nil for none.
func stageNames(stored string) []string {
	st, err := compress.ParseStages(stored)
	if err != nil || st == 0 {
		return nil // none; stored values were checked by apply
	}
	return strings.Split(string(st.AppendText(nil)), ",")
}

// setNonNegative sets *dst to the value of o when o was given (null is 0,
// which turns the limit off), refusing a negative value.
func setNonNegative[T ~int | ~int64, D ~int | ~int64](name string, o opt[T], dst *D) error {
	if !o.Set {
		return nil
	}
	if o.V < 0 {
		return fmt.Errorf("%w: %s: want a value >= 0, got %v", ErrBadRequest, name, o.V)
	}
	*dst = D(o.V)
	return nil
}

// listKeys answers GET /api/v1/admin/keys[?account=]: the store's keys,
// revoked ones included, in ID order. Operator keys of the config are
// not listed.
func (a *API) listKeys(r *request) error {
	keys, err := a.store.Keys()
	if err != nil {
		return err
	}
	account := string(r.ctx.QueryArgs().Peek("account"))
	out := make([]keyJSON, 0, len(keys))
	for i := range keys {
		if account == "" || keys[i].Account == account {
			out = append(out, newKeyJSON(&keys[i]))
		}
	}
	return writeData(r.ctx, fasthttp.StatusOK, out)
}

// createKey answers POST /api/v1/admin/keys: a new key for an existing
// account, or with "create_account": true for an account it creates in
// the same store write; its secret is in "key", shown this once only.
func (a *API) createKey(r *request) error {
	var body createKeyBody
	if err := decodeBody(r.ctx, &body); err != nil {
		return err
	}
	if err := checkID("account", body.Account); err != nil {
		return err
	}
	k := store.Key{Account: body.Account, CreatedAt: r.now.UTC()}
	if err := body.apply(&k, r.now); err != nil {
		return err
	}
	create := a.store.CreateKeyAndAccount
	if !body.CreateAccount {
		if _, err := a.store.Account(k.Account); err != nil {
			return missingAccount(err, "account: ", k.Account)
		}
		create = a.store.CreateKey
	}
	var secret string
	err := a.changeKeys(func() error {
		var err error
		for range 5 { // a visible ID is 6 random characters: retry a clash
			if secret, err = store.NewSecret(); err != nil {
				return err
			}
			k.ID, k.Hash = store.SecretID(secret), store.SecretHash(secret)
			if err = create(k); !errors.Is(err, store.ErrExists) {
				break
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	view := newKeyJSON(&k)
	if err := a.audit(r, "keys.create", k.ID, nil, &view); err != nil {
		return err
	}
	return writeData(r.ctx, fasthttp.StatusCreated, createdKeyJSON{view, secret})
}

// createKeyBody is the body of POST /api/v1/admin/keys.
type createKeyBody struct {
	Account       string `json:"account"`
	CreateAccount bool   `json:"create_account"`
	keyFields
}

// createdKeyJSON is a new key in an answer: the key and its secret.
type createdKeyJSON struct {
	keyJSON
	Key string `json:"key"`
}

// getKey answers GET /api/v1/admin/keys/{id}.
func (a *API) getKey(r *request) error {
	k, err := a.store.KeyByID(r.id)
	if err != nil {
		return err
	}
	return writeData(r.ctx, fasthttp.StatusOK, newKeyJSON(&k))
}

// patchKey answers PATCH /api/v1/admin/keys/{id}: it changes the fields
// the body gives (see keyFields) and answers the key.
func (a *API) patchKey(r *request) error {
	var f keyFields
	if err := decodeBody(r.ctx, &f); err != nil {
		return err
	}
	before := a.keyView(r.id)
	if err := a.changeKeys(func() error { return a.store.UpdateKey(r.id, func(k *store.Key) error { return f.apply(k, r.now) }) }); err != nil {
		return err
	}
	return a.answerKeyChange(r, "keys.patch", before)
}

// answerKeyChange records the change of key r.id in the audit log and
// answers the key.
func (a *API) answerKeyChange(r *request, action string, before *keyJSON) error {
	after := a.keyView(r.id)
	if err := a.audit(r, action, r.id, before, after); err != nil {
		return err
	}
	return a.getKey(r)
}

// revokeKey answers DELETE /api/v1/admin/keys/{id}: the key is revoked
// (kept, for its ledger entries, but never accepted again).
func (a *API) revokeKey(r *request) error {
	before := a.keyView(r.id)
	if err := a.changeKeys(func() error { return a.store.RevokeKey(r.id) }); err != nil {
		return err
	}
	return a.answerKeyChange(r, "keys.revoke", before)
}

// changeKeys runs change, a write of keys to the store, then reloads the
// gateway's key index so that the next request sees it.
func (a *API) changeKeys(change func() error) error {
	if err := change(); err != nil {
		return err
	}
	if err := a.reloadKeys(); err != nil {
		return fmt.Errorf("cannot reload keys: %w", err)
	}
	return nil
}
