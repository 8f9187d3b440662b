package proxy

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
)

// errUnauthorized is a missing or unknown gateway key (401).
var errUnauthorized = errors.New("invalid or missing gateway key: send it as Authorization: Bearer sk-sb-... or x-api-key")

// Key is an accepted gateway key, known by the SHA-256 of its secret.
type Key struct {
	// Name labels the key in logs.
	Name string
	hash [sha256.Size]byte
}

// keyIndex finds gateway keys by the hash of the presented secret, so the
// lookup learns nothing from how much of a guess matched. It is immutable
// and safe for concurrent use.
type keyIndex struct {
	disabled bool
	byHash   map[[sha256.Size]byte]*Key
}

var anonymous = &Key{Name: "-"}

func newKeyIndex(cfg configs.Auth) *keyIndex {
	ki := &keyIndex{disabled: cfg.Disabled, byHash: make(map[[sha256.Size]byte]*Key, len(cfg.Keys))}
	for _, k := range cfg.Keys {
		key := &Key{Name: k.Name, hash: sha256.Sum256([]byte(k.Key))}
		ki.byHash[key.hash] = key
	}
	return ki
}

var (
	bearerPrefix = []byte("bearer ")
	headerAPIKey = []byte("x-api-key")
)

// authenticate returns the key the request presents, from
// `Authorization: Bearer` or `x-api-key`.
func (ki *keyIndex) authenticate(h *fasthttp.RequestHeader) (*Key, error) {
	if ki.disabled {
		return anonymous, nil
	}
	secret := h.PeekBytes(headerAPIKey)
	if len(secret) == 0 {
		auth := h.Peek(fasthttp.HeaderAuthorization)
		if len(auth) > len(bearerPrefix) && bytes.EqualFold(auth[:len(bearerPrefix)], bearerPrefix) {
			secret = bytes.TrimSpace(auth[len(bearerPrefix):])
		}
	}
	if len(secret) == 0 {
		return nil, errUnauthorized
	}
	sum := sha256.Sum256(secret)
	k, ok := ki.byHash[sum]
	if !ok || subtle.ConstantTimeCompare(k.hash[:], sum[:]) != 1 {
		return nil, errUnauthorized
	}
	return k, nil
}
