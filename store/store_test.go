package store

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenReadyClose(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("open store not ready: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err == nil {
		t.Fatal("closed store reports ready")
	}
	// A second open of the same directory works once the first is closed.
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	_ = s2.Close()
}

func TestOpenTwiceFails(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(dir); err == nil {
		t.Fatal("second open of a locked store succeeded")
	}
}

// openTest opens a store in a fresh directory and closes it at the end of
// the test.
func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// noSync is a sync interval no test outlives: the syncer never syncs on
// its own, so what a test sees is what Settle and the writer did.
const noSync = time.Hour

// openWith is openTest with Options.
func openWith(t testing.TB, o Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := OpenWith(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// reopen closes s (leaving open reservations in the journal, as a crash
// would) and opens dir again.
func reopen(t testing.TB, s *Store, dir string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

func mustAccount(t testing.TB, s *Store, id string) Account {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	a, err := s.Account(id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// killCopy copies the store directory dir, open in a running store, to a
// new directory and returns it: the files as the OS has them, which is
// what a SIGKILL at this moment would leave (the store's user-space
// buffers, such as Pebble's WAL block, are not in them). Open the copy to
// see what the next start would find.
func killCopy(t testing.TB, dir string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		if d.IsDir() {
			return os.Mkdir(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	if err != nil {
		t.Fatalf("copy the store's files: %v", err)
	}
	return dst
}

func accountList(t testing.TB, s Backend) []Account {
	t.Helper()
	accts, err := s.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	return accts
}
