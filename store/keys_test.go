package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"switchboard/store/money"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func TestNewSecretShape(t *testing.T) {
	re := regexp.MustCompile(`^sk-sb-[0-9A-Za-z]{40}$`)
	seen := map[string]bool{}
	for range 100 {
		s, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(s) {
			t.Fatalf("secret %q does not match %s", s, re)
		}
		if seen[s] {
			t.Fatalf("secret %q made twice", s)
		}
		seen[s] = true
		if id := SecretID(s); id != s[:12] || !strings.HasPrefix(id, "sk-sb-") {
			t.Fatalf("SecretID(%q) = %q", s, id)
		}
	}
}

func newTestKey(t *testing.T, account string) (Key, string) {
	t.Helper()
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return Key{
		ID:            SecretID(secret),
		Hash:          SecretHash(secret),
		Account:       account,
		Name:          "ci",
		AllowedModels: []string{"gpt-4o", "anthropic/claude-sonnet-4"},
		RPM:           60,
		TPM:           100_000,
		DailyLimit:    5 * money.Dollar,
		MonthlyLimit:  50 * money.Dollar,
		ExpiresAt:     t0.Add(30 * 24 * time.Hour),
		CreatedAt:     t0,
	}, secret
}

func TestKeyCreateReadUpdateRevoke(t *testing.T) {
	s, dir := openTest(t)
	k, _ := newTestKey(t, "team")
	if err := s.CreateKey(k); err != nil {
		t.Fatal(err)
	}
	got, err := s.KeyByID(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !keysEqual(got, k) {
		t.Fatalf("KeyByID = %+v, want %+v", got, k)
	}
	if err := s.UpdateKey(k.ID, func(k *Key) error {
		k.Name, k.RPM, k.AllowedModels = "renamed", 0, nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(k.ID); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("Keys() = %d keys, want 1", len(keys))
	}
	want := k
	want.Name, want.RPM, want.AllowedModels, want.Revoked = "renamed", 0, nil, true
	if !keysEqual(keys[0], want) {
		t.Fatalf("after update and reopen: %+v, want %+v", keys[0], want)
	}
	if _, err := s.KeyByID("sk-sb-nope00"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("KeyByID(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey("sk-sb-nope00"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RevokeKey(unknown) = %v, want ErrNotFound", err)
	}
}

func keysEqual(a, b Key) bool {
	return a.ID == b.ID && a.Hash == b.Hash && a.Account == b.Account && a.Name == b.Name &&
		strings.Join(a.AllowedModels, ",") == strings.Join(b.AllowedModels, ",") &&
		a.RPM == b.RPM && a.TPM == b.TPM && a.DailyLimit == b.DailyLimit &&
		a.MonthlyLimit == b.MonthlyLimit && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.Revoked == b.Revoked && a.CreatedAt.Equal(b.CreatedAt)
}

func TestCreateKeyRejectsDuplicatesAndBadKeys(t *testing.T) {
	s, _ := openTest(t)
	k, _ := newTestKey(t, "team")
	if err := s.CreateKey(k); err != nil {
		t.Fatal(err)
	}
	sameHash := k
	sameHash.ID = "sk-sb-other1"
	if err := s.CreateKey(sameHash); !errors.Is(err, ErrExists) {
		t.Fatalf("same hash: %v, want ErrExists", err)
	}
	sameID, _ := newTestKey(t, "team")
	sameID.ID = k.ID
	if err := s.CreateKey(sameID); !errors.Is(err, ErrExists) {
		t.Fatalf("same id: %v, want ErrExists", err)
	}

	f := func(mutate func(*Key), wantErr string) {
		t.Helper()
		k, secret := newTestKey(t, "team")
		mutate(&k)
		if k.ID == "<secret>" {
			k.ID = secret
		}
		err := s.CreateKey(k)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("CreateKey error = %v, want it to mention %q", err, wantErr)
		}
	}
	f(func(k *Key) { k.ID = "<secret>" }, "never the secret")
	f(func(k *Key) { k.ID = "" }, "key id is empty")
	f(func(k *Key) { k.Hash = [32]byte{} }, "has no hash")
	f(func(k *Key) { k.Account = "" }, "is empty")
	f(func(k *Key) { k.Account = "a\x00b" }, "NUL")
	f(func(k *Key) { k.RPM = -1 }, "must not be negative")
	f(func(k *Key) { k.DailyLimit = -1 }, "must not be negative")

	err := s.UpdateKey(k.ID, func(k *Key) error { k.Hash[0]++; return nil })
	if err == nil || !strings.Contains(err.Error(), "never change") {
		t.Fatalf("UpdateKey changing the hash: %v", err)
	}
	boom := errors.New("boom")
	if err := s.UpdateKey(k.ID, func(*Key) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateKey with failing fn: %v", err)
	}
}

// TestSecretIsNeverStored scans every Pebble key and value, and every file
// in the directory, for the secret.
func TestSecretIsNeverStored(t *testing.T) {
	s, dir := openTest(t)
	k, secret := newTestKey(t, "team")
	if err := s.CreateKey(k); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateKey(k.ID, func(k *Key) error { k.Name = "x"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.TopUp("team", money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	r, err := s.Reserve("team", "", "req-1", money.Dollar/10, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(r, Entry{KeyID: k.ID, Cost: money.Dollar / 20}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	n := 0
	it, err := s.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		n++
		if bytes.Contains(it.Key(), []byte(secret)) || bytes.Contains(it.Value(), []byte(secret)) {
			t.Fatalf("secret found at key %q", it.Key())
		}
		// Not even the secret's characters after the visible ID.
		if bytes.Contains(it.Value(), []byte(secret[12:24])) {
			t.Fatalf("part of the secret found at key %q", it.Key())
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("scanned only %d records", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(secret[12:])) {
			t.Errorf("secret found in file %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKeyRecordRoundTrip: every field survives the record, and a v1
// record (before Compression) still reads.
func TestKeyRecordRoundTrip(t *testing.T) {
	k := Key{ID: "sk-sb-AbCdEf", Hash: [32]byte{7}, Account: "team", Name: "ci", AllowedModels: []string{"a", "b"},
		RPM: 60, TPM: 1000, DailyLimit: 5, MonthlyLimit: 50, ExpiresAt: t0.Add(time.Hour), Revoked: true, CreatedAt: t0,
		Compression: "lossless"}
	v := appendKey(nil, &k)
	got, err := decodeKey(k.ID, v)
	if err != nil || !reflect.DeepEqual(normalizeKey(got), normalizeKey(k)) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	v1 := append([]byte{keyRecordV1}, v[1:len(v)-len("lossless")-1]...)
	got, err = decodeKey(k.ID, v1)
	if want := k; err != nil || got.Compression != "" || got.Name != want.Name || got.RPM != want.RPM || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("v1 record: %+v, %v", got, err)
	}
}

// normalizeKey makes times comparable with DeepEqual.
func normalizeKey(k Key) Key {
	k.ExpiresAt, k.CreatedAt = k.ExpiresAt.UTC(), k.CreatedAt.UTC()
	return k
}

// TestCreateKeyAndAccount checks that the key and its new account are
// written together, that an existing account keeps its credits, and that
// a refused key creates no account.
func TestCreateKeyAndAccount(t *testing.T) {
	s, dir := openTest(t)
	k, _ := newTestKey(t, "new-team")
	if err := s.CreateKeyAndAccount(k); err != nil {
		t.Fatal(err)
	}
	if err := s.TopUp("new-team", 3*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	k2, _ := newTestKey(t, "new-team")
	if err := s.CreateKeyAndAccount(k2); err != nil {
		t.Fatal(err)
	}
	dup, _ := newTestKey(t, "other-team")
	dup.ID = k.ID
	if err := s.CreateKeyAndAccount(dup); !errors.Is(err, ErrExists) {
		t.Fatalf("same ID: %v, want ErrExists", err)
	}
	s = reopen(t, s, dir)
	if a, err := s.Account("new-team"); err != nil || a.Credits != 3*money.Dollar {
		t.Fatalf("account after reopen: %+v %v, want $3 of credits", a, err)
	}
	for _, id := range []string{k.ID, k2.ID} {
		if got, err := s.KeyByID(id); err != nil || got.Account != "new-team" {
			t.Fatalf("key %s after reopen: %+v %v", id, got, err)
		}
	}
	if _, err := s.Account("other-team"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("account of a refused key: %v, want ErrNotFound", err)
	}
}
