package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// Principal is who makes an admin call, as the audit log records it.
type Principal struct {
	// Name names them: "master" for the master key, "viewer" for the
	// viewer key, "console:master" or "console:viewer" for a console
	// session.
	Name string
	// ReadOnly principals may only read (GET and HEAD); a change is a
	// 403 (ErrReadOnly).
	ReadOnly bool
}

// ErrReadOnly is a change asked by a read-only principal (403).
var ErrReadOnly = errors.New("read-only: the viewer (auth.viewer_key) may look but not change anything; changes take the master key (auth.master_key)")

// The principals of the config's admin keys.
var (
	masterPrincipal = Principal{Name: "master"}
	viewerPrincipal = Principal{Name: "viewer", ReadOnly: true}
)

// Login returns the principal of an admin key: the master key's
// ("master") or the viewer key's ("viewer", read-only). ok is false for
// any other secret, and for both when the admin API is off.
func (a *API) Login(secret []byte) (p Principal, ok bool) {
	sum := sha256.Sum256(secret)
	switch {
	case a.masterHash != ([sha256.Size]byte{}) && subtle.ConstantTimeCompare(sum[:], a.masterHash[:]) == 1:
		return masterPrincipal, true
	case a.viewerHash != ([sha256.Size]byte{}) && subtle.ConstantTimeCompare(sum[:], a.viewerHash[:]) == 1:
		return viewerPrincipal, true
	}
	return Principal{}, false
}

// principal returns who an admin request is, or the error to answer:
// the admin key it presents (see Login), else a console session
// (Options.Session) when it carries one, else ErrBadMasterKey. A
// read-only principal's change is ErrReadOnly. With neither a master
// nor a viewer key configured the admin API does not exist (404).
func (a *API) principal(ctx *fasthttp.RequestCtx, now time.Time) (Principal, error) {
	if a.masterHash == ([sha256.Size]byte{}) && a.viewerHash == ([sha256.Size]byte{}) {
		return Principal{}, errNoEndpoint
	}
	var p Principal
	if secret := a.secret(&ctx.Request.Header); len(secret) > 0 || a.session == nil {
		var ok bool
		if p, ok = a.Login(secret); !ok {
			return Principal{}, ErrBadMasterKey
		}
	} else {
		var ok bool
		var err error
		switch p, ok, err = a.session(ctx, now); {
		case err != nil:
			return Principal{}, err
		case !ok:
			return Principal{}, ErrBadMasterKey
		}
	}
	if p.ReadOnly && !ctx.IsGet() && !ctx.IsHead() {
		return Principal{}, ErrReadOnly
	}
	return p, nil
}
