package store

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"switchboard/store/money"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Key is a gateway API key. The secret itself is never stored: only its
// SHA-256 and its first 12 characters as the visible ID.
type Key struct {
	// ID is the secret's visible prefix, SecretID(secret): "sk-sb-AbCdEf".
	// At most 24 bytes, so a whole secret can never be stored as an ID.
	ID string
	// Hash is SecretHash(secret), the only thing that authenticates.
	Hash [32]byte
	// Account is the account the key's requests are charged to.
	Account string
	// Name is a label for humans.
	Name string
	// AllowedModels are the model strings the key may call; empty = all.
	AllowedModels []string
	// RPM and TPM are requests and tokens per minute; 0 = unlimited.
	RPM, TPM int
	// DailyLimit and MonthlyLimit cap the key's spend per UTC day and UTC
	// calendar month; 0 = none.
	DailyLimit, MonthlyLimit money.Money
	// ExpiresAt is when the key stops working; zero = never.
	ExpiresAt time.Time
	// Revoked keys never authenticate again.
	Revoked bool
	// CreatedAt is set by CreateKey when zero.
	CreatedAt time.Time
	// Compression is the context compression of the key's requests: its
	// stages as the x-switchboard-compression header names them ("on",
	// "lossless", "dedupe,minify", ...); empty = none.
	Compression string
}

