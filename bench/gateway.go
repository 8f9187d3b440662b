package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// gatewayKey is the gateway key the bench configures and calls with.
const gatewayKey = "sk-sb-bench"

// mockModel is the model the gateway serves from the mock.
const mockModel = "mock-model"

// readyTimeout bounds how long a child may take to start serving.
const readyTimeout = 60 * time.Second

// buildGateway builds the module root into dir and returns the binary.
func buildGateway(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("cannot find the gateway module (go env GOMOD = %q): %v; pass -gateway-bin", gomod, err)
	}
	bin := filepath.Join(dir, "switchboard")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(gomod)
	logf("building the gateway in %s", cmd.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cannot build the gateway in %s: %w\n%s", cmd.Dir, err, out)
	}
	return bin, nil
}

// gatewayConfig returns the gateway config for the bench: one key, one
// provider (the mock), no access log.
func gatewayConfig(listen, dataDir, mockURL string) string {
	return fmt.Sprintf(`listen: %s
data_dir: %s
log:
  access: false
auth:
  keys:
    - name: bench
      key: %s
providers:
  - name: mock
    base_url: %s/v1
    api_key: mock-upstream-key
    models: [%s]
`, listen, dataDir, gatewayKey, mockURL, mockModel)
}

// startGateway writes the gateway's config into dir, starts bin and waits
// for GET /readyz to answer 200. It returns the child and its base URL.
func startGateway(ctx context.Context, p pinning, dir, bin, mockURL string) (*child, string, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	config := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(config, []byte(gatewayConfig(listen, filepath.Join(dir, "data"), mockURL)), 0o600); err != nil {
		return nil, "", fmt.Errorf("cannot write gateway config: %w", err)
	}
	c, err := startChild(p, "gateway", filepath.Join(dir, "gateway.log"), bin, "-config", config)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + listen
	if err := c.waitReady(ctx, base+"/readyz", readyTimeout, func(status int) bool { return status == 200 }); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, base, nil
}
