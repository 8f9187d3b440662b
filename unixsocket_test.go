package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/bench/mock"
)

// unixClient is an HTTP client that dials the unix socket at path,
// whatever host a URL names.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// TestUnixSocketListener serves the gateway on listen: unix:/path: the
// socket gets server.socket_mode, a stale socket left by a killed process
// is replaced, a chat call is answered through it, and a clean exit
// removes the file.
func TestUnixSocketListener(t *testing.T) {
	e := newTestEnv(t, mock.Options{})
	sock := filepath.Join(t.TempDir(), "sb.sock")
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "listen: 127.0.0.1:0", "listen: unix:"+sock+"\nserver: {socket_mode: 0600}", 1))
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}

	// A stale socket, as a SIGKILLed gateway leaves it.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	p := e.start(t, "gateway")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file mode %v, want a socket with 0600 (server.socket_mode)", fi.Mode())
	}

	req, _ := http.NewRequest("POST", p.url+"/v1/chat/completions",
		strings.NewReader(`{"model":"mock/mock-model","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer sk-sb-operator-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"chat.completion"`) {
		t.Fatalf("chat over the unix socket: %d %s", resp.StatusCode, body)
	}

	p.stop(t)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatalf("the socket file is still there after a clean exit (%v)", err)
	}
}

// TestUnixSocketRefusesToReplaceAFile checks that listen: unix:/path never
// removes a regular file at path.
func TestUnixSocketRefusesToReplaceAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-a-socket")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ln, err := openListener("unix:"+path, 0o660); err == nil {
		ln.Close()
		t.Fatal("openListener replaced a regular file with a socket")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Fatalf("the file was changed: %q %v", b, err)
	}
}
