package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// deploy/nginx.conf, rendered as the tests run it, passes `nginx -t`,
// and the rendering replaced its three gateways and its port.
func TestNginxConfValid(t *testing.T) {
	bin := Need(t, "nginx", "nginx")
	conf, err := os.ReadFile(NginxConf())
	if err != nil {
		t.Fatal(err)
	}
	dir := ShortTempDir(t)
	text, err := RenderNginx(conf, dir, "127.0.0.1:18080", []string{"127.0.0.1:1", "127.0.0.1:2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server 127.0.0.1:1 max_fails", "server 127.0.0.1:2 max_fails", "listen 127.0.0.1:18080;", "daemon off;"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered config lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "gateway-") {
		t.Errorf("rendered config still names the compose gateways:\n%s", text)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}
