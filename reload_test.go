package main

// End-to-end tests of config reload (SIGHUP) and of a drain that runs out
// of time (SIGTERM), on the real binary against the mock provider.

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchboard/bench/mock"
	"switchboard/store/money"
)

// freshBody calls "fresh", an alias only the reloaded config has.
var freshBody = bytes.Replace(streamBody, []byte(`"model":"mock-model"`), []byte(`"model":"fresh"`), 1)

// rewriteConfig replaces old with new in the env's config file, which
// must contain old, and appends extra.
func (e *testEnv) rewriteConfig(t *testing.T, old, new, extra string) {
	t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("config has no %q", old)
	}
	b = append(bytes.Replace(b, []byte(old), []byte(new), 1), extra...)
	if err := os.WriteFile(e.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// hup sends SIGHUP and waits, at most 30s, until the log has one more
// line containing want than before.
func (p *gatewayProc) hup(t *testing.T, want string) {
	t.Helper()
	before := strings.Count(p.log.String(), want)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.log.String(), want) == before {
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged within 30s of SIGHUP", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metric returns the /metrics line that starts with name, or "".
func (p *gatewayProc) metric(t *testing.T, name string) string {
	t.Helper()
	resp, err := p.client.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	return ""
}

// TestSIGHUPReloadDuringOpenStreams reloads the config while 200 streams
// are open: the new config adds the alias "fresh" and prices the model
// at ten times the old price. No stream is dropped, every one ends with
// [DONE] and is billed at the old price (the config it started on), a
// request after the reload reaches "fresh" and is billed at the new one,
// and every answered request is in the ledger once.
func TestSIGHUPReloadDuringOpenStreams(t *testing.T) {
	const (
		streams = 200
		initial = 1000 * money.Dollar
		account = "acct"
	)
	// 20 chunks 100 ms apart: each stream lasts about 2 s, long enough to
	// be open when the signal comes.
	env := newTestEnv(t, mock.Options{Chunks: 20, ChunkDelay: 100 * time.Millisecond})
	secret, keyID := env.seed(t, account, initial)
	gw := env.start(t, "switchboard (reloaded)")
	client := newClient(streams + 1)
	defer client.CloseIdleConnections()

	if r, err := post(client, gw.url, secret, freshBody); err != nil || r.status != http.StatusNotFound {
		t.Fatalf("fresh before the reload: %v, status %d (%s); want 404", err, r.status, r.body)
	}
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
	for env.mock.Requests() < streams {
		time.Sleep(5 * time.Millisecond)
	}
	env.rewriteConfig(t, `mock/mock-model: {input: "1", output: "2"}`, `mock/mock-model: {input: "10", output: "20"}`,
		"aliases: {fresh: mock/mock-model}\n")
	gw.hup(t, "reload: "+env.config+" applied")
	fresh, err := post(client, gw.url, secret, freshBody)
	if err != nil || fresh.status != http.StatusOK || !bytes.Contains(fresh.body, []byte("data: [DONE]")) {
		t.Fatalf("fresh after the reload: %v, status %d (%s)", err, fresh.status, fresh.body)
	}
	wg.Wait()
	if got := gw.metric(t, `switchboard_config_reloads_total{result="ok"}`); !strings.HasSuffix(got, " 1") {
		t.Errorf("reload metric: %q, want 1", got)
	}
	gw.stop(t)

	byID := env.readLedger(t, account, keyID).checkBalance(t, initial)
	for i, r := range replies {
		switch {
		case errs[i] != nil:
			t.Errorf("stream %d: %v", i, errs[i])
		case r.status != http.StatusOK || !r.complete || !bytes.Contains(r.body, []byte("data: [DONE]")):
			t.Errorf("stream %d dropped by the reload: status %d, complete %v, body %q", i, r.status, r.complete, r.body)
		default:
			if e, ok := byID[r.requestID]; !ok {
				t.Errorf("stream %d (%s) answered but not in the ledger", i, r.requestID)
			} else {
				checkEntry(t, e, keyID, account) // at the old price
			}
		}
	}
	e, ok := byID[fresh.requestID]
	if want := 10 * (money.Money(e.InputTokens)*testInputPerToken + money.Money(e.OutputTokens)*testOutputPerToken); !ok || e.Cost != want || want == 0 {
		t.Errorf("fresh call's entry %+v (found %v): want cost %s, the new price", e, ok, want)
	}
	if len(byID) != streams+1 {
		t.Errorf("%d ledger entries, want %d", len(byID), streams+1)
	}
}

// TestSIGHUPRejectsBadConfig: a reload of YAML that does not parse, and
// of YAML with a field that does not validate, is refused with the
// problem and its place logged, and changes nothing: the model the bad
// configs add stays unknown, the running one still serves. A reload that
// changes listen applies the rest and logs that listen needs a restart.
func TestSIGHUPRejectsBadConfig(t *testing.T) {
	env := newTestEnv(t, mock.Options{})
	secret, _ := env.seed(t, "acct", money.Dollar)
	gw := env.start(t, "switchboard (bad reloads)")
	good, err := os.ReadFile(env.config)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(1)
	defer client.CloseIdleConnections()
	check := func(when string) {
		t.Helper()
		if r, err := post(client, gw.url, secret, freshBody); err != nil || r.status != http.StatusNotFound {
			t.Errorf("%s: fresh: %v, status %d; want 404: the bad config must not apply", when, err, r.status)
		}
		if r, err := post(client, gw.url, secret, streamBody); err != nil || r.status != http.StatusOK {
			t.Errorf("%s: mock-model: %v, status %d (%s)", when, err, r.status, r.body)
		}
	}

	env.rewriteConfig(t, "providers:", "providers: [", "aliases: {fresh: mock/mock-model}\n")
	gw.hup(t, "rejected, keeping the running config")
	if !strings.Contains(gw.log.String(), "line ") {
		t.Errorf("the YAML error does not say where: %s", gw.log)
	}
	check("after invalid YAML")

	if err := os.WriteFile(env.config, good, 0o600); err != nil {
		t.Fatal(err)
	}
	env.rewriteConfig(t, "api_key: sk-upstream", "api_key: sk-upstream\n    format: klingon", "aliases: {fresh: mock/mock-model}\n")
	gw.hup(t, "rejected, keeping the running config")
	if !strings.Contains(gw.log.String(), "providers[0].format") {
		t.Errorf("the bad field is not named by its path: %s", gw.log)
	}
	check("after a bad field")
	if got := gw.metric(t, `switchboard_config_reloads_total{result="error"}`); !strings.HasSuffix(got, " 2") {
		t.Errorf("reload error metric: %q, want 2", got)
	}

	if err := os.WriteFile(env.config, good, 0o600); err != nil {
		t.Fatal(err)
	}
	env.rewriteConfig(t, "listen: 127.0.0.1:0", "listen: 127.0.0.1:1", "")
	gw.hup(t, "listen changed and needs a restart")
	if r, err := post(client, gw.url, secret, streamBody); err != nil || r.status != http.StatusOK {
		t.Errorf("after a listen change: %v, status %d: the gateway must keep its listener", err, r.status)
	}
	gw.stop(t)
}

// TestSIGTERMCutsStreamsPastDrainTimeout: streams that outlast
// server.drain_timeout are cut when it ends, and each is still billed
// (for what it produced) before the process exits: every answered
// request has its ledger entry and no hold is left open.
func TestSIGTERMCutsStreamsPastDrainTimeout(t *testing.T) {
	const (
		streams = 20
		initial = 100 * money.Dollar
		account = "acct"
	)
	// 40 chunks 250 ms apart: 10 s a stream, ten times the drain timeout.
	env := newTestEnv(t, mock.Options{Chunks: 40, ChunkDelay: 250 * time.Millisecond})
	env.rewriteConfig(t, "log: {access: false}", "log: {access: false}\nserver: {drain_timeout: 1s}", "")
	secret, keyID := env.seed(t, account, initial)
	gw := env.start(t, "switchboard (cut)")
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
	for env.mock.Requests() < streams {
		time.Sleep(5 * time.Millisecond)
	}
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	gw.wait(t, 30*time.Second)
	gw.checkLog(t)
	if !strings.Contains(gw.log.String(), "ledger flushed") {
		t.Errorf("no ledger flush logged at exit")
	}

	byID := env.readLedger(t, account, keyID).checkBalance(t, initial)
	for i, r := range replies {
		switch {
		case errs[i] != nil:
			t.Errorf("stream %d: no answer: %v", i, errs[i])
		case r.complete && bytes.Contains(r.body, []byte("data: [DONE]")):
			t.Errorf("stream %d ran to its end: the drain timeout did not cut it", i)
		default:
			if e, ok := byID[r.requestID]; !ok {
				t.Errorf("stream %d (%s) cut but not in the ledger", i, r.requestID)
			} else if e.Cost <= 0 {
				t.Errorf("stream %d cut and billed %s, want what it produced", i, e.Cost)
			}
		}
	}
	if len(byID) != streams {
		t.Errorf("%d ledger entries, want %d", len(byID), streams)
	}
}
