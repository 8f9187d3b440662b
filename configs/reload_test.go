package configs

import (
	"slices"
	"testing"
	"time"
)

// TestKeepRunning: a reloaded config keeps the running value of every
// field a reload cannot apply and names it, and keeps its own value of
// the reloadable ones.
func TestKeepRunning(t *testing.T) {
	load := func(text string) *Config {
		t.Helper()
		c, err := Load([]byte(text), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	running := load(`
listen: 127.0.0.1:8080
data_dir: /tmp/a
server: {max_conns: 100, write_timeout: 10s}
auth: {disabled: true}
providers: [{name: a, base_url: "http://127.0.0.1:1/v1", models: [m1]}]
`)
	next := load(`
listen: 127.0.0.1:9090
data_dir: /tmp/b
server: {max_conns: 200, write_timeout: 20s, drain_timeout: 5s}
log: {access: false}
auth: {disabled: true}
aliases: {fast: a/m2}
providers: [{name: a, base_url: "http://127.0.0.1:1/v1", models: [m1, m2]}]
`)
	kept := next.KeepRunning(running)
	if want := []string{"listen", "data_dir", "server.max_conns", "log.access"}; !slices.Equal(kept, want) {
		t.Errorf("kept %q, want %q", kept, want)
	}
	if next.Listen != "127.0.0.1:8080" || next.DataDir != "/tmp/a" || next.Server.MaxConns != 100 || !*next.Log.Access {
		t.Errorf("restart-only fields not kept: listen %q, data_dir %q, max_conns %d, log.access %v",
			next.Listen, next.DataDir, next.Server.MaxConns, *next.Log.Access)
	}
	if next.Server.WriteTimeout.D() != 20*time.Second || next.Server.DrainTimeout.D() != 5*time.Second ||
		next.Aliases["fast"] != "a/m2" || len(next.Providers[0].Models) != 2 {
		t.Errorf("reloadable fields not taken from the new config: %+v", next)
	}
	if again := next.KeepRunning(next); len(again) != 0 {
		t.Errorf("a config against itself kept %q", again)
	}
}
