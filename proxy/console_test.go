package proxy

import (
	"strings"
	"testing"

	"github.com/bytedance/sonic"
)

// TestConsoleSessionReachesTheAdminAPI: a console login is a session
// the admin API takes in place of a key, as console:master, with its
// CSRF token on changes; the console's own files and answers are
// served beside it; a reload that keeps the admin keys keeps the
// session, one that changes them ends it.
func TestConsoleSessionReachesTheAdminAPI(t *testing.T) {
	g := startBillingGateway(t)
	noKey := []string{"Authorization", ""}
	if r := g.do(t, "GET", "/ui", "", noKey...); r.status != 301 || !strings.HasSuffix(r.header["location"], "/ui/") {
		t.Errorf("/ui: %d %q", r.status, r.header["location"])
	}
	if r := g.do(t, "GET", "/ui/", "", noKey...); r.status != 200 || !strings.Contains(r.body, "<title>Switchboard console</title>") {
		t.Errorf("/ui/: %d %.80s", r.status, r.body)
	}
	r := g.do(t, "POST", "/ui/login", `{"key":"`+masterKey+`"}`, noKey...)
	var s struct{ Principal, CSRF string }
	if err := sonic.UnmarshalString(r.body, &s); r.status != 200 || err != nil || s.Principal != "console:master" || s.CSRF == "" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	cookie, _, _ := strings.Cut(r.header["set-cookie"], ";")
	session := []string{"Authorization", "", "Cookie", cookie}
	withCSRF := []string{"Authorization", "", "Cookie", cookie, "X-CSRF-Token", s.CSRF}

	if r := g.do(t, "POST", "/api/v1/admin/accounts", `{"id":"team"}`, session...); r.status != 403 || !strings.Contains(r.body, `"code":"csrf_token_missing"`) {
		t.Errorf("a change without the CSRF token: %d %s", r.status, r.body)
	}
	if r := g.do(t, "POST", "/api/v1/admin/accounts", `{"id":"team"}`, withCSRF...); r.status != 201 {
		t.Errorf("a change with it: %d %s", r.status, r.body)
	}
	if r := g.do(t, "GET", "/api/v1/admin/audit", "", session...); r.status != 200 ||
		!strings.Contains(r.body, `"principal":"console:master","action":"accounts.create","target":"team"`) {
		t.Errorf("audit: %d %s", r.status, r.body)
	}
	if r := g.do(t, "GET", "/ui/api/models", "", session...); r.status != 200 || !strings.Contains(r.body, `"id":"mock-model"`) {
		t.Errorf("models: %d %.200s", r.status, r.body)
	}

	if _, err := g.srv.Reload(g.srv.Config(), g.srv.Router()); err != nil {
		t.Fatal(err)
	}
	if r := g.do(t, "GET", "/ui/api/session", "", session...); r.status != 200 {
		t.Errorf("after a reload with the same admin keys: %d %s", r.status, r.body)
	}
	cfg, rt := reloadConfig(t, g, "") // no admin keys
	if _, err := g.srv.Reload(cfg, rt); err != nil {
		t.Fatal(err)
	}
	if r := g.do(t, "GET", "/ui/api/session", "", session...); r.status != 401 || !strings.Contains(r.body, `"code":"session_ended"`) {
		t.Errorf("after a reload that changed the admin keys: %d %s", r.status, r.body)
	}
}
