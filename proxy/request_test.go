package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
)

const chatBody = `{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}`

func chat(model string, extra string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]` + extra + `}`
}

func TestChatNonStreaming(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chatBody)
	if r.status != 200 || !strings.Contains(r.body, `"content":"chunk 0 chunk 1 chunk 2 chunk 3 chunk 4 chunk 5 chunk 6 chunk 7 "`) {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	if !strings.HasPrefix(r.header["x-request-id"], "req_") {
		t.Errorf("x-request-id = %q, want a generated req_ id", r.header["x-request-id"])
	}
	if us, err := strconv.Atoi(r.header["x-switchboard-overhead-us"]); err != nil || us < 0 {
		t.Errorf("x-switchboard-overhead-us = %q, want a non-negative integer", r.header["x-switchboard-overhead-us"])
	}
	if r.header["x-switchboard-provider"] != "mock" {
		t.Errorf("x-switchboard-provider = %q", r.header["x-switchboard-provider"])
	}
	// The provider got its own key, never the gateway key.
	got := g.Mock.LastRequest()
	if got.Headers["authorization"] != "Bearer sk-upstream-secret" {
		t.Errorf("upstream authorization = %q", got.Headers["authorization"])
	}
	for k, v := range got.Headers {
		if strings.Contains(v, testKey) {
			t.Errorf("gateway key forwarded upstream in %s", k)
		}
	}
	if string(got.Body) != chatBody {
		t.Errorf("body changed on the way:\n got %s\nwant %s", got.Body, chatBody)
	}
}

// TestRequestIDIsTheGatewaysOwn: the request id keys the ledger entry, so
// a client cannot choose it (a replayed id would go unbilled); error
// answers carry it too.
func TestRequestIDIsTheGatewaysOwn(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chatBody, "X-Request-Id", "client-id-42")
	id := r.header["x-request-id"]
	if !strings.HasPrefix(id, "req_") {
		t.Fatalf("x-request-id = %q, want the gateway's own", id)
	}
	r = g.post(t, "/v1/chat/completions", `{"model":"nope"}`, "X-Request-Id", id)
	if r.status != 404 || !strings.HasPrefix(r.header["x-request-id"], "req_") || r.header["x-request-id"] == id {
		t.Fatalf("error answer: %d x-request-id %q", r.status, r.header["x-request-id"])
	}
}

func TestAliasRewritesOnlyTheModel(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	body := `{"messages":[{"role":"user","content":"a \"model\": b"}],  "model" : "alias-model", "temperature":0.5}`
	r := g.post(t, "/v1/chat/completions", body)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	want := strings.Replace(body, `"alias-model"`, `"mock-model-upstream"`, 1)
	if got := string(g.Mock.LastRequest().Body); got != want {
		t.Fatalf("upstream body\n got %s\nwant %s", got, want)
	}
}

func TestExplicitProviderModel(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chat("mock/any-id", ""))
	if r.status != 200 || !strings.Contains(string(g.Mock.LastRequest().Body), `"model":"any-id"`) {
		t.Fatalf("status %d, upstream body %s", r.status, g.Mock.LastRequest().Body)
	}
}

func TestErrorAnswers(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server:\n  max_body_bytes: 4KiB\n")
	f := func(name string, r result, status int, code string) {
		t.Helper()
		if r.status != status {
			t.Errorf("%s: status %d, want %d (body %s)", name, r.status, status, r.body)
		}
		if !strings.Contains(r.body, `"code":"`+code+`"`) || !strings.HasPrefix(r.body, `{"error":{"message":`) {
			t.Errorf("%s: body %s, want OpenAI error with code %q", name, r.body, code)
		}
		if strings.Contains(r.body, "sk-upstream-secret") {
			t.Errorf("%s: provider key leaked: %s", name, r.body)
		}
	}
	f("bad key", g.post(t, "/v1/chat/completions", chatBody, "Authorization", "Bearer sk-sb-wrong"), 401, "invalid_api_key")
	f("no key", g.post(t, "/v1/chat/completions", chatBody, "Authorization", ""), 401, "invalid_api_key")
	f("unknown model", g.post(t, "/v1/chat/completions", chat("nope", "")), 404, "model_not_found")
	f("unknown suffix", g.post(t, "/v1/chat/completions", chat("mock-model:bogus", "")), 400, "invalid_model")
	f("malformed JSON", g.post(t, "/v1/chat/completions", `{"model": "mock-model", `), 400, "invalid_request")
	f("not an object", g.post(t, "/v1/chat/completions", `[1,2]`), 400, "invalid_request")
	f("missing model", g.post(t, "/v1/chat/completions", `{"messages":[]}`), 400, "invalid_request")
	f("model not a string", g.post(t, "/v1/chat/completions", `{"model":5}`), 400, "invalid_request")
	f("stream not a bool", g.post(t, "/v1/chat/completions", chat("mock-model", `,"stream":"yes"`)), 400, "invalid_request")
	f("duplicate model", g.post(t, "/v1/chat/completions", `{"model":"mock-model","x":{"model":1},"model":"other"}`), 400, "invalid_request")
	f("too large", g.post(t, "/v1/chat/completions", chat("mock-model", `,"pad":"`+strings.Repeat("x", 5000)+`"`)), 413, "request_too_large")
	f("upstream down", g.post(t, "/v1/chat/completions", chat("down-model", "")), 502, "upstream_unreachable")
	f("wrong method", g.do(t, "GET", "/v1/chat/completions", ""), 405, "method_not_allowed")
	f("no such path", g.do(t, "GET", "/v2/whatever", ""), 404, "not_found")

	// Upstream 4xx answers pass through unchanged, retry-after included.
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+status=429+retry_after=7", ""))
	if r.status != 429 || r.header["retry-after"] != "7" || !strings.Contains(r.body, `"error"`) {
		t.Errorf("upstream 429: status %d retry-after %q body %s", r.status, r.header["retry-after"], r.body)
	}
	r = g.post(t, "/v1/chat/completions", chat("mock/mock-model+status=400", ""))
	if r.status != 400 {
		t.Errorf("upstream 400: status %d body %s", r.status, r.body)
	}
}

func TestAPIKeyHeaderAccepted(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chatBody, "Authorization", "", "x-api-key", testKey)
	if r.status != 200 {
		t.Fatalf("x-api-key: status %d %s", r.status, r.body)
	}
}

func TestUpstreamSlowIs504(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+delay=5s", ""))
	// The mock would answer after 5s; the 504 names the 2s first-byte
	// timeout that cut it.
	if r.status != 504 || !strings.Contains(r.body, "upstream_timeout") || !strings.Contains(r.body, "first byte") {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
}

func TestUpstreamCompressedBodiesAreDecoded(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	for _, enc := range []string{"gzip", "zstd"} {
		r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+"+enc, ""))
		if r.status != 200 || !strings.Contains(r.body, "chunk 7") || r.header["content-encoding"] != "" {
			t.Errorf("%s: status %d encoding %q body %.80s", enc, r.status, r.header["content-encoding"], r.body)
		}
	}
}

func TestCompletionsAndEmbeddings(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/completions", `{"model":"mock-model","prompt":"hi"}`)
	if r.status != 200 || !strings.Contains(r.body, `"text_completion"`) {
		t.Errorf("completions: %d %s", r.status, r.body)
	}
	r = g.post(t, "/v1/embeddings", `{"model":"alias-model","input":["a","b"]}`)
	if r.status != 200 || strings.Count(r.body, `"embedding":[`) != 2 {
		t.Errorf("embeddings: %d %s", r.status, r.body)
	}
	if !strings.Contains(string(g.Mock.LastRequest().Body), `"model":"mock-model-upstream"`) {
		t.Errorf("embeddings alias not rewritten: %s", g.Mock.LastRequest().Body)
	}
	if got := tokenCount("embeddings", "alias-model", "in"); got <= 0 {
		t.Errorf("embedding usage not captured: tokens in = %d", got)
	}
}

func tokenCount(surface, model, direction string) uint64 {
	return metrics.GetOrCreateCounter(fmt.Sprintf(`switchboard_tokens_total{surface=%q,model=%q,provider="mock",direction=%q}`, surface, model, direction)).Get()
}

func TestModels(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.do(t, "GET", "/v1/models", "")
	for _, want := range []string{`"object":"list"`, `{"id":"mock-model","object":"model","created":0,"owned_by":"mock","supported_parameters":[`, `"id":"alias-model"`, `"id":"down-model"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/v1/models lacks %s: %s", want, r.body)
		}
	}
	r = g.do(t, "GET", "/v1/models/alias-model", "")
	if r.status != 200 || !strings.HasPrefix(r.body, `{"id":"alias-model","object":"model","created":0,"owned_by":"mock",`) {
		t.Errorf("/v1/models/alias-model: %d %s", r.status, r.body)
	}
	if r = g.do(t, "GET", "/v1/models/nope", ""); r.status != 404 {
		t.Errorf("/v1/models/nope: %d", r.status)
	}
	if r = g.do(t, "GET", "/v1/models", "", "Authorization", ""); r.status != 401 {
		t.Errorf("/v1/models without key: %d", r.status)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	g.post(t, "/v1/chat/completions", chatBody)
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/metrics": `switchboard_requests_total{surface="chat",model="mock-model",provider="mock",status="200"}`,
	} {
		r := g.do(t, "GET", path, "", "Authorization", "")
		if r.status != 200 || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d, want %q in %.300s", path, r.status, want, r.body)
		}
	}
	r := g.do(t, "GET", "/metrics", "")
	for _, want := range []string{"switchboard_overhead_seconds", "switchboard_upstream_duration_seconds", "switchboard_request_duration_seconds", "switchboard_open_streams", `switchboard_tokens_total{surface="chat",model="mock-model",provider="mock",direction="out"}`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// sseEvents splits an SSE body into its events' data payloads.
func sseEvents(body string) []string {
	var out []string
	for _, ev := range strings.Split(body, "\n\n") {
		if d, ok := strings.CutPrefix(ev, "data: "); ok {
			out = append(out, d)
		} else if ev != "" {
			out = append(out, ev)
		}
	}
	return out
}

func TestStreamRelaysEventsAndHidesUsageChunk(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chat("mock-model", `,"stream":true`))
	if r.status != 200 || r.header["content-type"] != "text/event-stream" {
		t.Fatalf("status %d content-type %q", r.status, r.header["content-type"])
	}
	evs := sseEvents(r.body)
	if len(evs) != 10 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("want 8 content chunks + finish chunk + [DONE], got %d events:\n%s", len(evs), r.body)
	}
	if strings.Contains(r.body, `"usage"`) || strings.Contains(r.body, `"choices":[]`) {
		t.Fatalf("usage chunk reached a client that did not ask for it:\n%s", r.body)
	}
	if up := string(g.Mock.LastRequest().Body); !strings.Contains(up, `"stream_options":{"include_usage":true}`) {
		t.Fatalf("upstream was not asked for usage: %s", up)
	}
	if got := tokenCount("chat", "mock-model", "out"); got == 0 {
		t.Fatalf("stream usage not captured")
	}

	// A client that asked for usage gets it, and its options are kept.
	r = g.post(t, "/v1/chat/completions", chat("mock-model", `,"stream":true,"stream_options":{"include_usage":true}`))
	evs = sseEvents(r.body)
	if len(evs) != 11 || !strings.Contains(evs[9], `"choices":[]`) || !strings.Contains(evs[9], `"usage":{"prompt_tokens"`) {
		t.Fatalf("usage chunk missing for a client that asked:\n%s", r.body)
	}
}

func TestStreamUsageOptionSplice(t *testing.T) {
	g := startGateway(t, mock.Options{Chunks: 1}, "")
	f := func(opts, wantUpstream string, clientSeesUsage bool) {
		t.Helper()
		r := g.post(t, "/v1/chat/completions", chat("mock-model", `,"stream":true`+opts))
		if r.status != 200 {
			t.Fatalf("%s: status %d %s", opts, r.status, r.body)
		}
		if up := string(g.Mock.LastRequest().Body); !strings.Contains(up, wantUpstream) {
			t.Errorf("%s: upstream body %s lacks %s", opts, up, wantUpstream)
		}
		if got := strings.Contains(r.body, `"choices":[]`); got != clientSeesUsage {
			t.Errorf("%s: client saw usage chunk = %v, want %v", opts, got, clientSeesUsage)
		}
	}
	f(``, `{"stream_options":{"include_usage":true},"model"`, false)
	f(`,"stream_options":null`, `"stream_options":{"include_usage":true}}`, false)
	f(`,"stream_options":{}`, `"stream_options":{"include_usage":true}}`, false)
	f(`,"stream_options":{"include_usage":false}`, `"stream_options":{"include_usage":true}}`, false)
	f(`,"stream_options":{"x":1}`, `"stream_options":{"include_usage":true,"x":1}}`, false)
	f(`,"stream_options":{"x":1,"include_usage":true}`, `"stream_options":{"x":1,"include_usage":true}}`, true)
}

// normalizeIDs makes two mock answers comparable: the mock numbers them.
var mockID = regexp.MustCompile(`(chatcmpl-mock-|call_mock_)\d+`)

func TestToolCallStreamPassesThroughIntact(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	// The same upstream body both ways: the gateway strips "mock/".
	rest := `,"stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`
	via := g.post(t, "/v1/chat/completions", chat("mock/mock-model+tools=7", rest))
	direct := (&gateway{URL: g.Mock.URL()}).post(t, "/v1/chat/completions", chat("mock-model+tools=7", rest))
	if via.status != 200 || direct.status != 200 {
		t.Fatalf("status via %d, direct %d", via.status, direct.status)
	}
	a, b := mockID.ReplaceAllString(via.body, "ID"), mockID.ReplaceAllString(direct.body, "ID")
	// The one change: the usage chunk says what the call cost (an unpriced
	// model, so $0, for an operator key).
	if strings.Count(a, `,"cost":0}}`) != 1 {
		t.Fatalf("the usage chunk has no cost:\n%s", a)
	}
	if a = strings.Replace(a, `,"cost":0}}`, `}}`, 1); a != b {
		t.Fatalf("stream changed on the way:\nvia gateway:\n%s\ndirect:\n%s", a, b)
	}
	if strings.Count(a, `"tool_calls"`) < 7 {
		t.Fatalf("want 7 tool-call deltas:\n%s", a)
	}
}

// streamReader reads a raw HTTP/1.1 streaming answer event by event.
func openStream(t *testing.T, g *gateway, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := g.rawConn(t)
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body)
	return c, bufio.NewReader(c)
}

func TestStreamUpstreamResetEndsWithErrorEvent(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+reset=3", `,"stream":true`))
	evs := sseEvents(r.body)
	if len(evs) != 4 {
		t.Fatalf("want 3 chunks and an error event, got %d:\n%s", len(evs), r.body)
	}
	last := evs[3]
	if !strings.HasPrefix(last, `{"error":{"message":`) || !strings.Contains(last, `"status":502`) {
		t.Fatalf("last event is not an error: %s", last)
	}
	if strings.Contains(r.body, "[DONE]") {
		t.Fatalf("a failed stream must not end with [DONE]")
	}
}

func TestStreamIdleTimeoutEndsWithErrorEvent(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+chunks=3+gap=3s", `,"stream":true`))
	evs := sseEvents(r.body)
	if len(evs) != 2 || !strings.Contains(evs[1], `"status":504`) || !strings.Contains(evs[1], "idle") {
		t.Fatalf("want one chunk then an idle-timeout error event, got:\n%s", r.body)
	}
}

func TestStreamKeepaliveWhileUpstreamSilent(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server:\n  sse_keepalive: 100ms\n")
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+ttft=550ms+chunks=2", `,"stream":true`))
	evs := sseEvents(r.body)
	n := 0
	for n < len(evs) && evs[n] == ": keep-alive" {
		n++
	}
	if n < 3 || len(evs) != n+4 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("want >=3 keep-alives, then 2 chunks, finish and [DONE]; got:\n%s", r.body)
	}
}

