package api_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"switchboard/proxy/api"
	"switchboard/store"
	"switchboard/store/money"
)

func TestAdminTopUpIsIdempotent(t *testing.T) {
	e := newEnv(t, masterKey)
	// A retried top-up that creates its account creates it once and
	// tops it up once.
	for range 2 {
		if r := e.admin(t, "POST", "/accounts/team-a/topup", `{"amount":"10.50","idempotency_key":"invoice-1","create_account":true}`); r.err != nil || r.status != 200 {
			t.Fatalf("top-up: %v %d %s", r.err, r.status, r.body)
		}
	}
	// The header is the same key as the body field.
	r := e.admin(t, "POST", "/accounts/team-a/topup", `{"amount":10.5}`, "Idempotency-Key", "invoice-1")
	if r.err != nil || moneyAt(t, r.body, "data", "credits") != dollarsOf(t, "10.5") || moneyAt(t, r.body, "data", "topped_up") != dollarsOf(t, "10.5") {
		t.Fatalf("after three top-ups with one idempotency key: %v %d %s", r.err, r.status, r.body)
	}
	r = e.admin(t, "POST", "/accounts/team-a/topup", `{"amount":"11","idempotency_key":"invoice-1"}`)
	if !errors.Is(r.err, api.ErrConflict) {
		t.Fatalf("same idempotency key, other amount: %v %d %s", r.err, r.status, r.body)
	}
	r = e.admin(t, "POST", "/accounts/team-b/topup", `{"amount":"10.5","idempotency_key":"invoice-1"}`)
	if !errors.Is(r.err, api.ErrConflict) {
		t.Fatalf("same idempotency key, other account: %v %d %s", r.err, r.status, r.body)
	}
	// Without a key every top-up counts; credits are set, not added.
	e.topUp(t, "team-a", "0.000000001")
	r = e.admin(t, "GET", "/accounts/team-a", "")
	if got, want := moneyAt(t, r.body, "data", "credits"), dollarsOf(t, "10.500000001"); got != want {
		t.Fatalf("credits %s, want %s: %s", got, want, r.body)
	}
	r = e.admin(t, "PUT", "/accounts/team-a/credits", `{"amount":"5"}`)
	if r.err != nil || moneyAt(t, r.body, "data", "credits") != 5*money.Dollar || moneyAt(t, r.body, "data", "topped_up") != dollarsOf(t, "10.500000001") ||
		moneyAt(t, r.body, "data", "available") != 5*money.Dollar {
		t.Fatalf("set credits: %v %d %s", r.err, r.status, r.body)
	}
}

func TestAdminPlan(t *testing.T) {
	e := newEnv(t, masterKey)
	r := e.admin(t, "PUT", "/accounts/team-a/plan", `{"plan":"pro","create_account":true}`)
	if r.err != nil || r.status != 200 || stringAt(t, r.body, "data", "plan", "plan") != "pro" ||
		moneyAt(t, r.body, "data", "plan", "allowance") != 50*money.Dollar || moneyAt(t, r.body, "data", "available") != 50*money.Dollar {
		t.Fatalf("assign plan: %v %d %s", r.err, r.status, r.body)
	}
	r = e.admin(t, "GET", "/accounts", "")
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"id":"team-a"`) || !strings.Contains(r.body, `"id":"operator"`) {
		t.Fatalf("accounts: %v %d %s", r.err, r.status, r.body)
	}
	for _, body := range []string{`{"plan":null}`, `{"plan":""}`} {
		r = e.admin(t, "PUT", "/accounts/team-a/plan", body)
		if r.err != nil || r.status != 200 || rawAt(t, r.body, "data", "plan") != "null" || moneyAt(t, r.body, "data", "available") != 0 {
			t.Fatalf("remove plan with %s: %v %d %s", body, r.err, r.status, r.body)
		}
	}
}

// TestAdminAccountChangesNeedTheAccount: a top-up, credits or a plan for
// an account that does not exist is a 404 that names it and says what to
// do, and creates nothing; with "create_account": true the account is
// created with the change (once, however often it is sent); an existing
// account needs no flag.
func TestAdminAccountChangesNeedTheAccount(t *testing.T) {
	for _, c := range []struct {
		method, action, body string
		// created checks the account after the change was sent twice.
		created func(t *testing.T, body string) bool
	}{
		{"POST", "topup", `"amount":"3","idempotency_key":"pay-%s"`, func(t *testing.T, body string) bool {
			return moneyAt(t, body, "data", "credits") == 3*money.Dollar && moneyAt(t, body, "data", "topped_up") == 3*money.Dollar
		}},
		{"PUT", "credits", `"amount":"4"`, func(t *testing.T, body string) bool {
			return moneyAt(t, body, "data", "credits") == 4*money.Dollar && moneyAt(t, body, "data", "topped_up") == 0
		}},
		{"PUT", "plan", `"plan":"pro"`, func(t *testing.T, body string) bool {
			return stringAt(t, body, "data", "plan", "plan") == "pro" && moneyAt(t, body, "data", "credits") == 0
		}},
	} {
		t.Run(c.action, func(t *testing.T) {
			e := newEnv(t, masterKey)
			send := func(id, extra string) result {
				t.Helper()
				body := "{" + strings.ReplaceAll(c.body, "%s", id) + extra + "}"
				return e.admin(t, c.method, "/accounts/"+id+"/"+c.action, body)
			}
			before := len(accountList(t, e.store))
			r := send("team-typo", "")
			want := `account "team-typo" does not exist; create it with POST /api/v1/admin/accounts first, or pass "create_account": true`
			if !errors.Is(r.err, store.ErrNotFound) || !strings.Contains(fmt.Sprint(r.err), want) {
				t.Fatalf("unknown account: %v %d %s, want ErrNotFound with %q", r.err, r.status, r.body, want)
			}
			if r := send("team-typo", `,"create_account":false`); !errors.Is(r.err, store.ErrNotFound) {
				t.Fatalf("create_account false: %v %d %s", r.err, r.status, r.body)
			}
			if n := len(accountList(t, e.store)); n != before {
				t.Fatalf("%d accounts after refused changes, want %d", n, before)
			}
			for range 2 {
				r = send("team-new", `,"create_account":true`)
				if r.err != nil || r.status != 200 || stringAt(t, r.body, "data", "id") != "team-new" {
					t.Fatalf("create_account: %v %d %s", r.err, r.status, r.body)
				}
			}
			if !c.created(t, r.body) {
				t.Fatalf("created account: %s", r.body)
			}
			if r := e.admin(t, "POST", "/accounts", `{"id":"team-old"}`); r.err != nil {
				t.Fatal(r.err)
			}
			if r = send("team-old", ""); r.err != nil || !c.created(t, r.body) {
				t.Fatalf("existing account: %v %d %s", r.err, r.status, r.body)
			}
			if n := len(accountList(t, e.store)); n != before+2 {
				t.Fatalf("%d accounts, want %d", n, before+2)
			}
		})
	}
}

func accountList(t testing.TB, s store.Backend) []store.Account {
	t.Helper()
	accts, err := s.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	return accts
}
