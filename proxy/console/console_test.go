package console

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/proxy/api"
)

var backend = &Backend{
	Login: func(secret []byte) (api.Principal, bool) {
		switch string(secret) {
		case "master":
			return api.Principal{Name: "master"}, true
		case "viewer":
			return api.Principal{Name: "viewer", ReadOnly: true}, true
		}
		return api.Principal{}, false
	},
	Models: []byte(`{"object":"list","data":[]}`),
	Plans:  []string{"pro"},
}

// request returns a request ctx for method and uri with headers
// (name, value pairs).
func request(method, uri, body string, headers ...string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.SetBodyString(body)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	return ctx
}

// login logs in to c with key and returns the session cookie's value,
// the CSRF token and the Set-Cookie header.
func login(t *testing.T, c *Console, key string, headers ...string) (id, csrf, setCookie string) {
	t.Helper()
	ctx := request("POST", "/ui/login", `{"key":"`+key+`"}`, append([]string{"Content-Type", "application/json"}, headers...)...)
	if err := c.Serve(ctx, "login", backend); err != nil {
		t.Fatalf("login %s: %v", key, err)
	}
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(cookieName)
	if !ctx.Response.Header.Cookie(ck) {
		t.Fatalf("login %s set no cookie", key)
	}
	body := string(ctx.Response.Body())
	_, csrf, _ = strings.Cut(body, `"csrf":"`)
	csrf, _, _ = strings.Cut(csrf, `"`)
	return string(ck.Value()), csrf, string(ctx.Response.Header.PeekCookie(cookieName))
}

func TestLoginCookieAndCSRF(t *testing.T) {
	c := New(NewSessions(MaxSessions, SessionTTL))
	id, csrf, setCookie := login(t, c, "master")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "path=/", "expires="} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, want)
		}
	}
	if strings.Contains(setCookie, "secure") || len(id) != 64 || len(csrf) != 64 || id == csrf {
		t.Errorf("over plain HTTP: Set-Cookie %q, id %q, csrf %q", setCookie, id, csrf)
	}
	if _, _, sc := login(t, c, "viewer", "X-Forwarded-Proto", "https"); !strings.Contains(sc, "secure") {
		t.Errorf("behind TLS: Set-Cookie %q lacks Secure", sc)
	}

	cookie := cookieName + "=" + id
	now := time.Now()
	f := func(name, method string, headers []string, wantName string, wantOK bool, wantErr error) {
		t.Helper()
		p, ok, err := c.sessions.Principal(request(method, "/api/v1/admin/keys", "", headers...), now)
		if p.Name != wantName || ok != wantOK || !errors.Is(err, wantErr) {
			t.Errorf("%s: %+v %v %v, want %q %v %v", name, p, ok, err, wantName, wantOK, wantErr)
		}
	}
	f("no cookie", "POST", nil, "", false, nil)
	f("a read", "GET", []string{"Cookie", cookie}, "console:master", true, nil)
	f("a change with the token", "POST", []string{"Cookie", cookie, "X-CSRF-Token", csrf}, "console:master", true, nil)
	f("a change without the token", "DELETE", []string{"Cookie", cookie}, "", true, ErrCSRF)
	f("a change with another token", "PATCH", []string{"Cookie", cookie, "X-CSRF-Token", strings.Repeat("0", 64)}, "", true, ErrCSRF)
	f("an unknown session", "GET", []string{"Cookie", cookieName + "=" + strings.Repeat("a", 64)}, "", true, ErrSessionEnded)

	// Logout needs the token, ends the session and clears the cookie.
	if err := c.Serve(request("POST", "/ui/logout", "", "Cookie", cookie), "logout", backend); !errors.Is(err, ErrCSRF) {
		t.Errorf("logout without the token: %v", err)
	}
	ctx := request("POST", "/ui/logout", "", "Cookie", cookie, "X-CSRF-Token", csrf)
	if err := c.Serve(ctx, "logout", backend); err != nil || ctx.Response.StatusCode() != 204 ||
		!strings.Contains(string(ctx.Response.Header.PeekCookie(cookieName)), cookieName+"=;") {
		t.Errorf("logout: %v %d %s", err, ctx.Response.StatusCode(), ctx.Response.Header.PeekCookie(cookieName))
	}
	f("after logout", "GET", []string{"Cookie", cookie}, "", true, ErrSessionEnded)
}

