package proxy

import (
	"slices"
	"strconv"
	"strings"
	"switchboard/store/money"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"
)

// served is one chat call as its client saw it.
type served struct {
	id                 string
	prompt, completion string // usage's token counts, raw JSON
	cost               money.Money
}

// chatAs makes a non-streamed chat call for model with secret and
// returns what its answer said it cost.
func (g *gateway) chatAs(t testing.TB, secret, model string) served {
	t.Helper()
	r := g.as(t, secret, "POST", "/v1/chat/completions", chat(model, ""))
	if r.status != 200 {
		t.Fatalf("chat: %d %s", r.status, r.body)
	}
	return served{
		id:         r.header["x-request-id"],
		prompt:     rawAt(t, r.body, "usage", "prompt_tokens"),
		completion: rawAt(t, r.body, "usage", "completion_tokens"),
		cost:       moneyAt(t, r.body, "usage", "cost"),
	}
}

// flush waits until the gateway's ledger writes are durable and visible.
func (g *gateway) flush(t testing.TB) {
	t.Helper()
	if err := g.srv.backend.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestKeyHolderSeesWhatCallsCost(t *testing.T) {
	g := startBillingGateway(t)
	g.topUp(t, "team-a", "10") // creates the account
	_, secret := g.newKey(t, `{"account":"team-a","name":"ci","monthly_limit":"3","rpm":60}`)
	var calls []served
	var total money.Money
	for range 3 {
		c := g.chatAs(t, secret, "mock-model")
		if c.cost <= 0 {
			t.Fatalf("call %s cost %s: the mock model is priced", c.id, c.cost)
		}
		calls = append(calls, c)
		total += c.cost
	}
	g.flush(t)

	r := g.as(t, secret, "GET", "/api/v1/credits", "")
	if r.status != 200 || moneyAt(t, r.body, "data", "total_usage") != total ||
		moneyAt(t, r.body, "data", "total_credits") != 10*money.Dollar {
		t.Fatalf("credits after calls costing %s: %d %s", total, r.status, r.body)
	}

	r = g.as(t, secret, "GET", "/api/v1/key", "")
	for _, field := range []string{"usage", "usage_daily", "usage_monthly"} {
		if got := moneyAt(t, r.body, "data", field); got != total {
			t.Errorf("key %s = %s, want %s", field, got, total)
		}
	}
	if moneyAt(t, r.body, "data", "limit") != 3*money.Dollar || moneyAt(t, r.body, "data", "limit_remaining") != 3*money.Dollar-total ||
		rawAt(t, r.body, "data", "rate_limit") != `{"requests":60,"tokens":null,"interval":"1m"}` ||
		rawAt(t, r.body, "data", "is_operator") != "false" || rawAt(t, r.body, "data", "expires_at") != "null" {
		t.Errorf("key: %s", r.body)
	}

	for _, c := range calls {
		r = g.as(t, secret, "GET", "/api/v1/generation?id="+c.id, "")
		if r.status != 200 {
			t.Fatalf("generation %s: %d %s", c.id, r.status, r.body)
		}
		if got := moneyAt(t, r.body, "data", "total_cost"); got != c.cost {
			t.Errorf("generation %s total_cost %s, want the answer's usage.cost %s", c.id, got, c.cost)
		}
		breakdown := moneyAt(t, r.body, "data", "cost_breakdown", "input") + moneyAt(t, r.body, "data", "cost_breakdown", "output")
		if breakdown != c.cost {
			t.Errorf("generation %s breakdown sums to %s, want %s", c.id, breakdown, c.cost)
		}
		for field, want := range map[string]string{
			"id": strconv.Quote(c.id), "tokens_prompt": c.prompt, "tokens_completion": c.completion,
			"model": `"mock-model"`, "provider_name": `"mock"`, "status": "200", "settled": "null", "paid_by_plan": "0",
		} {
			if got := rawAt(t, r.body, "data", field); got != want {
				t.Errorf("generation %s = %s, want %s", field, got, want)
			}
		}
	}

	// Another account's entries are not found, exactly like unknown ones.
	g.topUp(t, "team-b", "1")
	_, other := g.newKey(t, `{"account":"team-b"}`)
	theirs := g.chatAs(t, other, "mock-model")
	g.flush(t)
	for _, id := range []string{theirs.id, "req_nosuch"} {
		if r = g.as(t, secret, "GET", "/api/v1/generation?id="+id, ""); r.status != fasthttp.StatusNotFound {
			t.Errorf("generation of %s: %d %s", id, r.status, r.body)
		}
	}
	if r = g.as(t, other, "GET", "/api/v1/generation?id="+theirs.id, ""); r.status != 200 {
		t.Errorf("own generation: %d %s", r.status, r.body)
	}
	if r = g.as(t, secret, "GET", "/api/v1/generation", ""); r.status != fasthttp.StatusBadRequest {
		t.Errorf("generation without id: %d %s", r.status, r.body)
	}
}

func TestUsageListing(t *testing.T) {
	g := startBillingGateway(t)
	g.topUp(t, "team-a", "10")
	_, secret := g.newKey(t, `{"account":"team-a"}`)
	_, sibling := g.newKey(t, `{"account":"team-a"}`)
	start := time.Now().Add(-time.Second)
	var ids, aliased []string
	for i := range 5 {
		model := "mock-model"
		if i%2 == 1 {
			model = "alias-model"
		}
		c := g.chatAs(t, secret, model)
		ids = append(ids, c.id)
		if model == "alias-model" {
			aliased = append(aliased, c.id)
		}
	}
	g.chatAs(t, sibling, "mock-model") // same account, another key
	g.flush(t)

	// walk lists every page of a listing, returning the ids in order.
	walk := func(secret, path string) []string {
		t.Helper()
		var got []string
		var page struct {
			Data       []struct{ ID string }
			NextCursor *string `json:"next_cursor"`
		}
		for pages := 0; pages == 0 || page.NextCursor != nil; pages++ {
			if pages > 10 {
				t.Fatalf("%s: no end of pages", path)
			}
			cursor := ""
			if page.NextCursor != nil {
				cursor = *page.NextCursor
			}
			r := g.as(t, secret, "GET", path+"&cursor="+cursor, "")
			page.Data, page.NextCursor = nil, nil
			if err := sonic.UnmarshalString(r.body, &page); r.status != 200 || err != nil {
				t.Fatalf("%s: %d %s %v", path, r.status, r.body, err)
			}
			for _, e := range page.Data {
				got = append(got, e.ID)
			}
		}
		return got
	}
	newestFirst := slices.Clone(ids)
	slices.Reverse(newestFirst)
	if got := walk(secret, "/api/v1/usage?limit=2"); !slices.Equal(got, newestFirst) {
		t.Errorf("pages of 2 = %q, want each entry once, newest first: %q", got, newestFirst)
	}
	slices.Reverse(aliased)
	if got := walk(secret, "/api/v1/usage?model=alias-model"); !slices.Equal(got, aliased) {
		t.Errorf("model=alias-model = %q, want %q", got, aliased)
	}
	if got := walk(secret, "/api/v1/usage?model=mock-model&limit=3"); len(got) != 5 {
		t.Errorf("model=mock-model (the upstream model of all) = %q", got)
	}
	if got := walk(secret, "/api/v1/usage?model=other"); len(got) != 0 {
		t.Errorf("model=other = %q", got)
	}
	from := strconv.FormatInt(start.Unix(), 10)
	if got := walk(secret, "/api/v1/usage?from="+from); len(got) != 5 {
		t.Errorf("from=%s (unix seconds) = %q", from, got)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if got := walk(secret, "/api/v1/usage?from="+future); len(got) != 0 {
		t.Errorf("from=%s = %q", future, got)
	}
	if got := walk(secret, "/api/v1/usage?to="+future); len(got) != 5 {
		t.Errorf("to=%s = %q", future, got)
	}
	// The admin ledger has the whole account, or one key of it.
	r := g.admin(t, "GET", "/accounts/team-a/ledger?limit=1000", "")
	if r.status != 200 || strings.Count(r.body, `"created_at"`) != 6 {
		t.Errorf("account ledger: %d %s", r.status, r.body)
	}

	for _, path := range []string{"from=yesterday", "to=2026-13-01T00:00:00Z", "limit=-1", "cursor=AAAA"} {
		if r := g.as(t, secret, "GET", "/api/v1/usage?"+path, ""); r.status != fasthttp.StatusBadRequest {
			t.Errorf("usage?%s: %d %s", path, r.status, r.body)
		}
	}
}

func TestDashboardCreditsShowsThePlan(t *testing.T) {
	g := startBillingGateway(t)
	g.topUp(t, "team-a", "2.5")
	_, secret := g.newKey(t, `{"account":"team-a"}`)
	r := g.as(t, secret, "GET", "/v1/dashboard/billing/credits", "")
	if r.status != 200 || rawAt(t, r.body, "subscription") != "null" || moneyAt(t, r.body, "total_available") != dollarsOf(t, "2.5") {
		t.Fatalf("without a plan: %d %s", r.status, r.body)
	}
	if r = g.admin(t, "PUT", "/accounts/team-a/plan", `{"plan":"pro"}`); r.status != 200 {
		t.Fatalf("assign plan: %d %s", r.status, r.body)
	}
	c := g.chatAs(t, secret, "mock-model")
	g.flush(t)
	for _, path := range []string{"/v1/dashboard/billing/credits", "/dashboard/billing/credits"} {
		r = g.as(t, secret, "GET", path, "")
		if r.status != 200 || stringAt(t, r.body, "object") != "credit_summary" {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		for _, m := range []struct {
			path []any
			want money.Money
		}{
			{[]any{"subscription", "price"}, 25 * money.Dollar},
			{[]any{"subscription", "allowance"}, 50 * money.Dollar},
			{[]any{"subscription", "used"}, c.cost},
			{[]any{"subscription", "remaining"}, 50*money.Dollar - c.cost},
			{[]any{"pay_as_you_go", "balance"}, dollarsOf(t, "2.5")},
			{[]any{"pay_as_you_go", "topped_up"}, dollarsOf(t, "2.5")},
			{[]any{"total_used"}, c.cost},
			{[]any{"total_available"}, dollarsOf(t, "52.5") - c.cost},
			{[]any{"total_granted"}, dollarsOf(t, "52.5")},
		} {
			if got := moneyAt(t, r.body, m.path...); got != m.want {
				t.Errorf("%s %v = %s, want %s", path, m.path, got, m.want)
			}
		}
		if stringAt(t, r.body, "subscription", "plan") != "pro" {
			t.Errorf("%s: %s", path, r.body)
		}
	}
	r = g.as(t, secret, "GET", "/api/v1/generation?id="+c.id, "")
	if moneyAt(t, r.body, "data", "paid_by_plan") != c.cost {
		t.Errorf("a call within the plan's allowance: %s", r.body)
	}
}

// TestAPIAnswersThroughTheGateway checks what package proxy adds to
// package api (whose handlers proxy/api tests): the paths that reach it,
// the gateway's key index and reading of the master key, and each of its
// errors answered with its status in the OpenAI error shape.
func TestAPIAnswersThroughTheGateway(t *testing.T) {
	g := startBillingGateway(t)
	_, secret := g.newKey(t, `{"account":"team-a","create_account":true}`)
	master := []string{"Authorization", "Bearer " + masterKey}
	// code is the answer's error code, "" for an answer that is no error.
	f := func(method, path, body string, status int, code string, headers ...string) {
		t.Helper()
		r := g.do(t, method, path, body, headers...)
		if r.status != status || r.header["content-type"] != "application/json" {
			t.Errorf("%s %s %s: %d %q %s, want %d", method, path, body, r.status, r.header["content-type"], r.body, status)
			return
		}
		if code == "" {
			if strings.Contains(r.body, `"error"`) {
				t.Errorf("%s %s %s: %s", method, path, body, r.body)
			}
			return
		}
		if stringAt(t, r.body, "error", "code") != code || rawAt(t, r.body, "error", "param") != "null" || stringAt(t, r.body, "error", "message") == "" {
			t.Errorf("%s %s %s: %s, want code %q", method, path, body, r.body, code)
		}
	}
	// The paths of package api (with the test key unless headers say).
	f("GET", "/api/v1/credits", "", 200, "")
	f("GET", "/api/v1/key", "", 200, "", "Authorization", "Bearer "+secret)
	f("GET", "/v1/dashboard/billing/credits", "", 200, "")
	f("GET", "/dashboard/billing/credits", "", 200, "")
	f("GET", "/api/v1/admin/keys", "", 200, "", master...)
	f("GET", "/api/v2/credits", "", 404, "not_found")
	f("GET", "/api/v1", "", 404, "not_found")
	// The master key is read as a gateway key is.
	f("GET", "/api/v1/admin/keys", "", 200, "", "Authorization", "", "x-api-key", masterKey)
	f("GET", "/api/v1/admin/keys", "", 200, "", "Authorization", "", "x-goog-api-key", masterKey)
	// Each kind of error of package api.
	f("GET", "/api/v1/admin/keys", "", 401, "invalid_master_key")
	f("GET", "/api/v1/key", "", 401, "invalid_api_key", master...)
	f("GET", "/api/v1/key", "", 401, "invalid_api_key", "Authorization", "")
	f("GET", "/api/v1/nope", "", 404, "not_found")
	f("GET", "/api/v1/admin/keys/sk-sb-NOSUCH", "", 404, "not_found", master...)
	f("POST", "/api/v1/credits", "", 405, "method_not_allowed")
	f("DELETE", "/v1/dashboard/billing/credits", "", 405, "method_not_allowed")
	f("POST", "/api/v1/admin/keys", `{"acount":"team-a"}`, 400, "invalid_request", master...)
	f("POST", "/api/v1/admin/keys", `{"account":"team-typo"}`, 404, "not_found", master...)
	f("POST", "/api/v1/admin/accounts/team-typo/topup", `{"amount":"1"}`, 404, "not_found", master...)
	f("PUT", "/api/v1/admin/accounts/team-typo/credits", `{"amount":"1"}`, 404, "not_found", master...)
	f("PUT", "/api/v1/admin/accounts/team-typo/plan", `{"plan":"pro"}`, 404, "not_found", master...)
	f("GET", "/api/v1/admin/accounts/team-typo", "", 404, "not_found", master...)
	f("POST", "/api/v1/admin/accounts", `{"id":"team-a"}`, 409, "conflict", master...)
	f("GET", "/api/v1/usage?cursor=AAAA", "", 400, "invalid_cursor")
	f("POST", "/api/v1/admin/accounts/team-a/topup", `{"amount":"1","idempotency_key":"i1"}`, 200, "", master...)
	f("POST", "/api/v1/admin/accounts/team-a/topup", `{"amount":"2","idempotency_key":"i1"}`, 409, "conflict", master...)

	// Whole error bodies, as the API's clients see them.
	for _, c := range []struct{ method, path, want string }{
		{"POST", "/api/v1/credits", `{"error":{"message":"method not allowed: POST /api/v1/credits; want GET","type":"invalid_request_error","param":null,"code":"method_not_allowed"}}`},
		{"GET", "/api/v1/nope", `{"error":{"message":"not found: no such endpoint under /api/v1; see /api/v1/credits, /api/v1/key, /api/v1/generation, /api/v1/usage and /api/v1/admin","type":"invalid_request_error","param":null,"code":"not_found"}}`},
		{"GET", "/api/v1/admin/keys", `{"error":{"message":"the admin API wants the master key (auth.master_key) as Authorization: Bearer or x-api-key","type":"authentication_error","param":null,"code":"invalid_master_key"}}`},
	} {
		if r := g.do(t, c.method, c.path, ""); r.body != c.want {
			t.Errorf("%s %s: %s\nwant %s", c.method, c.path, r.body, c.want)
		}
	}
	want := `{"error":{"message":"not found: account \"team-typo\" does not exist; create it with POST /api/v1/admin/accounts first, or pass \"create_account\": true","type":"invalid_request_error","param":null,"code":"not_found"}}`
	if r := g.do(t, "POST", "/api/v1/admin/accounts/team-typo/topup", `{"amount":"1"}`, master...); r.body != want {
		t.Errorf("top-up of an unknown account: %s\nwant %s", r.body, want)
	}

	// An operator key of the config sees its own account.
	r := g.do(t, "GET", "/api/v1/key", "")
	if r.status != 200 || rawAt(t, r.body, "data", "is_operator") != "true" || rawAt(t, r.body, "data", "account") != `"operator"` ||
		rawAt(t, r.body, "data", "limit") != "null" || rawAt(t, r.body, "data", "id") != `"config:test"` {
		t.Errorf("operator key: %d %s", r.status, r.body)
	}
}
