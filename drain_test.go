package main

import (
	"bytes"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchboard/bench/mock"
	"switchboard/store/money"
)

// TestSIGTERMDrainsOpenStreams sends SIGTERM while streams are open: each
// stream runs to its end ([DONE]), the process exits 0, and every answered
// request is in the ledger once, with no hold left open.
func TestSIGTERMDrainsOpenStreams(t *testing.T) {
	const (
		streams = 12
		initial = 100 * money.Dollar
		account = "acct"
	)
	// 20 chunks 100 ms apart: each stream lasts about 2 s, long enough to
	// be open when the signal comes.
	env := newTestEnv(t, mock.Options{Chunks: 20, ChunkDelay: 100 * time.Millisecond})
	secret, keyID := env.seed(t, account, initial)
	gw := env.start(t, "switchboard (drained)")

	client := newClient(streams)
	defer client.CloseIdleConnections()
	replies := make([]reply, streams)
	errs := make([]error, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = post(client, gw.url, secret, streamBody)
		}()
	}
	// Signal once the mock has all of them, so every stream is open.
	for env.mock.Requests() < streams {
		time.Sleep(5 * time.Millisecond)
	}
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	gw.wait(t, 30*time.Second)
	if gw.err != nil {
		t.Fatalf("switchboard exited with %v after SIGTERM", gw.err)
	}
	gw.checkLog(t)

	byID := env.readLedger(t, account, keyID).checkBalance(t, initial)
	for i, r := range replies {
		switch {
		case errs[i] != nil:
			t.Errorf("stream %d: %v", i, errs[i])
		case r.status != http.StatusOK || !r.complete || !bytes.Contains(r.body, []byte("data: [DONE]")):
			t.Errorf("stream %d cut by the shutdown: status %d, complete %v, body %q", i, r.status, r.complete, r.body)
		default:
			if _, ok := byID[r.requestID]; !ok {
				t.Errorf("stream %d (%s) answered but not in the ledger", i, r.requestID)
			}
		}
	}
	if len(byID) != streams {
		t.Errorf("%d ledger entries, want %d", len(byID), streams)
	}
}
