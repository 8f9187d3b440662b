// Package api is the gateway's management API under /api/v1: a key
// holder's own billing data in OpenRouter's shapes (and OpenAI's legacy
// credit summary at /v1/dashboard/billing/credits), and under admin/ the
// admin API for keys, accounts, usage, the request log and the audit
// log, which takes the config's auth.master_key (auth.viewer_key for
// reading), or a console session (Options.Session).
//
// None of it is on the hot path, so it lives apart from package proxy and
// never sees a proxied call: it answers through typed structs and sonic,
// reads and writes the store, and gets what it needs of the gateway (the
// secret a request presents, gateway-key authentication, the reload of
// the key index) as funcs in Options. Package proxy builds it and
// dispatches the paths to API.Serve.
//
// Errors: a handler never writes an error answer. Serve returns the error,
// and package proxy's toAPIError (proxy/errors.go), the one place that
// maps errors to a status and the OpenAI error shape, answers it. The
// errors that decide a status wrap this package's sentinels (ErrBadRequest,
// ErrNotFound, ErrMethodNotAllowed, ErrBadMasterKey, ErrReadOnly,
// ErrConflict) or the
// store's (store.ErrNotFound, store.ErrBadCursor); errors of Authenticate
// come back unchanged; anything else is a 500.
package api

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/store"
	"switchboard/store/money"
)

var (
	// ErrBadRequest marks a request the API refuses as malformed (400).
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound is a path that is no endpoint of the API (404). A
	// missing key, account or ledger entry is store.ErrNotFound instead.
	ErrNotFound = errors.New("not found")
	// ErrMethodNotAllowed is an endpoint called with a method it does not
	// serve (405).
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrBadMasterKey is an admin call without the master key (401).
	ErrBadMasterKey = errors.New("the admin API wants the master key (auth.master_key) as Authorization: Bearer or x-api-key")
	// ErrConflict is a request that contradicts an earlier one (409).
	ErrConflict = errors.New("conflict")
)

var errNoEndpoint = fmt.Errorf("%w: no such endpoint under /api/v1; see /api/v1/credits, /api/v1/key, /api/v1/generation, /api/v1/usage and /api/v1/admin", ErrNotFound)

// Caller is the gateway key of a key holder's request, as the API shows
// it: what package proxy's key index knows of the key.
type Caller struct {
	// ID is the key's visible id ("sk-sb-XXXXXX", or "config:<name>" for
	// an operator key of the config).
	ID string
	// Name labels the key.
	Name string
	// Account is the account the key's requests are charged to.
	Account string
	// Operator is true for a key of the config.
	Operator bool
	// AllowedModels are the model strings the key may call; empty = all.
	AllowedModels []string
	// RPM and TPM are the per-minute limits; 0 = none.
	RPM, TPM int
	// DailyLimit and MonthlyLimit are spending limits; 0 = none.
	DailyLimit, MonthlyLimit money.Money
	// ExpiresAt is when the key stops working; zero = never.
	ExpiresAt time.Time
}

// Options is what New needs. Every field is required except MasterKey,
// ViewerKey, Plans and Session.
type Options struct {
	// Store holds the keys, accounts and ledger the API shows and changes.
	Store store.Backend
	// Plans are the config's billing.plans, which setting an account's
	// plan chooses from.
	Plans []configs.Plan
	// MasterKey is the config's auth.master_key and ViewerKey its
	// auth.viewer_key, read-only; with neither the admin API is off (its
	// paths answer 404).
	MasterKey configs.Secret
	ViewerKey configs.Secret
	// Secret returns the secret a request presents, read as the gateway
	// reads a gateway key; the admin API compares it to MasterKey.
	Secret func(*fasthttp.RequestHeader) []byte
	// Authenticate returns the gateway key a key holder's request
	// presents at now, or the error to answer.
	Authenticate func(h *fasthttp.RequestHeader, now time.Time) (Caller, error)
	// ReloadKeys reloads the gateway's key index from Store. The API
	// calls it after every change to a key, before it answers, so that
	// the next request sees the change.
	ReloadKeys func() error
	// Session, when set, returns who an admin request without a key is
	// by its console session (ok false when it carries none), or the
	// error to answer (an ended session, a change without its CSRF
	// token).
	Session func(ctx *fasthttp.RequestCtx, now time.Time) (p Principal, ok bool, err error)
}

// API serves the /api/v1 endpoints. Create it with New; it is safe for
// concurrent use.
type API struct {
	store        store.Backend
	plans        map[string]configs.Plan
	masterHash   [sha256.Size]byte // SHA-256 of the master key; zero = none
	viewerHash   [sha256.Size]byte // SHA-256 of the viewer key; zero = none
	secret       func(*fasthttp.RequestHeader) []byte
	authenticate func(*fasthttp.RequestHeader, time.Time) (Caller, error)
	reloadKeys   func() error
	session      func(*fasthttp.RequestCtx, time.Time) (Principal, bool, error)
	accountMu    sync.Mutex // serializes createAccount's exists check and write
}