func TestLoginRefusals(t *testing.T) {
	c := New(NewSessions(MaxSessions, SessionTTL))
	for _, tc := range []struct {
		method, ctype, body string
		want                error
	}{
		{"POST", "application/json", `{"key":"wrong"}`, api.ErrBadMasterKey},
		{"POST", "application/json", `{}`, api.ErrBadRequest},
		{"POST", "application/x-www-form-urlencoded", `key=master`, api.ErrBadRequest}, // a form another site posts
		{"GET", "", "", api.ErrMethodNotAllowed},
	} {
		ctx := request(tc.method, "/ui/login", tc.body, "Content-Type", tc.ctype)
		if err := c.Serve(ctx, "login", backend); !errors.Is(err, tc.want) || len(ctx.Response.Header.PeekCookie(cookieName)) > 0 {
			t.Errorf("%s %s %s: %v, want %v and no cookie", tc.method, tc.ctype, tc.body, err, tc.want)
		}
	}
}

func TestSessionsBoundedInNumberAndTime(t *testing.T) {
	s := NewSessions(3, time.Hour)
	start := time.Now()
	var ids []string
	for i := range 5 {
		id, _ := s.open(api.Principal{Name: "master"}, start.Add(time.Duration(i)*time.Second))
		ids = append(ids, id)
	}
	get := func(id string, at time.Time) error {
		_, _, err := s.Principal(request("GET", "/", "", "Cookie", cookieName+"="+id), at)
		return err
	}
	if len(s.m) != 3 {
		t.Errorf("%d sessions kept, want 3", len(s.m))
	}
	for i, id := range ids {
		if err := get(id, start.Add(time.Minute)); (i < 2) != errors.Is(err, ErrSessionEnded) {
			t.Errorf("session %d of 5 (3 kept): %v", i, err)
		}
	}
	if err := get(ids[4], start.Add(time.Hour+5*time.Second)); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("a session past its lifetime: %v", err)
	}
	s.Clear()
	if err := get(ids[3], start.Add(time.Minute)); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("after Clear: %v", err)
	}
}

func TestFilesAndSessionAnswers(t *testing.T) {
	c := New(NewSessions(MaxSessions, SessionTTL))
	f := func(path, wantType string, wantErr error) {
		t.Helper()
		ctx := request("GET", "/ui/"+path, "")
		err := c.Serve(ctx, path, backend)
		if !errors.Is(err, wantErr) || (err == nil && !strings.HasPrefix(string(ctx.Response.Header.ContentType()), wantType)) {
			t.Errorf("%q: %v %s, want %v %s", path, err, ctx.Response.Header.ContentType(), wantErr, wantType)
		}
		if csp := string(ctx.Response.Header.Peek("Content-Security-Policy")); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%q: CSP %q", path, csp)
		}
	}
	f("", "text/html", nil)
	f("app.js", "text/javascript", nil)
	f("style.css", "text/css", nil)
	f("nosuch.js", "", api.ErrNotFound)
	f("../console.go", "", api.ErrNotFound)
	f("api/session", "", api.ErrBadMasterKey)
	f("api/models", "", api.ErrBadMasterKey)

	id, csrf, _ := login(t, c, "viewer")
	ctx := request("GET", "/ui/api/session", "", "Cookie", cookieName+"="+id)
	if err := c.Serve(ctx, "api/session", backend); err != nil ||
		string(ctx.Response.Body()) != `{"principal":"console:viewer","read_only":true,"csrf":"`+csrf+`","plans":["pro"]}` {
		t.Errorf("session: %v %s", err, ctx.Response.Body())
	}
}
