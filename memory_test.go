package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"
)

// rssBytes reads a process's resident set size from /proc.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// largeBody is a request of about n bytes in the wire format of path:
// one long user message.
func largeBody(path string, n int) []byte {
	var b bytes.Buffer
	var end string
	switch {
	case strings.HasSuffix(path, "/responses"):
		b.WriteString(`{"model":"mock-model","max_output_tokens":16,"input":"`)
		end = `"}`
	case strings.Contains(path, ":generateContent"):
		b.WriteString(`{"generationConfig":{"maxOutputTokens":16},"contents":[{"role":"user","parts":[{"text":"`)
		end = `"}]}]}`
	default: // chat completions and messages share this shape
		b.WriteString(`{"model":"mock-model","max_tokens":16,"messages":[{"role":"user","content":"`)
		end = `"}]}`
	}
	line := `the quick brown fox jumps over the lazy dog 0123456789\n`
	for b.Len() < n-len(end)-len(line) {
		b.WriteString(line)
	}
	b.WriteString(end)
	return b.Bytes()
}

// largeBodyPaths are the surfaces the memory test sends large bodies
// to: the mock is an OpenAI-format provider, so all but the first are
// translated.
var largeBodyPaths = []string{
	"/v1/chat/completions",
	"/v1/messages",
	"/v1/responses",
	"/v1beta/models/mock-model:generateContent",
}

// postTo sends body to path with the operator key.
func postTo(t *testing.T, client *http.Client, url, path string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk-sb-operator-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode
}

// TestMemoryReturnsAfterLargeBodies: after 20 requests of 30 MiB, the
// gateway's RSS comes back within 2x of what it was idle, within 30 s.
// Memory is measured on the real binary without the race detector, whose
// shadow memory would be most of what is measured.
func TestMemoryReturnsAfterLargeBodies(t *testing.T) {
	if raceEnabled() {
		t.Skip("RSS under -race is the race detector's; make test checks it in its non-race run (test-allocs)")
	}
	e := newTestEnv(t, mock.Options{})
	p := e.start(t, "gateway")
	pid := p.cmd.Process.Pid
	client := newClient(1)
	for range 5 { // warm: pools and first-call setup at their usual size
		for _, path := range largeBodyPaths {
			if status := postTo(t, client, p.url, path, largeBody(path, 1<<10)); status != http.StatusOK {
				t.Fatalf("warm-up %s: status %d", path, status)
			}
		}
	}
	idle := rssBytes(t, pid)

	peak := idle
	for i := range 20 {
		path := largeBodyPaths[i%len(largeBodyPaths)]
		if status := postTo(t, client, p.url, path, largeBody(path, 30<<20)); status != http.StatusOK {
			t.Fatalf("request %d of 30 MiB to %s: status %d", i, path, status)
		}
		peak = max(peak, rssBytes(t, pid))
	}
	client.CloseIdleConnections()

	deadline := time.Now().Add(30 * time.Second)
	rss := rssBytes(t, pid)
	for rss > 2*idle && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		rss = rssBytes(t, pid)
	}
	t.Logf("RSS idle %d MiB, peak %d MiB, after %d MiB", idle>>20, peak>>20, rss>>20)
	if rss > 2*idle {
		t.Fatalf("RSS %d MiB 30 s after the large requests, want at most 2x the idle %d MiB (peak %d MiB)", rss>>20, idle>>20, peak>>20)
	}
}
