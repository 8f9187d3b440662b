package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
	"switchboard/store/money"
)

// masterKey is the admin key of startBillingGateway's gateways.
const masterKey = "sk-sb-master-key-for-tests"

// startBillingGateway starts a mock provider and a gateway with the admin
// API on (masterKey), the mock's model priced at $1 input / $2 output per
// million tokens, so every call reserves and costs something, and a
// "pro" plan at $25 a month.
func startBillingGateway(t testing.TB) *gateway {
	t.Helper()
	m := startMock(t, mock.Options{})
	return startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth:
  master_key: %s
  keys:
    - {name: test, key: %s}
aliases:
  alias-model: mock/mock-model
providers:
  - name: mock
    base_url: %s/v1
    api_key: sk-upstream-secret
    models: [mock-model]
billing:
  prices: {mock/mock-model: {input: "1", output: "2"}}
  plans: [{name: pro, price: "25"}]
`, t.TempDir(), masterKey, testKey, m.URL()))
}

// admin sends an admin API request with the master key.
func (g *gateway) admin(t testing.TB, method, path, body string) result {
	t.Helper()
	return g.do(t, method, "/api/v1/admin"+path, body, "Authorization", "Bearer "+masterKey)
}

// as sends a request with the gateway key secret.
func (g *gateway) as(t testing.TB, secret, method, path, body string) result {
	t.Helper()
	return g.do(t, method, path, body, "Authorization", "Bearer "+secret)
}

// newKey creates a key through the admin API from a body and returns its
// visible ID and its secret.
func (g *gateway) newKey(t testing.TB, body string) (id, secret string) {
	t.Helper()
	r := g.admin(t, "POST", "/keys", body)
	if r.status != fasthttp.StatusCreated {
		t.Fatalf("create key %s: %d %s", body, r.status, r.body)
	}
	return stringAt(t, r.body, "data", "id"), stringAt(t, r.body, "data", "key")
}

// topUp adds dollars to an account through the admin API.
func (g *gateway) topUp(t testing.TB, account, dollars string) {
	t.Helper()
	if r := g.admin(t, "POST", "/accounts/"+account+"/topup", `{"amount":"`+dollars+`"}`); r.status != 200 {
		t.Fatalf("top-up %s: %d %s", account, r.status, r.body)
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

func TestAdminKeyLifecycle(t *testing.T) {
	g := startBillingGateway(t)
	id, secret := g.newKey(t, `{"account":"team-a","name":"ci","rpm":60,"tpm":100000,"daily_limit":"5","monthly_limit":50,"expires_at":"2027-01-01T00:00:00Z"}`)
	if !strings.HasPrefix(secret, "sk-sb-") || !strings.HasPrefix(secret, id) {
		t.Fatalf("id %q secret %q", id, secret)
	}

	// The account starts empty: the priced call's reservation is refused.
	if r := g.as(t, secret, "POST", "/v1/chat/completions", chatBody); r.status != fasthttp.StatusPaymentRequired {
		t.Fatalf("before top-up: %d %s", r.status, r.body)
	}
	g.topUp(t, "team-a", "10")
	if r := g.as(t, secret, "POST", "/v1/chat/completions", chatBody); r.status != 200 {
		t.Fatalf("after top-up: %d %s", r.status, r.body)
	}

	r := g.admin(t, "GET", "/keys/"+id, "")
	for path, want := range map[string]string{
		"name": `"ci"`, "account": `"team-a"`, "rpm": "60", "tpm": "100000", "daily_limit": "5",
		"monthly_limit": "50", "expires_at": `"2027-01-01T00:00:00Z"`, "revoked": "false", "allowed_models": "null",
	} {
		if got := rawAt(t, r.body, "data", path); got != want {
			t.Errorf("key %s = %s, want %s", path, got, want)
		}
	}
	if strings.Contains(r.body, secret) || strings.Contains(r.body, "hash") {
		t.Errorf("key answer shows its secret or hash: %s", r.body)
	}

	r = g.admin(t, "GET", "/keys?account=team-a", "")
	if r.status != 200 || rawAt(t, r.body, "data", 0, "id") != `"`+id+`"` || strings.Contains(r.body, secret) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if r = g.admin(t, "GET", "/keys?account=team-b", ""); r.body != `{"data":[]}` {
		t.Fatalf("list of another account: %s", r.body)
	}

	// A PATCH changes the fields it gives; null clears a limit.
	r = g.admin(t, "PATCH", "/keys/"+id, `{"allowed_models":["mock-model"],"daily_limit":null,"rpm":null,"name":"ci-2"}`)
	if r.status != 200 || rawAt(t, r.body, "data", "daily_limit") != "null" || rawAt(t, r.body, "data", "rpm") != "null" ||
		rawAt(t, r.body, "data", "monthly_limit") != "50" || rawAt(t, r.body, "data", "name") != `"ci-2"` {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r = g.as(t, secret, "POST", "/v1/chat/completions", chatBody); r.status != 200 {
		t.Fatalf("allowed model: %d %s", r.status, r.body)
	}
	if r = g.as(t, secret, "POST", "/v1/chat/completions", chat("alias-model", "")); r.status != fasthttp.StatusForbidden {
		t.Fatalf("model outside allowed_models: %d %s", r.status, r.body)
	}

	// An expiry in the past takes effect at once; null removes it.
	r = g.admin(t, "PATCH", "/keys/"+id, `{"expires_at":"2020-01-01T02:00:00+02:00"}`)
	if r.status != 200 || rawAt(t, r.body, "data", "expires_at") != `"2020-01-01T00:00:00Z"` {
		t.Fatalf("patch expires_at: %d %s", r.status, r.body)
	}
	if r = g.as(t, secret, "GET", "/api/v1/key", ""); r.status != fasthttp.StatusUnauthorized {
		t.Fatalf("expired key: %d %s", r.status, r.body)
	}
	g.admin(t, "PATCH", "/keys/"+id, `{"expires_at":null}`)
	if r = g.as(t, secret, "GET", "/api/v1/key", ""); r.status != 200 || rawAt(t, r.body, "data", "expires_at") != "null" {
		t.Fatalf("key without expiry: %d %s", r.status, r.body)
	}

	r = g.admin(t, "DELETE", "/keys/"+id, "")
	if r.status != 200 || rawAt(t, r.body, "data", "revoked") != "true" {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r = g.as(t, secret, "POST", "/v1/chat/completions", chatBody); r.status != fasthttp.StatusUnauthorized {
		t.Fatalf("chat with a revoked key: %d %s", r.status, r.body)
	}
	if r = g.as(t, secret, "GET", "/api/v1/key", ""); r.status != fasthttp.StatusUnauthorized {
		t.Fatalf("/api/v1/key with a revoked key: %d %s", r.status, r.body)
	}
	if r = g.admin(t, "PATCH", "/keys/"+id, `{"revoked":false}`); r.status != fasthttp.StatusBadRequest {
		t.Fatalf("un-revoke: %d %s", r.status, r.body)
	}
}

func TestAdminRefusesBadRequests(t *testing.T) {
	g := startBillingGateway(t)
	id, _ := g.newKey(t, `{"account":"team-a"}`)
	g.topUp(t, "team-a", "1")
	f := func(method, path, body string, status int, headers ...string) {
		t.Helper()
		if headers == nil {
			headers = []string{"Authorization", "Bearer " + masterKey}
		}
		r := g.do(t, method, "/api/v1/admin"+path, body, headers...)
		if r.status != status || status >= 400 && !strings.Contains(r.body, `"error":{"message":`) {
			t.Errorf("%s %s %s: %d %s, want %d", method, path, body, r.status, r.body, status)
		}
	}
	f("GET", "/keys", "", 401, "Authorization", "Bearer sk-sb-wrong")
	f("GET", "/keys", "", 401, "Authorization", "")
	f("GET", "/keys", "", 401, "Authorization", "Bearer "+testKey)
	f("GET", "/nope", "", 401, "Authorization", "Bearer sk-sb-wrong")
	f("GET", "/keys", "", 200, "x-api-key", masterKey)

	f("GET", "/nope", "", 404)
	f("GET", "/keys/"+id+"/more", "", 404)
	f("GET", "/accounts/team-a/ledger/more", "", 404)
	f("GET", "/keys/sk-sb-NOSUCH", "", 404)
	f("PATCH", "/keys/sk-sb-NOSUCH", `{"name":"x"}`, 404)
	f("DELETE", "/keys/sk-sb-NOSUCH", "", 404)
	f("GET", "/keys/config:test", "", 404)
	f("GET", "/accounts/nobody", "", 404)
	f("GET", "/accounts/nobody/ledger", "", 404)
	f("PUT", "/keys", "", 405)
	f("POST", "/accounts/team-a", "", 405)
	f("GET", "/accounts/team-a/topup", "", 405)

	f("POST", "/keys", `{"account":"team-a",`, 400)
	f("POST", "/keys", ``, 400)
	f("POST", "/keys", `[]`, 400)
	f("POST", "/keys", `{"account":"team-a"} {}`, 400)
	f("POST", "/keys", `{"acount":"team-a"}`, 400)
	f("POST", "/keys", `{"name":"no account"}`, 400)
	f("POST", "/keys", `{"account":""}`, 400)
	f("POST", "/keys", `{"account":"a\u0000b"}`, 400)
	f("POST", "/keys", `{"account":"team-a","rpm":-1}`, 400)
	f("POST", "/keys", `{"account":"team-a","rpm":1.5}`, 400)
	f("POST", "/keys", `{"account":"team-a","rpm":"60"}`, 400)
	f("POST", "/keys", `{"account":"team-a","daily_limit":"-5"}`, 400)
	f("POST", "/keys", `{"account":"team-a","daily_limit":"five"}`, 400)
	f("POST", "/keys", `{"account":"team-a","expires_at":"tomorrow"}`, 400)
	f("POST", "/keys", `{"account":"team-a","expires_at":"9999-01-01T00:00:00Z"}`, 400)
	f("POST", "/keys", `{"account":"team-a","allowed_models":[""]}`, 400)
	f("POST", "/keys", `{"account":"team-a","name":"`+strings.Repeat("n", 257)+`"}`, 400)
	f("PATCH", "/keys/"+id, `{"account":"team-b"}`, 400)
	f("PATCH", "/keys/"+id, `{"tpm":-3}`, 400)

	f("POST", "/accounts/team-a/topup", `{"amount":"-1"}`, 400)
	f("POST", "/accounts/team-a/topup", `{"amount":-1}`, 400)
	f("POST", "/accounts/team-a/topup", `{"amount":"0"}`, 400)
	f("POST", "/accounts/team-a/topup", `{"amount":0}`, 400)
	f("POST", "/accounts/team-a/topup", `{"amount":"1e3"}`, 400)
	f("POST", "/accounts/team-a/topup", `{"amount":1e3}`, 400)
	f("POST", "/accounts/team-a/topup", `{"amount":"1.0000000001"}`, 400)
	f("POST", "/accounts/team-a/topup", `{"amount":null}`, 400)
	f("POST", "/accounts/team-a/topup", `{}`, 400)
	f("POST", "/accounts/team-a/topup", `{"amount":"9000000000"}`, 200)
	f("POST", "/accounts/team-a/topup", `{"amount":"9000000000"}`, 400) // would overflow
	f("POST", "/accounts/team-a/topup", `{"amount":"1","idempotency_key":"a"}`, 400, "Authorization", "Bearer "+masterKey, "Idempotency-Key", "b")
	f("PUT", "/accounts/team-a/credits", `{"amount":"-0.01"}`, 400)
	f("PUT", "/accounts/team-a/credits", `{}`, 400)
	f("PUT", "/accounts/team-a/plan", `{"plan":"gold"}`, 400)
	f("PUT", "/accounts/team-a/plan", `{}`, 400)
	f("PUT", "/accounts/team-a/plan", `{"plan":1}`, 400)
	f("GET", "/accounts/team-a/ledger?cursor=%21%21", "", 400)
	f("GET", "/accounts/team-a/ledger?from=yesterday", "", 400)
	f("GET", "/accounts/team-a/ledger?limit=0", "", 400)
	f("GET", "/accounts/team-a/ledger?limit=1001", "", 400)
	f("GET", "/accounts/team-a/ledger?limit=x", "", 400)
}

func TestAdminOffWithoutMasterKey(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	for _, path := range []string{"/api/v1/admin/keys", "/api/v1/admin/accounts/operator", "/api/v1/admin"} {
		for _, key := range []string{testKey, "sk-sb-anything"} {
			if r := g.do(t, "GET", path, "", "Authorization", "Bearer "+key); r.status != fasthttp.StatusNotFound {
				t.Errorf("GET %s with %s: %d %s", path, key, r.status, r.body)
			}
		}
	}
}

func TestAdminTopUpIsIdempotent(t *testing.T) {
	g := startBillingGateway(t)
	for range 2 {
		if r := g.admin(t, "POST", "/accounts/team-a/topup", `{"amount":"10.50","idempotency_key":"invoice-1"}`); r.status != 200 {
			t.Fatalf("top-up: %d %s", r.status, r.body)
		}
	}
	// The header is the same key as the body field.
	r := g.do(t, "POST", "/api/v1/admin/accounts/team-a/topup", `{"amount":10.5}`, "Authorization", "Bearer "+masterKey, "Idempotency-Key", "invoice-1")
	if r.status != 200 || moneyAt(t, r.body, "data", "credits") != dollarsOf(t, "10.5") || moneyAt(t, r.body, "data", "topped_up") != dollarsOf(t, "10.5") {
		t.Fatalf("after three top-ups with one idempotency key: %d %s", r.status, r.body)
	}
	r = g.admin(t, "POST", "/accounts/team-a/topup", `{"amount":"11","idempotency_key":"invoice-1"}`)
	if r.status != fasthttp.StatusConflict {
		t.Fatalf("same idempotency key, other amount: %d %s", r.status, r.body)
	}
	r = g.admin(t, "POST", "/accounts/team-b/topup", `{"amount":"10.5","idempotency_key":"invoice-1"}`)
	if r.status != fasthttp.StatusConflict {
		t.Fatalf("same idempotency key, other account: %d %s", r.status, r.body)
	}
	// Without a key every top-up counts; credits are set, not added.
	g.topUp(t, "team-a", "0.000000001")
	r = g.admin(t, "GET", "/accounts/team-a", "")
	if got, want := moneyAt(t, r.body, "data", "credits"), dollarsOf(t, "10.500000001"); got != want {
		t.Fatalf("credits %s, want %s: %s", got, want, r.body)
	}
	r = g.admin(t, "PUT", "/accounts/team-a/credits", `{"amount":"5"}`)
	if moneyAt(t, r.body, "data", "credits") != 5*money.Dollar || moneyAt(t, r.body, "data", "topped_up") != dollarsOf(t, "10.500000001") ||
		moneyAt(t, r.body, "data", "available") != 5*money.Dollar {
		t.Fatalf("set credits: %d %s", r.status, r.body)
	}
}

func TestAdminPlan(t *testing.T) {
	g := startBillingGateway(t)
	r := g.admin(t, "PUT", "/accounts/team-a/plan", `{"plan":"pro"}`)
	if r.status != 200 || stringAt(t, r.body, "data", "plan", "plan") != "pro" ||
		moneyAt(t, r.body, "data", "plan", "allowance") != 50*money.Dollar || moneyAt(t, r.body, "data", "available") != 50*money.Dollar {
		t.Fatalf("assign plan: %d %s", r.status, r.body)
	}
	r = g.admin(t, "GET", "/accounts", "")
	if r.status != 200 || !strings.Contains(r.body, `"id":"team-a"`) || !strings.Contains(r.body, `"id":"operator"`) {
		t.Fatalf("accounts: %d %s", r.status, r.body)
	}
	for _, body := range []string{`{"plan":null}`, `{"plan":""}`} {
		r = g.admin(t, "PUT", "/accounts/team-a/plan", body)
		if r.status != 200 || rawAt(t, r.body, "data", "plan") != "null" || moneyAt(t, r.body, "data", "available") != 0 {
			t.Fatalf("remove plan with %s: %d %s", body, r.status, r.body)
		}
	}
}
