package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStartWarmsProviders checks that the gateway connects to each
// enabled provider at start, before any call, and only to enabled ones.
func TestStartWarmsProviders(t *testing.T) {
	accepted := make(chan string, 4)
	listen := func(name string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
				accepted <- name
			}
		}()
		return "http://" + ln.Addr().String() + "/v1"
	}
	dir := t.TempDir()
	e := &testEnv{bin: switchboardBinary(t), dataDir: filepath.Join(dir, "data"), config: filepath.Join(dir, "switchboard.yaml")}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %q
log: {access: false}
auth: {disabled: true}
providers:
  - {name: on, base_url: %q, api_key: k, models: [m]}
  - {name: off, base_url: %q, api_key: "${UNSET_WARM_TEST_KEY}", models: [n]}
`, e.dataDir, listen("on"), listen("off"))
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start(t, "gateway")
	select {
	case name := <-accepted:
		if name != "on" {
			t.Fatalf("the gateway connected to the disabled provider %q", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no connection to the enabled provider within 30s of start, before any call")
	}
	select {
	case name := <-accepted:
		t.Fatalf("a second start-up connection, to %q", name)
	case <-time.After(200 * time.Millisecond):
	}
}
