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

// masterKey and viewerKey are the admin keys of startBillingGateway's
// gateways.
const (
	masterKey = "sk-sb-master-key-for-tests"
	viewerKey = "sk-sb-viewer-key-for-tests"
)

// startBillingGateway starts a mock provider and a gateway with the admin
// API on (masterKey, and viewerKey to read), the mock's model priced at $1 input / $2 output per
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
  viewer_key: %s
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
`, t.TempDir(), masterKey, viewerKey, testKey, m.URL()))
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

// topUp adds dollars to an account through the admin API, creating the
// account if it does not exist ("create_account": true).
func (g *gateway) topUp(t testing.TB, account, dollars string) {
	t.Helper()
	if r := g.admin(t, "POST", "/accounts/"+account+"/topup", `{"amount":"`+dollars+`","create_account":true}`); r.status != 200 {
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
	id, secret := g.newKey(t, `{"account":"team-a","create_account":true,"name":"ci","rpm":60,"tpm":100000,"daily_limit":"5","monthly_limit":50,"expires_at":"2027-01-01T00:00:00Z"}`)
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

	// An expiry in the past is refused (revoking is how to stop a key
	// now); a future one is kept in UTC and shown to the key; null
	// removes it. An expired key's 401 is billing_test's.
	r = g.admin(t, "PATCH", "/keys/"+id, `{"expires_at":"2020-01-01T02:00:00+02:00"}`)
	if r.status != fasthttp.StatusBadRequest || !strings.Contains(string(r.body), "revoke it") {
		t.Fatalf("patch expires_at in the past: %d %s", r.status, r.body)
	}
	r = g.admin(t, "PATCH", "/keys/"+id, `{"expires_at":"2099-01-01T02:00:00+02:00"}`)
	if r.status != 200 || rawAt(t, r.body, "data", "expires_at") != `"2099-01-01T00:00:00Z"` {
		t.Fatalf("patch expires_at: %d %s", r.status, r.body)
	}
	if r = g.as(t, secret, "GET", "/api/v1/key", ""); r.status != 200 || rawAt(t, r.body, "data", "expires_at") != `"2099-01-01T00:00:00Z"` {
		t.Fatalf("key with a future expiry: %d %s", r.status, r.body)
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
