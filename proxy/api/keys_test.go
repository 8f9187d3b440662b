package api_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"switchboard/proxy/api"
	"switchboard/store"
)

func TestKeyChangesReloadTheIndexBeforeAnswering(t *testing.T) {
	e := newEnv(t, masterKey)
	reloads := func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.reloads
	}
	before := reloads()
	id, secret := e.newKey(t, `{"account":"team-a","create_account":true,"name":"ci"}`)
	// The index has the new key as soon as the answer is there.
	if r := e.as(t, secret, "GET", "/api/v1/key", ""); r.err != nil || stringAt(t, r.body, "data", "name") != "ci" {
		t.Fatalf("new key: %v %d %s", r.err, r.status, r.body)
	}
	if r := e.admin(t, "PATCH", "/keys/"+id, `{"name":"ci-2","rpm":60}`); r.err != nil {
		t.Fatalf("patch: %v", r.err)
	}
	if r := e.as(t, secret, "GET", "/api/v1/key", ""); r.err != nil || stringAt(t, r.body, "data", "name") != "ci-2" ||
		rawAt(t, r.body, "data", "rate_limit", "requests") != "60" {
		t.Fatalf("patched key: %v %d %s", r.err, r.status, r.body)
	}
	if r := e.admin(t, "DELETE", "/keys/"+id, ""); r.err != nil {
		t.Fatalf("revoke: %v", r.err)
	}
	if r := e.as(t, secret, "GET", "/api/v1/key", ""); !errors.Is(r.err, errKeyDisabled) {
		t.Fatalf("revoked key: %v %d %s", r.err, r.status, r.body)
	}
	if got := reloads() - before; got != 3 {
		t.Errorf("%d reloads for create, patch and revoke, want 3", got)
	}

	// Reads and refused changes reload nothing.
	before = reloads()
	e.admin(t, "GET", "/keys/"+id, "")
	e.admin(t, "GET", "/keys", "")
	e.admin(t, "PATCH", "/keys/"+id, `{"revoked":false}`)
	e.admin(t, "PATCH", "/keys/sk-sb-NOSUCH", `{"name":"x"}`)
	if got := reloads() - before; got != 0 {
		t.Errorf("%d reloads for reads and refused changes, want 0", got)
	}

	// A change whose reload fails is an error, not an answer.
	e.mu.Lock()
	e.reloadErr = errors.New("index unavailable")
	e.mu.Unlock()
	if r := e.admin(t, "PATCH", "/keys/"+id, `{"name":"ci-3"}`); r.err == nil || !errors.Is(r.err, e.reloadErr) {
		t.Errorf("patch with a failing reload: %v %d %s", r.err, r.status, r.body)
	}
}

// TestKeyFieldErrorsSayWhatToDo checks that a wrong field names it, says
// in JSON's words what it takes (never a Go type), and that an expiry in
// the past says how to stop a key instead.
func TestKeyFieldErrorsSayWhatToDo(t *testing.T) {
	e := newEnv(t, masterKey)
	for body, want := range map[string]string{
		`{"account":"a","rpm":"sixty"}`:                       `rpm: want a whole number, got "sixty"`,
		`{"account":"a","allowed_models":"x"}`:                `allowed_models: want a list of strings, got "x"`,
		`{"account":"a","name":7}`:                            `name: want a string, got 7`,
		`{"account":"a","revoked":"no"}`:                      `revoked: want true or false, got "no"`,
		`{"account":"a","compression":7}`:                     `compression: want a list of stage names like ["dedupe","minify"], got 7`,
		`{"account":"a","compression":["squash"]}`:            `compression: unknown compression stage "squash"`,
		`{"account":"a","expires_at":"2001-01-01T00:00:00Z"}`: `expires_at: 2001-01-01T00:00:00Z is not in the future; to stop a key now, revoke it`,
	} {
		r := e.admin(t, "POST", "/keys", body)
		msg := fmt.Sprint(r.err)
		if !errors.Is(r.err, api.ErrBadRequest) || !strings.Contains(msg, want) {
			t.Errorf("%s: %v, want a bad request with %q", body, r.err, want)
		}
		for _, goType := range []string{"[]string", "int", "bool", "time.Time"} {
			if strings.Contains(msg, "want "+goType) {
				t.Errorf("%s: the answer names the Go type %s: %s", body, goType, msg)
			}
		}
	}
}

// TestKeyForUnknownAccount checks that a key for an account that does not
// exist is refused with what to do, creates nothing, and that either way
// the answer names works: POST /accounts first, or "create_account".
func TestKeyForUnknownAccount(t *testing.T) {
	e := newEnv(t, masterKey)
	r := e.admin(t, "POST", "/keys", `{"account":"team-typo","name":"ci"}`)
	want := `account: "team-typo" does not exist; create it with POST /api/v1/admin/accounts first, or pass "create_account": true`
	if !errors.Is(r.err, store.ErrNotFound) || !strings.Contains(fmt.Sprint(r.err), want) {
		t.Fatalf("key for an unknown account: %v, want not found with %q", r.err, want)
	}
	if r := e.admin(t, "GET", "/accounts/team-typo", ""); !errors.Is(r.err, store.ErrNotFound) {
		t.Fatalf("the refused key created its account: %v %d %s", r.err, r.status, r.body)
	}
	if r := e.admin(t, "GET", "/keys", ""); r.err != nil || r.body != `{"data":[]}` {
		t.Fatalf("the refused key was stored: %v %s", r.err, r.body)
	}

	// POST /accounts creates it, once.
	r = e.admin(t, "POST", "/accounts", `{"id":"team-a"}`)
	if r.err != nil || r.status != 201 || stringAt(t, r.body, "data", "id") != "team-a" || moneyAt(t, r.body, "data", "credits") != 0 {
		t.Fatalf("create account: %v %d %s", r.err, r.status, r.body)
	}
	if r := e.admin(t, "POST", "/accounts", `{"id":"team-a"}`); !errors.Is(r.err, api.ErrConflict) {
		t.Fatalf("create an existing account: %v %d %s", r.err, r.status, r.body)
	}
	e.newKey(t, `{"account":"team-a"}`)

	// "create_account" creates it with the key; on an existing account it
	// changes nothing.
	e.topUp(t, "team-a", "2")
	e.newKey(t, `{"account":"team-b","create_account":true}`)
	e.newKey(t, `{"account":"team-a","create_account":true}`)
	for id, credits := range map[string]string{"team-a": "2", "team-b": "0"} {
		r := e.admin(t, "GET", "/accounts/"+id, "")
		if r.err != nil || moneyAt(t, r.body, "data", "credits") != dollarsOf(t, credits) {
			t.Errorf("account %s: %v %s, want $%s of credits", id, r.err, r.body, credits)
		}
	}
}
