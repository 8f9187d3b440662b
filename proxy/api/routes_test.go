package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/proxy/api"
	"switchboard/store"
	"switchboard/store/money"
	"switchboard/store/postgres"
	"switchboard/store/postgres/pgtest"
)

// The API's handlers are tested here on RequestCtx values, against a real
// store, with a key index that stands in for package proxy's. What proxy
// adds (routing to the API, the status and OpenAI error body of each
// error, the real key index) is tested end to end in proxy/api_test.go.

const (
	// masterKey is the admin key of newEnv's APIs.
	masterKey = "sk-sb-master-key-for-tests"
	// testKey is an operator key of the config, as the gateway's tests have.
	testKey = "sk-sb-test-key"
)

// Errors of env's authenticate, as the gateway's key index has them.
var (
	errUnauthorized = errors.New("invalid or missing gateway key")
	errKeyDisabled  = errors.New("this gateway key has been revoked or has expired")
)

// env is an API over a fresh store, with the billing "pro" plan at $25 a
// month, and a key index like the gateway's: it has the store's keys as
// of the last reload (and testKey), so a key change shows only if the API
// reloads after it.
type env struct {
	api   *api.API
	store store.Backend

	mu        sync.Mutex
	keys      map[[sha256.Size]byte]store.Key
	reloads   int
	reloadErr error // what the next reloads return
}

// newEnv returns an env with master as the master key ("" = admin API off).
func newEnv(t testing.TB, master string) *env {
	t.Helper()
	st := openBackend(t)
	// proxy.New opens the config keys' accounts this way.
	if err := st.SetUnlimited("operator"); err != nil {
		t.Fatal(err)
	}
	e := &env{store: st}
	if err := e.reload(); err != nil {
		t.Fatal(err)
	}
	e.api = api.New(api.Options{
		Store:        st,
		Plans:        []configs.Plan{{Name: "pro", Price: configs.Dollars(25 * money.Dollar), Period: "monthly"}},
		MasterKey:    configs.Secret(master),
		Secret:       secret,
		Authenticate: e.authenticate,
		ReloadKeys:   e.reload,
	})
	return e
}