// New returns the API for o.
func New(o Options) *API {
	a := &API{
		store:        o.Store,
		plans:        make(map[string]configs.Plan, len(o.Plans)),
		secret:       o.Secret,
		authenticate: o.Authenticate,
		reloadKeys:   o.ReloadKeys,
		session:      o.Session,
	}
	for _, p := range o.Plans {
		a.plans[p.Name] = p
	}
	if o.MasterKey != "" {
		a.masterHash = sha256.Sum256([]byte(o.MasterKey))
	}
	if o.ViewerKey != "" {
		a.viewerHash = sha256.Sum256([]byte(o.ViewerKey))
	}
	return a
}

// request is one request to the API as its handler sees it.
type request struct {
	ctx *fasthttp.RequestCtx
	key *Caller   // the key holder's key; nil on admin calls
	who Principal // who makes an admin call
	id  string    // the {id} segment of an admin path
	now time.Time
}

// routes maps "METHOD pattern" to the handler of each endpoint; a pattern
// is the path after /api/v1/, with {id} for a key or account id. Patterns
// under admin/ take the master key (the GET ones the viewer key too), the
// others a gateway key.
var routes = map[string]func(*API, *request) error{
	"GET credits":                   (*API).credits,
	"GET key":                       (*API).keyInfo,
	"GET generation":                (*API).generation,
	"GET usage":                     (*API).usage,
	"GET dashboard/billing/credits": (*API).dashboardCredits,

	"GET admin/keys":                  (*API).listKeys,
	"POST admin/keys":                 (*API).createKey,
	"GET admin/keys/{id}":             (*API).getKey,
	"PATCH admin/keys/{id}":           (*API).patchKey,
	"DELETE admin/keys/{id}":          (*API).revokeKey,
	"GET admin/accounts":              (*API).listAccounts,
	"POST admin/accounts":             (*API).createAccount,
	"GET admin/accounts/{id}":         (*API).getAccount,
	"POST admin/accounts/{id}/topup":  (*API).topUp,
	"PUT admin/accounts/{id}/credits": (*API).setCredits,
	"PUT admin/accounts/{id}/plan":    (*API).setPlan,
	"GET admin/accounts/{id}/ledger":  (*API).accountLedger,
	"GET admin/usage":                 (*API).adminUsage,
	"GET admin/requests":              (*API).listRequests,
	"GET admin/requests/{id}":         (*API).getRequest,
	"GET admin/audit":                 (*API).listAudit,
}

// Route is one endpoint of the API as a client calls it.
type Route struct {
	// Method is the HTTP method, such as "GET".
	Method string
	// Path is the full URL path, with {id} for a key or account id:
	// /api/v1/<pattern>, and /v1/dashboard/billing/credits for OpenAI's
	// legacy credit summary.
	Path string
}

// Routes returns every endpoint Serve answers, sorted by path then
// method; it is read from the table Serve dispatches on.
func Routes() []Route {
	out := make([]Route, 0, len(routes))
	for route := range routes {
		m, p, _ := strings.Cut(route, " ")
		prefix := "/api/v1/"
		if p == "dashboard/billing/credits" {
			prefix = "/v1/"
		}
		out = append(out, Route{Method: m, Path: prefix + p})
	}
	slices.SortFunc(out, func(a, b Route) int {
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	return out
}

// Serve answers a request for path, the part of the URL path after
// /api/v1/ (or "dashboard/billing/credits" for OpenAI's legacy path), or
// returns the error to answer; it writes no error answer itself. It
// authenticates the caller first (the master or viewer key for admin
// paths, before anything else, so that nothing about them shows without
// it; a gateway key for the others) and runs the path's handler. Serve may keep path
// (ids in it reach the store), so it must not be a view of ctx's buffers.
func (a *API) Serve(ctx *fasthttp.RequestCtx, path string) error {
	r := &request{ctx: ctx, now: time.Now()}
	pattern := strings.TrimSuffix(path, "/")
	admin := pattern == "admin" || strings.HasPrefix(pattern, "admin/")
	if admin {
		who, err := a.principal(ctx, r.now)
		if err != nil {
			return err
		}
		r.who = who
		// admin/<collection>/<id>[/<action>]
		if parts := strings.SplitN(pattern, "/", 4); len(parts) >= 3 {
			r.id, parts[2] = parts[2], "{id}"
			if r.id == "" {
				return errNoEndpoint
			}
			if err := checkID("id", r.id); err != nil {
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
		k, err := a.authenticate(&ctx.Request.Header, r.now)
		if err != nil {
			return err
		}
		r.key = &k
	}
	return h(a, r)
}

// findRoute returns the handler of the request's method and pattern, or
// the error to answer: 405 when the pattern exists for other methods,
// else 404.
func findRoute(ctx *fasthttp.RequestCtx, pattern string) (func(*API, *request) error, error) {
	method := string(ctx.Method())
	if h := routes[method+" "+pattern]; h != nil {
		return h, nil
	}
	var allowed []string
	for route := range routes {
		if m, p, _ := strings.Cut(route, " "); p == pattern {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		return nil, errNoEndpoint
	}
	slices.Sort(allowed)
	return nil, fmt.Errorf("%w: %s %s; want %s", ErrMethodNotAllowed, method, ctx.Path(), strings.Join(allowed, " or "))
}
