package api_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/proxy/api"
	"switchboard/store/money"
)

const viewerKey = "sk-sb-viewer-key-for-tests"

// withSession rebuilds e's API with the viewer key and a console
// session: a request with the cookie session=<name> is the principal
// "console:<name>", read-only unless the name is "master", and
// session=ended is an ended session.
func withSession(e *env, master string) {
	errEnded := errors.New("session ended")
	e.api = api.New(api.Options{
		Store:        e.store,
		Plans:        []configs.Plan{{Name: "pro", Price: configs.Dollars(25 * money.Dollar), Period: "monthly"}},
		MasterKey:    configs.Secret(master),
		ViewerKey:    viewerKey,
		Secret:       secret,
		Authenticate: e.authenticate,
		ReloadKeys:   e.reload,
		Session: func(ctx *fasthttp.RequestCtx, _ time.Time) (api.Principal, bool, error) {
			name := string(ctx.Request.Header.Cookie("session"))
			switch name {
			case "":
				return api.Principal{}, false, nil
			case "ended":
				return api.Principal{}, true, errEnded
			}
			return api.Principal{Name: "console:" + name, ReadOnly: name != "master"}, true, nil
		},
	})
}

func TestPrincipalsOfKeysAndSessions(t *testing.T) {
	e := newEnv(t, masterKey)
	withSession(e, masterKey)
	f := func(name, method, path, body string, headers []string, wantStatus int, wantErr error) {
		t.Helper()
		r := e.do(t, method, "/api/v1/admin"+path, body, headers...)
		if wantErr != nil {
			if !errors.Is(r.err, wantErr) && (r.err == nil || r.err.Error() != wantErr.Error()) {
				t.Errorf("%s: %v, want %v", name, r.err, wantErr)
			}
			return
		}
		if r.err != nil || r.status != wantStatus {
			t.Errorf("%s: %v %d %s, want %d", name, r.err, r.status, r.body, wantStatus)
		}
	}
	cookie := func(v string) []string { return []string{"Cookie", "session=" + v} }
	f("console master creates", "POST", "/accounts", `{"id":"team"}`, cookie("master"), 201, nil)
	f("console viewer reads", "GET", "/accounts/team", "", cookie("viewer"), 200, nil)
	f("console viewer changes", "PUT", "/accounts/team/credits", `{"amount":"1"}`, cookie("viewer"), 0, api.ErrReadOnly)
	f("viewer key reads", "GET", "/audit", "", []string{"x-api-key", viewerKey}, 200, nil)
	f("viewer key changes", "POST", "/accounts", `{"id":"other"}`, []string{"x-api-key", viewerKey}, 0, api.ErrReadOnly)
	f("a key wins over a session", "POST", "/accounts", `{"id":"team-2"}`, append(cookie("viewer"), "x-api-key", masterKey), 201, nil)
	f("wrong key, even with a session", "GET", "/accounts", "", append(cookie("master"), "x-api-key", "sk-sb-wrong"), 0, api.ErrBadMasterKey)
	f("ended session", "GET", "/accounts", "", cookie("ended"), 0, errors.New("session ended"))
	f("neither", "GET", "/accounts", "", nil, 0, api.ErrBadMasterKey)

	r := e.do(t, "GET", "/api/v1/admin/audit", "", "x-api-key", viewerKey)
	if !strings.Contains(r.body, `"principal":"master","action":"accounts.create","target":"team-2"`) ||
		!strings.Contains(r.body, `"principal":"console:master","action":"accounts.create","target":"team"`) || strings.Count(r.body, `"action"`) != 2 {
		t.Errorf("audit: %s", r.body)
	}
	for secret, want := range map[string]string{masterKey: "master", viewerKey: "viewer", testKey: ""} {
		if p, ok := e.api.Login([]byte(secret)); p.Name != want || ok != (want != "") || p.ReadOnly != (want == "viewer") {
			t.Errorf("Login(%s) = %+v, %v", secret, p, ok)
		}
	}

	// A viewer key alone turns the admin API on, read-only.
	e2 := newEnv(t, "")
	withSession(e2, "")
	if r := e2.do(t, "GET", "/api/v1/admin/keys", "", "x-api-key", viewerKey); r.err != nil || r.status != 200 {
		t.Errorf("viewer-only admin API: %v %d", r.err, r.status)
	}
	if r := e2.do(t, "GET", "/api/v1/admin/keys", "", "x-api-key", masterKey); !errors.Is(r.err, api.ErrBadMasterKey) {
		t.Errorf("no master key configured: %v", r.err)
	}
}