const (
	secretPrefix = "sk-sb-"
	secretRandom = 40 // base62 characters after the prefix: 238 bits
	keyIDLen     = 12
	maxKeyIDLen  = 24
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewSecret returns a new key secret: "sk-sb-" and 40 random base62
// characters from crypto/rand (238 bits).
func NewSecret() (string, error) {
	var out [len(secretPrefix) + secretRandom]byte
	n := copy(out[:], secretPrefix)
	var rnd [64]byte
	for n < len(out) {
		if _, err := rand.Read(rnd[:]); err != nil {
			return "", fmt.Errorf("cannot read random bytes for a key: %w", err)
		}
		for _, b := range rnd {
			if b >= 248 { // 248 = 4*62: rejecting the rest keeps every character equally likely
				continue
			}
			out[n] = base62[b%62]
			n++
			if n == len(out) {
				break
			}
		}
	}
	return string(out[:]), nil
}

// SecretID returns the visible ID of a secret: its first 12 characters.
func SecretID(secret string) string {
	if len(secret) <= keyIDLen {
		return secret
	}
	return secret[:keyIDLen]
}

// SecretHash returns the SHA-256 of a secret, the Key.Hash that
// authenticates it.
func SecretHash(secret string) [32]byte {
	return sha256.Sum256([]byte(secret))
}

// CreateKey stores a new key. It fails with ErrExists when a key with the
// same ID or the same hash exists (IDs are 6 random characters: on a clash
// make a new secret). It is durable when it returns. It does not look at
// the key's account: see CreateKeyAndAccount.
func (s *Store) CreateKey(k Key) error { return s.createKey(k, false) }

// CreateKeyAndAccount is CreateKey that also creates the key's account,
// with no credits and no plan, when it does not exist: the key and the
// account record are one atomic batch, committed by the writer (so no
// other account change can interleave), and durable when it returns.
func (s *Store) CreateKeyAndAccount(k Key) error { return s.createKey(k, true) }

func (s *Store) createKey(k Key, withAccount bool) error {
	if err := k.validate(); err != nil {
		return err
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	return s.read(func() error {
		if ok, err := s.has(keyKey(k.ID)); err != nil {
			return fmt.Errorf("cannot read key %q: %w", k.ID, err)
		} else if ok {
			return fmt.Errorf("key %q: %w", k.ID, ErrExists)
		}
		if ok, err := s.has(keyHashKey(k.Hash)); err != nil {
			return fmt.Errorf("cannot read key hash of %q: %w", k.ID, err)
		} else if ok {
			return fmt.Errorf("key %q: a key with the same secret hash %w", k.ID, ErrExists)
		}
		if withAccount {
			// keyMu keeps the checks above true until the writer commits.
			return s.w.do(op{kind: opCreateKey, account: k.Account, key: &k})
		}
		b := s.db.NewBatch()
		defer b.Close()
		stageKey(b, &k)
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("cannot write key %q: %w", k.ID, err)
		}
		return nil
	})
}

// stageKey adds the records of a new key to b.
func stageKey(b *pebble.Batch, k *Key) {
	_ = b.Set(keyKey(k.ID), appendKey(nil, k), nil)
	_ = b.Set(keyHashKey(k.Hash), []byte(k.ID), nil)
}

// stageCreateKey adds a new key and, if it is new, its account to the
// group (CreateKeyAndAccount).
func (s *Store) stageCreateKey(g *group, o *op) {
	s.stageEnsureAccount(g, o)
	stageKey(g.b, o.key)
}

// UpdateKey changes a key with fn, durably. fn may change anything but ID
// and Hash; an error from fn aborts the update and is returned.
func (s *Store) UpdateKey(id string, fn func(*Key) error) error {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	return s.read(func() error {
		k, err := s.keyByID(id)
		if err != nil {
			return err
		}
		old := k
		if err := fn(&k); err != nil {
			return err
		}
		if k.ID != old.ID || k.Hash != old.Hash {
			return fmt.Errorf("cannot update key %q: its id and hash never change", id)
		}
		if err := k.validate(); err != nil {
			return err
		}
		if err := s.db.Set(keyKey(k.ID), appendKey(nil, &k), pebble.Sync); err != nil {
			return fmt.Errorf("cannot write key %q: %w", id, err)
		}
		return nil
	})
}

// RevokeKey marks a key revoked, durably. Revoking twice is not an error.
func (s *Store) RevokeKey(id string) error {
	return s.UpdateKey(id, func(k *Key) error {
		k.Revoked = true
		return nil
	})
}

// KeyByID returns the key with the visible ID id, or ErrNotFound. It reads
// Pebble: the hot path uses an index built from Keys instead.
func (s *Store) KeyByID(id string) (Key, error) {
	var k Key
	err := s.read(func() error {
		var err error
		k, err = s.keyByID(id)
		return err
	})
	return k, err
}

func (s *Store) keyByID(id string) (Key, error) {
	v, err := s.get(keyKey(id))
	if err != nil {
		if err == ErrNotFound {
			return Key{}, fmt.Errorf("key %q: %w", id, ErrNotFound)
		}
		return Key{}, fmt.Errorf("cannot read key %q: %w", id, err)
	}
	return decodeKey(id, v)
}

// Keys returns every key, revoked and expired ones included, in ID order:
// what the proxy needs to build its in-memory index by hash.
func (s *Store) Keys() ([]Key, error) {
	var keys []Key
	err := s.read(func() error {
		return s.scan(keyPrefix, func(k, v []byte) error {
			key, err := decodeKey(string(k[len(keyPrefix):]), v)
			if err != nil {
				return err
			}
			keys = append(keys, key)
			return nil
		})
	})
	return keys, err
}

// AppendKeyRecord appends k as the versioned binary record the store
// keeps; DecodeKeyRecord reads it back (the postgres backend stores the
// same record).
func AppendKeyRecord(dst []byte, k *Key) []byte { return appendKey(dst, k) }

// DecodeKeyRecord decodes a record of AppendKeyRecord.
func DecodeKeyRecord(id string, v []byte) (Key, error) { return decodeKey(id, v) }

// Validate checks what CreateKey and UpdateKey require of a key.
func (k *Key) Validate() error { return k.validate() }

func (k *Key) validate() error {
	if err := checkID("key id", k.ID); err != nil {
		return err
	}
	if len(k.ID) > maxKeyIDLen {
		return fmt.Errorf("key id %.12q... is longer than %d bytes: pass SecretID(secret), never the secret", k.ID, maxKeyIDLen)
	}
	if k.Hash == ([32]byte{}) {
		return fmt.Errorf("key %q has no hash", k.ID)
	}
	if err := checkID("account of key "+k.ID, k.Account); err != nil {
		return err
	}
	if len(k.Name) > 256 {
		return fmt.Errorf("key %q: name is longer than 256 bytes", k.ID)
	}
	if k.RPM < 0 || k.TPM < 0 {
		return fmt.Errorf("key %q: rpm %d and tpm %d must not be negative", k.ID, k.RPM, k.TPM)
	}
	if k.DailyLimit < 0 || k.MonthlyLimit < 0 {
		return fmt.Errorf("key %q: spend limits %s and %s must not be negative", k.ID, k.DailyLimit, k.MonthlyLimit)
	}
	return nil
}

var (
	keyPrefix     = []byte("k/")
	keyHashPrefix = []byte("h/")
)

func keyKey(id string) []byte { return append(append([]byte(nil), keyPrefix...), id...) }

func keyHashKey(h [32]byte) []byte { return append(append([]byte(nil), keyHashPrefix...), h[:]...) }

// Key record versions: v2 adds Compression; v1 records still read.
const (
	keyRecordV1 = 1
	keyRecordV2 = 2
)

func appendKey(dst []byte, k *Key) []byte {
	dst = append(dst, keyRecordV2)
	dst = appendString(dst, k.ID)
	dst = append(dst, k.Hash[:]...)
	dst = appendString(dst, k.Account)
	dst = appendString(dst, k.Name)
	dst = appendUvarint(dst, uint64(len(k.AllowedModels)))
	for _, m := range k.AllowedModels {
		dst = appendString(dst, m)
	}
	dst = appendVarint(dst, int64(k.RPM))
	dst = appendVarint(dst, int64(k.TPM))
	dst = appendVarint(dst, int64(k.DailyLimit))
	dst = appendVarint(dst, int64(k.MonthlyLimit))
	dst = appendTime(dst, k.ExpiresAt)
	dst = appendBool(dst, k.Revoked)
	dst = appendTime(dst, k.CreatedAt)
	return appendString(dst, k.Compression)
}

func decodeKey(id string, v []byte) (Key, error) {
	r := reader{b: v}
	var k Key
	version := r.version("key", keyRecordV1, keyRecordV2)
	k.ID = r.string()
	if r.err == nil && len(r.b) < len(k.Hash) {
		r.err = errShortRecord
	}
	if r.err == nil {
		copy(k.Hash[:], r.b)
		r.b = r.b[len(k.Hash):]
	}
	k.Account = r.string()
	k.Name = r.string()
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > uint64(len(r.b)) {
			r.err = errShortRecord
		} else {
			k.AllowedModels = make([]string, 0, n)
			for i := uint64(0); i < n && r.err == nil; i++ {
				k.AllowedModels = append(k.AllowedModels, r.string())
			}
		}
	}
	k.RPM = r.int()
	k.TPM = r.int()
	k.DailyLimit = r.money()
	k.MonthlyLimit = r.money()
	k.ExpiresAt = r.time()
	k.Revoked = r.bool()
	k.CreatedAt = r.time()
	if version >= keyRecordV2 {
		k.Compression = r.string()
	}
	return k, r.done("key", id)
}
