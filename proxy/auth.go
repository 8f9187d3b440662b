package proxy

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/proxy/api"
	"switchboard/proxy/compress"
	"switchboard/store"
	"switchboard/store/money"
)

var (
	// errUnauthorized is a missing or unknown gateway key (401).
	errUnauthorized = errors.New("invalid or missing gateway key: send it as Authorization: Bearer sk-sb-... or x-api-key")
	errKeyRevoked   = errors.New("this gateway key has been revoked")
	errKeyExpired   = errors.New("this gateway key has expired")
	// errModelNotAllowed is a model outside the key's allowed list (403).
	errModelNotAllowed = errors.New("this gateway key may not call this model")
)

// Key is an accepted gateway key and what it may do. Keys are immutable:
// a change through the admin API builds a new Key and a new index.
type Key struct {
	// ID is the key's visible id: the store's "sk-sb-XXXXXX" prefix, or
	// "config:<name>" for an operator key from the config.
	ID string
	// Name labels the key in logs.
	Name string
	// Account is charged for the key's requests; "" when billing is off
	// (auth disabled).
	Account string
	// Operator keys come from the config: their account is never refused
	// for credit and they may call models without a catalog price.
	Operator bool

	allowed      []string // model strings the key may call; empty = all
	rpm, tpm     int      // per-minute limits; 0 = none
	dailyLimit   money.Money
	monthlyLimit money.Money
	expiresAt    time.Time
	revoked      bool
	limits       rateLimiter // nil = no RPM/TPM limit
	// compression is the key's context compression, nil for none: a
	// config key's (from auth.keys[].compression), or a stored key's.
	compression *configs.Compression
	stages      compress.Stages // a stored key's, 0 for none
	hash        [sha256.Size]byte
}

// allows reports whether the key may call model, given as the client's
// model name (suffixes cut) or as the provider and model id serving it.
func (k *Key) allows(model, provider, upstreamModel string) bool {
	if len(k.allowed) == 0 {
		return true
	}
	for _, a := range k.allowed {
		if a == model {
			return true
		}
		if p, m, ok := strings.Cut(a, "/"); ok && p == provider && m == upstreamModel {
			return true
		}
	}
	return false
}

// keyIndex finds gateway keys by the hash of the presented secret, so the
// lookup learns nothing from how much of a guess matched. Lookups read an
// immutable table through an atomic pointer; reload swaps in a new one
// built from the config's operator keys and the store's keys.
type keyIndex struct {
	disabled bool
	config   []*Key
	table    atomic.Pointer[map[[sha256.Size]byte]*Key]

	mu        sync.Mutex             // serializes reload
	limits    map[string]rateLimiter // by key ID, kept across reloads
	newLimits limiterFunc            // makes a key's limiter
}

// anonymous is the key of every request when auth is disabled: an
// operator key, so calls are metered but never refused for credit.
var anonymous = &Key{ID: "anonymous", Name: "-", Account: "anonymous", Operator: true}

// newKeyIndex builds the index of cfg's keys, whose limiters newLimits
// makes; reload adds the store's. prev is the index it replaces (a config
// reload), or nil: its keys' limiters carry over, so a reload resets no
// one's rate-limit window.
func newKeyIndex(cfg configs.Auth, prev *keyIndex, newLimits limiterFunc) *keyIndex {
	ki := &keyIndex{disabled: cfg.Disabled, limits: map[string]rateLimiter{}, newLimits: newLimits}
	if prev != nil {
		prev.mu.Lock()
		maps.Copy(ki.limits, prev.limits)
		prev.mu.Unlock()
	}
	for i, k := range cfg.Keys {
		ki.config = append(ki.config, &Key{
			ID:       "config:" + k.Name,
			Name:     k.Name,
			Account:  k.Account,
			Operator: true,
			hash:     sha256.Sum256([]byte(k.Key)),
			rpm:      k.RPM,
			tpm:      k.TPM,
			limits:   ki.limitsFor("config:"+k.Name, k.RPM, k.TPM),

			compression: cfg.Keys[i].Compression,
		})
	}
	return ki
}

// limitsFor returns the key's limiter, reusing the one it had when its
// limits did not change, so a reload does not reset anyone's window.
// Callers hold mu, or own ki exclusively.
func (ki *keyIndex) limitsFor(id string, rpm, tpm int) rateLimiter {
	if rpm == 0 && tpm == 0 {
		delete(ki.limits, id)
		return nil
	}
	if kl := ki.limits[id]; kl != nil && kl.is(rpm, tpm) {
		return kl
	}
	kl := ki.newLimits(id, rpm, tpm)
	ki.limits[id] = kl
	return kl
}

