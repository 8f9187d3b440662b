package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// gatewayKey is the gateway key the bench configures and calls with.
const gatewayKey = "sk-sb-bench"

// mockModel is the model the gateway serves from the mock.
const mockModel = "mock-model"

// benchProviderConns is the gateway's max_conns to the mock: room for
// every stream of the memory scenario, as the floor has (its MaxConns).
const benchProviderConns = 1 << 16

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

// benchGateway is one gateway the bench starts: a name for its row, its
// files and its log, whether it meters requests, whether it listens on a
// unix socket (unixSocket) instead of a 127.0.0.1 port, the OTLP
// receiver it exports telemetry to (tracingConfig), if any, and the Redis
// its limits and response cache live in (store.redis_url), if any.
type benchGateway struct {
	name     string
	billing  bool
	unix     bool
	otlpURL  string
	redisURL string
}

// benchGateways are the gateways the bench starts, all from the same
// binary and the same config but for billing.disabled: the gateway as
// shipped (billing on), whose rows the goals judge, and the gateway with
// metering off, so that the report can tell what metering costs.
var benchGateways = []benchGateway{
	{name: targetGateway, billing: true},
	{name: targetGatewayNoBill, billing: false},
}

// The bench key's rate limits, set so that the limiter runs on every
// request as it does for a limited key: high enough never to refuse a
// request of the bench (at most a few hundred thousand a minute, of a few
// hundred tokens each), low enough that a minute divided by the limit is
// a whole number of nanoseconds (600 ns, 60 ns): the limiter's interval.
const (
	benchKeyRPM = 100_000_000
	benchKeyTPM = 1_000_000_000
)

// gatewayConfig returns the gateway config for the bench: one operator key
// with rate limits, the mock as provider "mock" in the OpenAI format (so
// that the cross-format scenarios' Anthropic requests are translated)
// with a price for its model and room for benchProviderConns connections
// to it, two Responses providers on the mock for the WebSocket scenario
// (resp over HTTP, wsp with websocket: true), the chaos route
// (chaosRoute) over four more
// providers that are the same mock, the route cacheModel to the mock with
// the response cache on (only there: turned on for every route, the cache
// would decode every request to read its temperature, and the other
// scenarios would measure that), the fake SearXNG at searchURL as the
// :web engine (none if empty), and no access log. With billing, each
// request checks the key's limits, reserves its worst-case cost on the
// key's account (a journal write) before it goes upstream and leaves a
// ledger entry through the group-commit writer after its last byte;
// operator keys are never refused for credit, but are reserved and
// settled like any other. Without, billing.disabled turns the reservation
// and the ledger entry off; limits and usage.cost stay.
func gatewayConfig(listen, dataDir, mockURL, searchURL string, billing bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `listen: %s
data_dir: %s
log:
  access: false
auth:
  keys:
    - name: bench
      key: %s
      rpm: %d
      tpm: %d
billing:
  disabled: %t
  prices:
    mock/%s: {input: "1", output: "2"}
`, listen, dataDir, gatewayKey, benchKeyRPM, benchKeyTPM, !billing, mockModel)
	// The chaos targets cost what the plain model does, so that a chaos
	// call does the same billing work as a plain one.
	for _, t := range append(chaosTargets(), wsPrices...) {
		fmt.Fprintf(&b, "    %s: {input: \"1\", output: \"2\"}\n", t)
	}
	if searchURL != "" {
		fmt.Fprintf(&b, "web_search: {engine: searxng, base_url: %s}\n", searchURL)
	}
	fmt.Fprintf(&b, `providers:
  - name: mock
    format: openai
    base_url: %s/v1
    api_key: mock-upstream-key
    models: [%s]
    max_conns: %d
`, mockURL, mockModel, benchProviderConns)
	fmt.Fprintf(&b, wsProviders, mockURL)
	for _, p := range chaosProviders {
		fmt.Fprintf(&b, "  - name: %s\n    base_url: %s/v1\n    api_key: mock-upstream-key\n", p.name, mockURL)
		if p.flaky {
			fmt.Fprintf(&b, "    timeouts: {first_byte: %s}\n", chaosFirstByte)
		}
	}
	fmt.Fprintf(&b, `routes:
  - model: %s
    targets: [%s]
    retry: {attempts: %d, budget: %s}
  - model: %s
    targets: [mock/%s]
    cache: true
`, chaosModel, strings.Join(chaosTargets(), ", "), chaosAttempts, chaosBudget, cacheModel, mockModel)
	return b.String()
}

// startGateway writes g's config into dir, starts bin with its own data
// directory and port (or socket), and waits for GET /readyz to answer 200. It returns
// the child and its base URL.
func startGateway(ctx context.Context, p pinning, dir, bin, mockURL, searchURL string, g benchGateway) (*child, string, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	base, client := "http://"+listen, &fasthttp.Client{}
	if g.unix {
		listen, base = "unix:"+unixSocket(dir, g), "http://"+g.name
		client.Dial = unixDialer(unixSocket(dir, g))
	}
	config := filepath.Join(dir, g.name+".yaml")
	data := filepath.Join(dir, g.name+"-data")
	text := gatewayConfig(listen, data, mockURL, searchURL, g.billing)
	if g.otlpURL != "" {
		text += tracingConfig(g.otlpURL)
	}
	if g.redisURL != "" {
		text += fmt.Sprintf("store:\n  redis_url: %s\n", g.redisURL)
	}
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		return nil, "", fmt.Errorf("cannot write the config of %s: %w", g.name, err)
	}
	c, err := startChild(p, g.name, filepath.Join(dir, g.name+".log"), bin, "-config", config)
	if err != nil {
		return nil, "", err
	}
	if err := c.waitReady(ctx, client, base+"/readyz", readyTimeout, func(status int) bool { return status == 200 }); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, base, nil
}
