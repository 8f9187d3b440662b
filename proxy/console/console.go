// Package console is the operator console at /ui/: a few hand-written
// HTML, CSS and JavaScript module files embedded in the binary (no CDN,
// no build step, so it works offline), the login into a session cookie
// (sessions.go), and the two answers the admin API lacks: who is logged
// in, and the model list. Every other page reads and changes the
// gateway through the admin API under /api/v1/admin, as the session's
// principal (api.Options.Session), so each change lands in the audit
// log under "console:master".
//
// Nothing here is on the request path of a proxied call: package proxy
// dispatches /ui/ here before anything else and never the other way.
package console

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/proxy/api"
)

//go:embed assets
var assets embed.FS

// Backend is what the console needs of the running gateway, read on each
// request so that a reload shows at once.
type Backend struct {
	// Login returns the principal of an admin key (api.API.Login).
	Login func(secret []byte) (api.Principal, bool)
	// Models is the model list body clients get at GET /v1/models, in
	// OpenAI's shape.
	Models []byte
	// Plans names the config's billing.plans, which an account may be
	// given.
	Plans []string
}

// Console serves /ui/. Create it with New; it is safe for concurrent
// use.
type Console struct {
	sessions *Sessions
	files    fs.FS
}

// New returns the console for the sessions s.
func New(s *Sessions) *Console {
	files, err := fs.Sub(assets, "assets")
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return &Console{sessions: s, files: files}
}

// Serve answers a request for /ui/ + p, or returns the error to answer
// (api's sentinels, ErrSessionEnded, ErrCSRF); package proxy writes it.
//
//	POST /ui/login   {"key": "..."}: a session of the master or viewer key
//	POST /ui/logout  ends the session (with its CSRF token)
//	GET  /ui/api/session  who is logged in, the CSRF token, the plans
//	GET  /ui/api/models   the model list, for the Models page
//	GET  /ui/<file>  the console's files; "" is index.html
func (c *Console) Serve(ctx *fasthttp.RequestCtx, p string, b *Backend) error {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	now := time.Now()
	switch p {
	case "login":
		return c.login(ctx, b, now)
	case "logout":
		return c.logout(ctx, now)
	case "api/session":
		sess, err := c.session(ctx, now)
		if err != nil {
			return err
		}
		return writeJSON(ctx, sessionJSON{Principal: sess.who.Name, ReadOnly: sess.who.ReadOnly, CSRF: sess.csrf, Plans: b.Plans})
	case "api/models":
		if _, err := c.session(ctx, now); err != nil {
			return err
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(b.Models)
		return nil
	}
	return c.file(ctx, p)
}

// sessionJSON answers GET /ui/api/session.
type sessionJSON struct {
	Principal string   `json:"principal"`
	ReadOnly  bool     `json:"read_only"`
	CSRF      string   `json:"csrf"`
	Plans     []string `json:"plans"`
}

// session is the GET request's session, or ErrSessionEnded.
func (c *Console) session(ctx *fasthttp.RequestCtx, now time.Time) (session, error) {
	if !ctx.IsGet() {
		return session{}, fmt.Errorf("%w: %s %s; want GET", api.ErrMethodNotAllowed, ctx.Method(), ctx.Path())
	}
	sess, ok, err := c.sessions.find(ctx, now)
	switch {
	case err != nil:
		return session{}, err
	case !ok:
		return session{}, fmt.Errorf("%w: not logged in to the console", api.ErrBadMasterKey)
	}
	return sess, nil
}

// login answers POST /ui/login with {"key": "..."}: the master or
// viewer key opens a session. A JSON body is required, which a form
// another site posts cannot send without a CORS preflight.
func (c *Console) login(ctx *fasthttp.RequestCtx, b *Backend, now time.Time) error {
	if !ctx.IsPost() {
		return fmt.Errorf("%w: %s /ui/login; want POST", api.ErrMethodNotAllowed, ctx.Method())
	}
	if !bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/json")) {
		return fmt.Errorf(`%w: /ui/login wants a JSON body {"key": "..."} (Content-Type: application/json)`, api.ErrBadRequest)
	}
	var body struct {
		Key string `json:"key"`
	}
	if err := sonic.Unmarshal(ctx.PostBody(), &body); err != nil || body.Key == "" {
		return fmt.Errorf(`%w: key: want {"key": "<master or viewer key>"}`, api.ErrBadRequest)
	}
	p, ok := b.Login([]byte(body.Key))
	if !ok {
		return fmt.Errorf("%w: key: not the master key (auth.master_key) nor the viewer key (auth.viewer_key)", api.ErrBadMasterKey)
	}
	id, csrf := c.sessions.open(p, now)
	c.setCookie(ctx, id, now.Add(c.sessions.ttl))
	return writeJSON(ctx, sessionJSON{Principal: "console:" + p.Name, ReadOnly: p.ReadOnly, CSRF: csrf, Plans: b.Plans})
}

// logout answers POST /ui/logout: it ends the session, which takes its
// CSRF token, and clears the cookie.
func (c *Console) logout(ctx *fasthttp.RequestCtx, now time.Time) error {
	if !ctx.IsPost() {
		return fmt.Errorf("%w: %s /ui/logout; want POST", api.ErrMethodNotAllowed, ctx.Method())
	}
	if _, _, err := c.sessions.Principal(ctx, now); err != nil {
		return err
	}
	c.sessions.close(ctx)
	c.setCookie(ctx, "", time.Unix(0, 0))
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// setCookie sets the session cookie to id until expires: HttpOnly,
// SameSite=Strict, for the whole host (the console calls /api/v1), and
// Secure when the request came over TLS, directly or through a proxy
// that says so in X-Forwarded-Proto.
func (c *Console) setCookie(ctx *fasthttp.RequestCtx, id string, expires time.Time) {
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(cookieName)
	ck.SetValue(id)
	ck.SetPath("/")
	ck.SetHTTPOnly(true)
	ck.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	ck.SetSecure(ctx.IsTLS() || bytes.EqualFold(ctx.Request.Header.Peek("X-Forwarded-Proto"), []byte("https")))
	ck.SetExpire(expires)
	ctx.Response.Header.SetCookie(ck)
}

// file answers GET (or HEAD) of one of the console's files.
func (c *Console) file(ctx *fasthttp.RequestCtx, p string) error {
	if !ctx.IsGet() && !ctx.IsHead() {
		return fmt.Errorf("%w: %s %s; want GET", api.ErrMethodNotAllowed, ctx.Method(), ctx.Path())
	}
	if p == "" {
		p = "index.html"
	}
	data, err := fs.ReadFile(c.files, p)
	if err != nil || strings.Contains(p, "..") {
		return fmt.Errorf("%w: no console file %q", api.ErrNotFound, p)
	}
	ctype, ok := contentTypes[path.Ext(p)]
	if !ok {
		ctype = "application/octet-stream"
	}
	ctx.SetContentType(ctype)
	ctx.SetBody(data)
	return nil
}

// contentTypes are the types of the console's files, by extension; a
// table of its own, since the system's mime.types may name JavaScript
// otherwise.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// writeJSON answers v as JSON.
func writeJSON(ctx *fasthttp.RequestCtx, v any) error {
	out, err := sonic.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode answer: %w", err)
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(out)
	return nil
}