// reload rebuilds the table from the store's keys and the config's; a
// config key wins over a store key with the same secret.
// Reading the store under mu keeps concurrent reloads in order: the last
// table swapped in is never older than a change that finished before it.
func (ki *keyIndex) reload(st store.Backend) error {
	ki.mu.Lock()
	defer ki.mu.Unlock()
	keys, err := st.Keys()
	if err != nil {
		return err
	}
	table := make(map[[sha256.Size]byte]*Key, len(keys)+len(ki.config))
	for _, sk := range keys {
		table[sk.Hash] = &Key{
			ID:           sk.ID,
			Name:         sk.Name,
			Account:      sk.Account,
			allowed:      sk.AllowedModels,
			dailyLimit:   sk.DailyLimit,
			monthlyLimit: sk.MonthlyLimit,
			expiresAt:    sk.ExpiresAt,
			revoked:      sk.Revoked,
			hash:         sk.Hash,
			rpm:          sk.RPM,
			tpm:          sk.TPM,
			limits:       ki.limitsFor(sk.ID, sk.RPM, sk.TPM),
			stages:       storedStages(sk.Compression),
		}
	}
	for _, k := range ki.config {
		table[k.hash] = k
	}
	ki.table.Store(&table)
	return nil
}

// storedStages reads a stored key's compression; the admin API checked
// it, so a value that does not parse (an older gateway's) is none.
func storedStages(v string) compress.Stages {
	if v == "" {
		return 0
	}
	st, err := compress.ParseStages(v)
	if err != nil {
		return 0
	}
	return st
}

var (
	bearerPrefix     = []byte("bearer ")
	headerAPIKey     = []byte("x-api-key")
	headerGoogAPIKey = []byte("x-goog-api-key")
)

// presentedSecret returns the secret a request presents, from
// `x-api-key`, `x-goog-api-key` or `Authorization: Bearer`, or nil.
func presentedSecret(h *fasthttp.RequestHeader) []byte {
	secret := h.PeekBytes(headerAPIKey)
	if len(secret) == 0 {
		secret = h.PeekBytes(headerGoogAPIKey)
	}
	if len(secret) == 0 {
		auth := h.Peek(fasthttp.HeaderAuthorization)
		if len(auth) > len(bearerPrefix) && bytes.EqualFold(auth[:len(bearerPrefix)], bearerPrefix) {
			secret = bytes.TrimSpace(auth[len(bearerPrefix):])
		}
	}
	return secret
}

// keyFromQuery moves a Gemini client's ?key= into the x-goog-api-key
// header, where authentication looks, unless a header already holds
// one. The query is never sent upstream or logged.
func keyFromQuery(req *fasthttp.Request) {
	if len(presentedSecret(&req.Header)) > 0 {
		return
	}
	if k := req.URI().QueryArgs().Peek("key"); len(k) > 0 {
		req.Header.SetBytesKV(headerGoogAPIKey, k)
	}
}

// authenticate returns the key the request presents, refusing unknown,
// revoked and expired keys.
func (ki *keyIndex) authenticate(h *fasthttp.RequestHeader, now time.Time) (*Key, error) {
	if ki.disabled {
		return anonymous, nil
	}
	secret := presentedSecret(h)
	if len(secret) == 0 {
		return nil, errUnauthorized
	}
	sum := sha256.Sum256(secret)
	k, ok := (*ki.table.Load())[sum]
	if !ok || subtle.ConstantTimeCompare(k.hash[:], sum[:]) != 1 {
		return nil, errUnauthorized
	}
	switch {
	case k.revoked:
		return nil, errKeyRevoked
	case !k.expiresAt.IsZero() && !now.Before(k.expiresAt):
		return nil, errKeyExpired
	}
	return k, nil
}

// authenticateCaller is authenticate for the management API (package
// api): the key as it shows it.
func (ki *keyIndex) authenticateCaller(h *fasthttp.RequestHeader, now time.Time) (api.Caller, error) {
	k, err := ki.authenticate(h, now)
	if err != nil {
		return api.Caller{}, err
	}
	return api.Caller{
		ID:            k.ID,
		Name:          k.Name,
		Account:       k.Account,
		Operator:      k.Operator,
		AllowedModels: k.allowed,
		RPM:           k.rpm,
		TPM:           k.tpm,
		DailyLimit:    k.dailyLimit,
		MonthlyLimit:  k.monthlyLimit,
		ExpiresAt:     k.expiresAt,
	}, nil
}