// openBackend opens a fresh backend for t: the embedded store, or under
// TestAPIOnPostgres the postgres backend on a database of its own.
func openBackend(t testing.TB) store.Backend {
	t.Helper()
	local, err := store.OpenWith(t.TempDir(), store.Options{Outbox: strings.HasPrefix(t.Name(), "TestAPIOnPostgres/")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	if !strings.HasPrefix(t.Name(), "TestAPIOnPostgres/") {
		return local
	}
	pgOnce.Do(func() { pgServer, pgErr = pgtest.StartShared() })
	if pgErr != nil {
		t.Fatalf("pgtest: %v", pgErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pg, err := postgres.Open(ctx, pgServer.NewDatabase(t), local, postgres.Options{Node: "test", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close(context.Background()) }) // before local's: cleanups run last first
	return pg
}

// The PostgreSQL server of TestAPIOnPostgres, started by its first test
// and stopped by TestMain.
var (
	pgOnce   sync.Once
	pgServer *pgtest.Server
	pgErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgServer != nil {
		pgServer.Close()
	}
	os.Exit(code)
}

// TestAPIOnPostgres runs the API's tests again on the postgres backend,
// against a real PostgreSQL: both backends answer alike.
func TestAPIOnPostgres(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"TopUpIsIdempotent", TestAdminTopUpIsIdempotent},
		{"Plan", TestAdminPlan},
		{"AccountChangesNeedTheAccount", TestAdminAccountChangesNeedTheAccount},
		{"KeyChangesReloadTheIndexBeforeAnswering", TestKeyChangesReloadTheIndexBeforeAnswering},
		{"KeyFieldErrorsSayWhatToDo", TestKeyFieldErrorsSayWhatToDo},
		{"KeyForUnknownAccount", TestKeyForUnknownAccount},
		{"PrincipalsOfKeysAndSessions", TestPrincipalsOfKeysAndSessions},
		{"AdminOffWithoutMasterKey", TestAdminOffWithoutMasterKey},
		{"KeyHolderAPIRefusesBadRequests", TestKeyHolderAPIRefusesBadRequests},
		{"AdminRefusesBadRequests", TestAdminRefusesBadRequests},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// secret returns the secret in x-api-key or Authorization: Bearer.
func secret(h *fasthttp.RequestHeader) []byte {
	if k := h.Peek("x-api-key"); len(k) > 0 {
		return k
	}
	return bytes.TrimPrefix(h.Peek("Authorization"), []byte("Bearer "))
}

func (e *env) reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reloads++
	if e.reloadErr != nil {
		return e.reloadErr
	}
	keys, err := e.store.Keys()
	if err != nil {
		return err
	}
	e.keys = map[[sha256.Size]byte]store.Key{}
	for _, k := range keys {
		e.keys[k.Hash] = k
	}
	return nil
}

func (e *env) authenticate(h *fasthttp.RequestHeader, now time.Time) (api.Caller, error) {
	s := string(secret(h))
	if s == testKey {
		return api.Caller{ID: "config:test", Name: "test", Account: "operator", Operator: true}, nil
	}
	e.mu.Lock()
	k, ok := e.keys[store.SecretHash(s)]
	e.mu.Unlock()
	switch {
	case !ok:
		return api.Caller{}, errUnauthorized
	case k.Revoked, !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return api.Caller{}, errKeyDisabled
	}
	return api.Caller{
		ID: k.ID, Name: k.Name, Account: k.Account, AllowedModels: k.AllowedModels,
		RPM: k.RPM, TPM: k.TPM, DailyLimit: k.DailyLimit, MonthlyLimit: k.MonthlyLimit, ExpiresAt: k.ExpiresAt,
	}, nil
}

// result is what Serve did with a request: the error it returned, else
// the answer it wrote.
type result struct {
	err    error
	status int
	body   string
}

// do serves one request for a URL path as the gateway routes it to the
// API, with headers given as name, value pairs.
func (e *env) do(t testing.TB, method, path, body string, headers ...string) result {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	ctx.Request.SetBodyString(body)
	p := string(ctx.Path())
	rest, ok := strings.CutPrefix(p, "/api/v1/")
	if p == "/v1/dashboard/billing/credits" || p == "/dashboard/billing/credits" {
		rest, ok = "dashboard/billing/credits", true
	}
	if !ok {
		t.Fatalf("%s is not a path of the API", path)
	}
	if err := e.api.Serve(&ctx, rest); err != nil {
		return result{err: err}
	}
	return result{status: ctx.Response.StatusCode(), body: string(ctx.Response.Body())}
}

// admin sends an admin API request with the master key.
func (e *env) admin(t testing.TB, method, path, body string, headers ...string) result {
	t.Helper()
	return e.do(t, method, "/api/v1/admin"+path, body, append([]string{"Authorization", "Bearer " + masterKey}, headers...)...)
}

// as sends a request with the gateway key secret.
func (e *env) as(t testing.TB, secret, method, path, body string) result {
	t.Helper()
	return e.do(t, method, path, body, "Authorization", "Bearer "+secret)
}

// newKey creates a key through the admin API from a body and returns its
// visible ID and its secret.
func (e *env) newKey(t testing.TB, body string) (id, secret string) {
	t.Helper()
	r := e.admin(t, "POST", "/keys", body)
	if r.err != nil || r.status != fasthttp.StatusCreated {
		t.Fatalf("create key %s: %v %d %s", body, r.err, r.status, r.body)
	}
	return stringAt(t, r.body, "data", "id"), stringAt(t, r.body, "data", "key")
}

// topUp adds dollars to an account through the admin API.
func (e *env) topUp(t testing.TB, account, dollars string) {
	t.Helper()
	if r := e.admin(t, "POST", "/accounts/"+account+"/topup", `{"amount":"`+dollars+`"}`); r.err != nil || r.status != 200 {
		t.Fatalf("top-up %s: %v %d %s", account, r.err, r.status, r.body)
	}
}

// rawAt returns the raw JSON at path in doc.
func rawAt(t testing.TB, doc string, path ...any) string {
	t.Helper()
	n, err := sonic.GetFromString(doc, path...)
	if err != nil {
		t.Fatalf("no %v in %s: %v", path, doc, err)
	}
	raw, err := n.Raw()
	if err != nil {
		t.Fatalf("%v in %s: %v", path, doc, err)
	}
	return raw
}

// stringAt returns the string at path in doc.
func stringAt(t testing.TB, doc string, path ...any) string {
	t.Helper()
	var s string
	if err := sonic.UnmarshalString(rawAt(t, doc, path...), &s); err != nil {
		t.Fatalf("%v in %s: %v", path, doc, err)
	}
	return s
}

// moneyAt returns the dollar amount at path in doc, which must be an
// exact decimal JSON number.
func moneyAt(t testing.TB, doc string, path ...any) money.Money {
	t.Helper()
	raw := rawAt(t, doc, path...)
	m, err := money.Parse(raw)
	if err != nil {
		t.Fatalf("%v in %s: %v", path, doc, err)
	}
	return m
}

// dollarsOf parses decimal dollars.
func dollarsOf(t testing.TB, s string) money.Money {
	t.Helper()
	m, err := money.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAdminOffWithoutMasterKey(t *testing.T) {
	e := newEnv(t, "")
	for _, path := range []string{"/api/v1/admin/keys", "/api/v1/admin/accounts/operator", "/api/v1/admin"} {
		for _, key := range []string{testKey, "sk-sb-anything"} {
			if r := e.as(t, key, "GET", path, ""); !errors.Is(r.err, api.ErrNotFound) {
				t.Errorf("GET %s with %s: %v %d %s, want ErrNotFound", path, key, r.err, r.status, r.body)
			}
		}
	}
}

func TestKeyHolderAPIRefusesBadRequests(t *testing.T) {
	e := newEnv(t, masterKey)
	f := func(method, path, key string, want error) {
		t.Helper()
		if r := e.as(t, key, method, path, ""); !errors.Is(r.err, want) {
			t.Errorf("%s %s: %v %d %s, want %v", method, path, r.err, r.status, r.body, want)
		}
	}
	// Errors of Authenticate come back as they are.
	f("GET", "/api/v1/credits", "sk-sb-wrong", errUnauthorized)
	f("GET", "/api/v1/key", masterKey, errUnauthorized)
	f("GET", "/v1/dashboard/billing/credits", "", errUnauthorized)
	f("POST", "/api/v1/credits", testKey, api.ErrMethodNotAllowed)
	f("DELETE", "/v1/dashboard/billing/credits", testKey, api.ErrMethodNotAllowed)
	f("GET", "/api/v1/nope", testKey, api.ErrNotFound)
	f("GET", "/api/v1/", testKey, api.ErrNotFound)

	// An operator key of the config sees its own account.
	r := e.as(t, testKey, "GET", "/api/v1/key", "")
	if r.err != nil || rawAt(t, r.body, "data", "is_operator") != "true" || rawAt(t, r.body, "data", "account") != `"operator"` ||
		rawAt(t, r.body, "data", "limit") != "null" {
		t.Errorf("operator key: %v %d %s", r.err, r.status, r.body)
	}
}

func TestAdminRefusesBadRequests(t *testing.T) {
	e := newEnv(t, masterKey)
	id, _ := e.newKey(t, `{"account":"team-a","create_account":true}`)
	e.topUp(t, "team-a", "1")
	// want is the error Serve returns, nil for an answer (200).
	f := func(method, path, body string, want error, headers ...string) {
		t.Helper()
		if headers == nil {
			headers = []string{"Authorization", "Bearer " + masterKey}
		}
		r := e.do(t, method, "/api/v1/admin"+path, body, headers...)
		if want == nil && (r.err != nil || r.status != 200) || want != nil && !errors.Is(r.err, want) {
			t.Errorf("%s %s %s: %v %d %s, want %v", method, path, body, r.err, r.status, r.body, want)
		}
	}
	f("GET", "/keys", "", api.ErrBadMasterKey, "Authorization", "Bearer sk-sb-wrong")
	f("GET", "/keys", "", api.ErrBadMasterKey, "Authorization", "")
	f("GET", "/keys", "", api.ErrBadMasterKey, "Authorization", "Bearer "+testKey)
	f("GET", "/nope", "", api.ErrBadMasterKey, "Authorization", "Bearer sk-sb-wrong")
	f("GET", "/keys", "", nil, "x-api-key", masterKey)

	f("GET", "/nope", "", api.ErrNotFound)
	f("GET", "/keys/"+id+"/more", "", api.ErrNotFound)
	f("GET", "/accounts/team-a/ledger/more", "", api.ErrNotFound)
	f("GET", "/keys/sk-sb-NOSUCH", "", store.ErrNotFound)
	f("PATCH", "/keys/sk-sb-NOSUCH", `{"name":"x"}`, store.ErrNotFound)
	f("DELETE", "/keys/sk-sb-NOSUCH", "", store.ErrNotFound)
	f("GET", "/keys/config:test", "", store.ErrNotFound)
	f("GET", "/accounts/nobody", "", store.ErrNotFound)
	f("GET", "/accounts/nobody/ledger", "", store.ErrNotFound)
	f("PUT", "/keys", "", api.ErrMethodNotAllowed)
	f("POST", "/accounts/team-a", "", api.ErrMethodNotAllowed)
	f("GET", "/accounts/team-a/topup", "", api.ErrMethodNotAllowed)

	bad := api.ErrBadRequest
	f("POST", "/keys", `{"account":"team-a",`, bad)
	f("POST", "/keys", ``, bad)
	f("POST", "/keys", `[]`, bad)
	f("POST", "/keys", `{"account":"team-a"} {}`, bad)
	f("POST", "/keys", `{"acount":"team-a"}`, bad)
	f("POST", "/keys", `{"name":"no account"}`, bad)
	f("POST", "/keys", `{"account":""}`, bad)
	f("POST", "/keys", `{"account":"a\u0000b"}`, bad)
	f("POST", "/keys", `{"account":"team-a","rpm":-1}`, bad)
	f("POST", "/keys", `{"account":"team-a","rpm":1.5}`, bad)
	f("POST", "/keys", `{"account":"team-a","rpm":"60"}`, bad)
	f("POST", "/keys", `{"account":"team-a","daily_limit":"-5"}`, bad)
	f("POST", "/keys", `{"account":"team-a","daily_limit":"five"}`, bad)
	f("POST", "/keys", `{"account":"team-a","expires_at":"tomorrow"}`, bad)
	f("POST", "/keys", `{"account":"team-a","expires_at":"9999-01-01T00:00:00Z"}`, bad)
	f("POST", "/keys", `{"account":"team-a","allowed_models":[""]}`, bad)
	f("POST", "/keys", `{"account":"team-a","expires_at":"2001-01-01T00:00:00Z"}`, bad)
	f("PATCH", "/keys/"+id, `{"expires_at":"2001-01-01T00:00:00Z"}`, bad)
	f("POST", "/keys", `{"account":"team-a","name":"`+strings.Repeat("n", 257)+`"}`, bad)
	f("PATCH", "/keys/"+id, `{"account":"team-b"}`, bad)
	f("PATCH", "/keys/"+id, `{"tpm":-3}`, bad)

	f("POST", "/accounts/team-a/topup", `{"amount":"-1"}`, bad)
	f("POST", "/accounts/team-a/topup", `{"amount":-1}`, bad)
	f("POST", "/accounts/team-a/topup", `{"amount":"0"}`, bad)
	f("POST", "/accounts/team-a/topup", `{"amount":0}`, bad)
	f("POST", "/accounts/team-a/topup", `{"amount":"1e3"}`, bad)
	f("POST", "/accounts/team-a/topup", `{"amount":1e3}`, bad)
	f("POST", "/accounts/team-a/topup", `{"amount":"1.0000000001"}`, bad)
	f("POST", "/accounts/team-a/topup", `{"amount":null}`, bad)
	f("POST", "/accounts/team-a/topup", `{}`, bad)
	f("POST", "/accounts/team-a/topup", `{"amount":"9000000000"}`, nil)
	f("POST", "/accounts/team-a/topup", `{"amount":"9000000000"}`, bad) // would overflow
	f("POST", "/accounts/team-a/topup", `{"amount":"1","idempotency_key":"a"}`, bad, "Authorization", "Bearer "+masterKey, "Idempotency-Key", "b")
	f("PUT", "/accounts/team-a/credits", `{"amount":"-0.01"}`, bad)
	f("PUT", "/accounts/team-a/credits", `{}`, bad)
	f("PUT", "/accounts/team-a/plan", `{"plan":"gold"}`, bad)
	f("PUT", "/accounts/team-a/plan", `{}`, bad)
	f("PUT", "/accounts/team-a/plan", `{"plan":1}`, bad)
	f("GET", "/accounts/team-a/ledger?cursor=%21%21", "", store.ErrBadCursor)
	f("GET", "/accounts/team-a/ledger?from=yesterday", "", bad)
	f("GET", "/accounts/team-a/ledger?limit=0", "", bad)
	f("GET", "/accounts/team-a/ledger?limit=1001", "", bad)
	f("GET", "/accounts/team-a/ledger?limit=x", "", bad)
}