func TestClientDisconnectReleasesUpstream(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	// Warm up so pools and goroutines settle.
	g.post(t, "/v1/chat/completions", chatBody)
	baseConns := g.Mock.OpenConns()

	for i := 0; i < 5; i++ {
		c, br := openStream(t, g, chat("mock/mock-model+chunks=1000+gap=20ms", `,"stream":true`))
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, "200") {
			t.Fatalf("stream did not start: %q %v", line, err)
		}
		for !strings.HasPrefix(line, "data:") { // wait for the first event
			if line, err = br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
		_ = c.Close()
	}
	waitFor(t, 3*time.Second, func() string {
		if open := g.Mock.OpenConns(); open > baseConns {
			return fmt.Sprintf("mock still has %d open connections (baseline %d)", open, baseConns)
		}
		if n := openStreams.Get(); n != 0 {
			return fmt.Sprintf("%v streams still open", n)
		}
		// fasthttp keeps idle workers around, so count only goroutines
		// still inside the relay or an upstream read.
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if n := strings.Count(stacks, "proxy.(*relay).Read"); n > 0 {
			return fmt.Sprintf("%d goroutines still relaying:\n%s", n, stacks)
		}
		return ""
	})
	// The gateway still serves.
	if r := g.post(t, "/v1/chat/completions", chatBody); r.status != 200 {
		t.Fatalf("after disconnects: %d", r.status)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPanicInHandlerDoesNotKillServer(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	h := g.srv.recovering(func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/boom" {
			panic("boom")
		}
		ctx.SetBodyString("alive")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h}
	go func() { _ = s.Serve(ln) }()
	defer s.Shutdown()
	other := &gateway{URL: "http://" + ln.Addr().String()}
	if r := other.do(t, "GET", "/boom", ""); r.status != 500 || !strings.Contains(r.body, `"code":"internal_error"`) || strings.Contains(r.body, "boom") {
		t.Fatalf("panic answer: %d %s", r.status, r.body)
	}
	if r := other.do(t, "GET", "/fine", ""); r.status != 200 || r.body != "alive" {
		t.Fatalf("server dead after panic: %d %s", r.status, r.body)
	}
	if !strings.Contains(g.logs.String(), "BUG: recovered panic: boom") {
		t.Fatalf("panic not logged: %s", g.logs.String())
	}
}

func TestSlowClientIsCutOff(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server:\n  read_timeout: 300ms\n")
	c := g.rawConn(t)
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":")
	// The gateway closes the connection (the read ends in EOF), not the
	// test's own 20s deadline.
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	out := string(b)
	if err != nil {
		t.Fatalf("trickling client still connected: %v", err)
	}
	if strings.Contains(out, "502") {
		t.Fatalf("broken client body answered 502: %s", out)
	}
}

