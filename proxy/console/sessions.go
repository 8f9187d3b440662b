package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/proxy/api"
)

// Console sessions: logging in with the master or the viewer key gives a
// random session id in an HttpOnly, SameSite=Strict cookie (Secure over
// TLS) and a CSRF token of its own, which the console sends in the
// X-CSRF-Token header of every change; the server compares it with the
// session's, so a change another site makes the browser send, cookie
// and all, lacks it and is a 403. Sessions live in memory only: a
// restart, or a reload that changes an admin key, logs everyone out.
// There are at most MaxSessions (a new login ends the oldest), each for
// SessionTTL from its login.

const (
	// MaxSessions bounds the sessions open at once; a login past it ends
	// the oldest one.
	MaxSessions = 64
	// SessionTTL is how long a session lasts from its login.
	SessionTTL = 12 * time.Hour

	cookieName = "switchboard_session"
	csrfHeader = "X-CSRF-Token"
)

var (
	// ErrSessionEnded is a request with a session cookie the gateway does
	// not know or no longer keeps (401).
	ErrSessionEnded = errors.New("the console session has ended (logged out, expired after 12h, or the gateway restarted): log in again")
	// ErrCSRF is a change made with a session cookie but without the
	// session's CSRF token in the X-CSRF-Token header (403).
	ErrCSRF = errors.New("a change with a console session needs the session's CSRF token in the X-CSRF-Token header")
)

// Sessions are the console's open sessions. Create them with
// NewSessions; they are safe for concurrent use.
type Sessions struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]*session // by the SHA-256 of the cookie's id
	max int
	ttl time.Duration
}

// session is one login.
type session struct {
	who     api.Principal // "console:master" or "console:viewer"
	csrf    string
	created time.Time
}

// NewSessions returns an empty set of at most max sessions, each
// lasting ttl.
func NewSessions(max int, ttl time.Duration) *Sessions {
	return &Sessions{m: make(map[[sha256.Size]byte]*session), max: max, ttl: ttl}
}

// open starts a session of the admin key's principal p at now and
// returns its cookie id and CSRF token.
func (s *Sessions) open(p api.Principal, now time.Time) (id, csrf string) {
	id, csrf = randomToken(), randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	for len(s.m) >= s.max {
		var oldest [sha256.Size]byte
		first := true
		for k, v := range s.m {
			if first || v.created.Before(s.m[oldest].created) {
				oldest, first = k, false
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(id))] = &session{
		who:     api.Principal{Name: "console:" + p.Name, ReadOnly: p.ReadOnly},
		csrf:    csrf,
		created: now,
	}
	return id, csrf
}

// expire drops the sessions past their lifetime at now. s.mu is held.
func (s *Sessions) expire(now time.Time) {
	for k, v := range s.m {
		if now.Sub(v.created) >= s.ttl {
			delete(s.m, k)
		}
	}
}

// find returns the session of ctx's cookie at now: ok is false when the
// request has no session cookie, and err is ErrSessionEnded when it has
// one the gateway does not keep.
func (s *Sessions) find(ctx *fasthttp.RequestCtx, now time.Time) (sess session, ok bool, err error) {
	id := ctx.Request.Header.Cookie(cookieName)
	if len(id) == 0 {
		return session{}, false, nil
	}
	k := sha256.Sum256(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[k]
	if v == nil || now.Sub(v.created) >= s.ttl {
		delete(s.m, k)
		return session{}, true, ErrSessionEnded
	}
	return *v, true, nil
}

// Principal returns who an admin request is by its console session, for
// api.Options.Session: ok is false when it carries no session cookie;
// ErrSessionEnded for a session the gateway does not keep, ErrCSRF for a
// change (any method but GET and HEAD) without the session's CSRF token.
func (s *Sessions) Principal(ctx *fasthttp.RequestCtx, now time.Time) (api.Principal, bool, error) {
	sess, ok, err := s.find(ctx, now)
	if !ok || err != nil {
		return api.Principal{}, ok, err
	}
	if !ctx.IsGet() && !ctx.IsHead() && !sess.checkCSRF(&ctx.Request.Header) {
		return api.Principal{}, true, ErrCSRF
	}
	return sess.who, true, nil
}

// checkCSRF reports whether h carries the session's CSRF token.
func (sess *session) checkCSRF(h *fasthttp.RequestHeader) bool {
	return subtle.ConstantTimeCompare(h.Peek(csrfHeader), []byte(sess.csrf)) == 1
}

// close ends the session of ctx's cookie, if any.
func (s *Sessions) close(ctx *fasthttp.RequestCtx) {
	id := ctx.Request.Header.Cookie(cookieName)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256(id))
}

// Clear ends every session: after a reload changed an admin key, a
// session of the old key must not outlive it.
func (s *Sessions) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
}

// randomToken is 32 random bytes in hex.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
