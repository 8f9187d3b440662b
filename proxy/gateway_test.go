package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
	"switchboard/configs"
	"switchboard/router"
	"switchboard/store"
)

// testKey is the gateway key of every test gateway.
const testKey = "sk-sb-test-key"

// gateway is a real gateway on a loopback port, in front of a real mock
// provider on another.
type gateway struct {
	URL  string // http://127.0.0.1:PORT
	Mock *mock.Server
	srv  *Server
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the access log's flusher.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGateway starts a mock provider and a gateway whose config is the
// base below plus extra YAML (top-level keys). {{MOCK}} in extra is
// replaced by the mock's URL. Both stop when the test ends.
func startGateway(t testing.TB, opts mock.Options, extra string) *gateway {
	t.Helper()
	m := startMock(t, opts)
	return startGatewayConfig(t, m, gatewayYAML(t.TempDir(), m.URL(), extra))
}

// gatewayYAML is the config of startGateway's gateways on data directory
// dir in front of the mock at mockURL.
func gatewayYAML(dir, mockURL, extra string) string {
	return fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth:
  keys:
    - {name: test, key: %s}
aliases:
  alias-model: mock/mock-model-upstream
providers:
  - name: mock
    base_url: %s/v1
    api_key: sk-upstream-secret
    models: [mock-model]
    timeouts: {connect: 1s, first_byte: 2s, idle: 2s, total: 20s}
  - name: down
    base_url: http://127.0.0.1:1/v1
    api_key: sk-upstream-secret
    models: [down-model]
%s`, dir, testKey, mockURL, strings.ReplaceAll(extra, "{{MOCK}}", mockURL))
}

// startMock starts a mock provider on a loopback port until the test ends.
func startMock(t testing.TB, opts mock.Options) *mock.Server {
	t.Helper()
	m, err := mock.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// sendRaw writes a chat request with the test key on a raw connection,
// for tests that then hang up as a client.
func sendRaw(c net.Conn, body string) {
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body)
}

func startGatewayConfig(t testing.TB, m *mock.Server, text string) *gateway {
	t.Helper()
	return startGatewayCatalog(t, m, text, configs.Catalog)
}

// startGatewayCatalog is startGatewayConfig with the catalog file
// catalog instead of the embedded one.
func startGatewayCatalog(t testing.TB, m *mock.Server, text string, catalog []byte) *gateway {
	t.Helper()
	cfg, err := configs.Load([]byte(text), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := router.Build(cfg, catalog, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenWith(cfg.DataDir, store.Options{Outbox: onPostgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	backend, closeBackend := testBackend(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := New(cfg, rt, st, backend, logs)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		closeBackend()
		_ = st.Close()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	return &gateway{URL: "http://" + ln.Addr().String(), Mock: m, srv: srv, logs: logs}
}

// result is a finished HTTP exchange.
type result struct {
	status  int
	header  map[string]string
	body    string
	elapsed time.Duration
}

// do sends one request with the test key (unless headers override
// Authorization) and reads the whole answer.
func (g *gateway) do(t testing.TB, method, path, body string, headers ...string) result {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(g.URL + path)
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.SetContentType("application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != "" {
		req.SetBodyString(body)
	}
	start := time.Now()
	if err := fasthttp.DoTimeout(req, resp, 30*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r := result{status: resp.StatusCode(), header: map[string]string{}, body: string(resp.Body()), elapsed: time.Since(start)}
	for k, v := range resp.Header.All() {
		r.header[strings.ToLower(string(k))] = string(v)
	}
	return r
}

// post is do for a POST of a JSON body.
func (g *gateway) post(t testing.TB, path, body string, headers ...string) result {
	t.Helper()
	return g.do(t, fasthttp.MethodPost, path, body, headers...)
}

// rawConn opens a plain TCP connection to the gateway, for tests that
// need to misbehave as a client.
func (g *gateway) rawConn(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readAll reads c until EOF or the deadline.
func readAll(c net.Conn, d time.Duration) string {
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, _ := io.ReadAll(c)
	return string(b)
}