func TestOversizedBodyRejectedBeforeReading(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server:\n  max_body_bytes: 1KiB\n")
	c := g.rawConn(t)
	// Announce 1 GB and send none of it: the answer must come at once.
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000000\r\n\r\n", testKey)
	out := readAll(c, 2*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 413") || !strings.Contains(out, `"code":"request_too_large"`) {
		t.Fatalf("want an OpenAI-shaped 413, got %q", out)
	}
}

func TestLargeHeadersAccepted(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	r := g.post(t, "/v1/chat/completions", chatBody, "anthropic-beta", strings.Repeat("x", 24<<10))
	if r.status != 200 {
		t.Fatalf("24 KiB header: status %d", r.status)
	}
	c := g.rawConn(t)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("y", 80<<10))
	if out := readAll(c, 2*time.Second); !strings.HasPrefix(out, "HTTP/1.1 431") {
		t.Fatalf("80 KiB header: want 431, got %.100q", out)
	}
}

func TestAuthDisabled(t *testing.T) {
	m, _ := mock.Start("127.0.0.1:0", mock.Options{})
	defer m.Close()
	text := fmt.Sprintf("auth: {disabled: true}\ndata_dir: %s\nproviders:\n  - {name: mock, base_url: '%s/v1', api_key: k, models: [mock-model]}\n", t.TempDir(), m.URL())
	open := startGatewayConfig(t, m, text)
	if r := open.post(t, "/v1/chat/completions", chatBody, "Authorization", ""); r.status != 200 {
		t.Fatalf("auth disabled: %d %s", r.status, r.body)
	}
}

// TestKeepAliveAfterAStreamOutlivesTheWriteTimeout: the write deadline a
// stream sets for its chunks ends with the stream, so the next request
// on the same keep-alive connection, after server.write_timeout, is
// answered.
func TestKeepAliveAfterAStreamOutlivesTheWriteTimeout(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server: {write_timeout: 300ms}\n")
	client := &fasthttp.HostClient{Addr: strings.TrimPrefix(g.URL, "http://"), MaxConns: 1}
	send := func(body string) *fasthttp.Response {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		req.SetRequestURI(g.URL + "/v1/chat/completions")
		req.Header.SetMethod("POST")
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
		if err := client.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatalf("on a kept-alive connection: %v", err)
		}
		return resp
	}
	if r := send(chat("mock-model", `,"stream":true`)); r.StatusCode() != 200 {
		t.Fatalf("stream: %d", r.StatusCode())
	}
	time.Sleep(500 * time.Millisecond)
	if r := send(chat("mock-model", "")); r.StatusCode() != 200 {
		t.Fatalf("after the stream: %d", r.StatusCode())
	}
}
