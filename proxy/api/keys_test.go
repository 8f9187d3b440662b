package api_test

import (
	"errors"
	"testing"
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
