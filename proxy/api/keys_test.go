package api_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"switchboard/proxy/api"
)

func TestKeyChangesReloadTheIndexBeforeAnswering(t *testing.T) {
	e := newEnv(t, masterKey)
	reloads := func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.reloads
	}
	before := reloads()
	id, secret := e.newKey(t, `{"account":"team-a","name":"ci"}`)
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
