package api_test

import (
	"errors"
	"strings"
	"testing"

	"switchboard/proxy/api"
	"switchboard/store/money"
)

func TestAdminTopUpIsIdempotent(t *testing.T) {
	e := newEnv(t, masterKey)
	for range 2 {
		if r := e.admin(t, "POST", "/accounts/team-a/topup", `{"amount":"10.50","idempotency_key":"invoice-1"}`); r.err != nil || r.status != 200 {
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
	r := e.admin(t, "PUT", "/accounts/team-a/plan", `{"plan":"pro"}`)
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
