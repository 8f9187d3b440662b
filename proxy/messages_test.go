package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bytedance/sonic"

	"switchboard/bench/mock"
	"switchboard/store"
)

// startAnthropicGateway runs a gateway whose provider "anth" speaks the
// Anthropic Messages format to the mock, beside the OpenAI-format "mock".
// claude-mock is priced at $3/M in, $15/M out, $0.30/M cache reads.
func startAnthropicGateway(t *testing.T, extra string) *gateway {
	t.Helper()
	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
billing:
  prices:
    anth/claude-mock: {input: "3", output: "15", cache_read: "0.3"}
    anth/claude-mock+cached=5: {input: "3", output: "15", cache_read: "0.3"}
providers:
  - {name: anth, format: anthropic, base_url: %s/v1, api_key: sk-ant-upstream, models: [claude-mock]}
  - {name: mock, base_url: %s/v1, api_key: sk-upstream-secret, models: [mock-model]}
%s`, t.TempDir(), testKey, m.URL(), m.URL(), extra))
}

func messagesBody(model, extra string) string {
	return `{"model":"` + model + `","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]` + extra + `}`
}

// anthropicHeaders are what the Anthropic SDK sends: x-api-key, never a
// Bearer token, and the API version.
func anthropicHeaders(key string) []string {
	return []string{"Authorization", "", "x-api-key", key, "anthropic-version", "2023-06-01", "anthropic-beta", "prompt-caching-2024-07-31"}
}

func TestMessagesPassThroughToAnAnthropicProvider(t *testing.T) {
	g := startAnthropicGateway(t, "")
	secret := billingTestKey(t, g, "team", store.Dollar, nil)
	for _, path := range []string{"/v1/messages", "/messages?beta=true"} {
		r := g.post(t, path, messagesBody("anth/claude-mock+cached=5", ""), anthropicHeaders(secret)...)
		if r.status != 200 || r.header[headerProvider] != "anth" {
			t.Fatalf("%s: status %d: %s", path, r.status, r.body)
		}
		var msg struct {
			Type  string `json:"type"`
			Usage struct {
				Input     int64 `json:"input_tokens"`
				CacheRead int64 `json:"cache_read_input_tokens"`
				Output    int64 `json:"output_tokens"`
			} `json:"usage"`
		}
		if err := sonic.UnmarshalString(r.body, &msg); err != nil || msg.Type != "message" {
			t.Fatalf("%s: %v: %s", path, err, r.body)
		}
		u := msg.Usage
		// $3/M for uncached input, $15/M output; the 5 cached tokens free.
		want := store.Money(u.Input*3000 + u.Output*15000)
		if got := reportedCost(t, r.body); got != want || u.CacheRead != 5 {
			t.Fatalf("%s: usage.cost %s, want %s (usage %+v)", path, got, want, u)
		}
		e := entryOf(t, g, r)
		if e.Cost != want || e.InputTokens != u.Input || e.CacheReadTokens != 5 || e.OutputTokens != u.Output {
			t.Fatalf("%s: entry %+v, want cost %s", path, e, want)
		}
		up := g.Mock.LastRequest()
		if up.Headers["x-api-key"] != "sk-ant-upstream" || up.Headers["authorization"] != "" ||
			up.Headers["anthropic-version"] != "2023-06-01" || up.Headers["anthropic-beta"] != "prompt-caching-2024-07-31" {
			t.Fatalf("%s: upstream headers %v", path, up.Headers)
		}
	}
}

func TestMessagesStreamKeepsEventsAndAddsCost(t *testing.T) {
	g := startAnthropicGateway(t, "")
	r := g.post(t, "/v1/messages", messagesBody("anth/claude-mock+tools=3", `,"stream":true`), anthropicHeaders(testKey)...)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	for _, ev := range []string{"message_start", "content_block_start", "input_json_delta", "content_block_stop", "message_delta", "message_stop"} {
		if !strings.Contains(r.body, ev) {
			t.Fatalf("stream lacks %s:\n%s", ev, r.body)
		}
	}
	if strings.Count(r.body, "input_json_delta") != 3 {
		t.Fatalf("want 3 argument deltas:\n%s", r.body)
	}
	e := entryOf(t, g, r)
	if e.OutputTokens == 0 || e.InputTokens == 0 || e.Settled != "" {
		t.Fatalf("entry %+v", e)
	}
	// The cost is in the message_delta's usage.
	i := strings.Index(r.body, "event: message_delta")
	if i < 0 || !strings.Contains(r.body[i:], `"cost":`) {
		t.Fatalf("no cost in message_delta:\n%s", r.body)
	}
}

func TestMessagesErrorsInAnthropicShape(t *testing.T) {
	g := startAnthropicGateway(t, "")
	for _, c := range []struct {
		name, body string
		headers    []string
		status     int
		typ        string
	}{
		{"bad key", messagesBody("claude-mock", ""), anthropicHeaders("sk-sb-wrong"), 401, "authentication_error"},
		{"unknown model", messagesBody("nope", ""), anthropicHeaders(testKey), 404, "not_found_error"},
		{"bad json", `{"model":`, anthropicHeaders(testKey), 400, "invalid_request_error"},
		{"provider error", messagesBody("anth/claude-mock+status=529", ""), anthropicHeaders(testKey), 529, "overloaded_error"},
		// mock-model is served only in the OpenAI format.
		{"other format", messagesBody("mock-model", ""), anthropicHeaders(testKey), 400, "invalid_request_error"},
	} {
		r := g.post(t, "/v1/messages", c.body, c.headers...)
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := sonic.UnmarshalString(r.body, &e); err != nil || r.status != c.status || e.Type != "error" ||
			e.Error.Type != c.typ || e.Error.Message == "" {
			t.Errorf("%s: status %d, body %s; want %d %s", c.name, r.status, r.body, c.status, c.typ)
		}
	}
	// A metered key without credit: 402 billing_error.
	poor := billingTestKey(t, g, "poor", 0, nil)
	if r := g.post(t, "/v1/messages", messagesBody("claude-mock", ""), anthropicHeaders(poor)...); r.status != 402 ||
		!strings.Contains(r.body, `"type":"billing_error"`) {
		t.Errorf("no credit: status %d: %s", r.status, r.body)
	}
}

func TestMessagesMidStreamFailureIsAnAnthropicErrorEvent(t *testing.T) {
	g := startAnthropicGateway(t, "")
	r := g.post(t, "/v1/messages", messagesBody("anth/claude-mock+reset=2", `,"stream":true`), anthropicHeaders(testKey)...)
	if r.status != 200 || !strings.Contains(r.body, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"") {
		t.Fatalf("status %d:\n%s", r.status, r.body)
	}
}

func TestMessagesFailOverOnOverloaded(t *testing.T) {
	g := startAnthropicGateway(t, `
routes:
  - {model: claude, targets: [anth/claude-mock+status=529, anth/claude-mock]}
`)
	r := g.post(t, "/v1/messages", messagesBody("claude", ""), anthropicHeaders(testKey)...)
	if r.status != 200 || r.header[headerFallback] != "anth/claude-mock+status=529 (529)" {
		t.Fatalf("status %d fallback %q: %s", r.status, r.header[headerFallback], r.body)
	}
}

func TestCountTokensPassesThroughUnbilled(t *testing.T) {
	g := startAnthropicGateway(t, "")
	r := g.post(t, "/v1/messages/count_tokens", `{"model":"claude-mock","messages":[{"role":"user","content":"Hello"}]}`, anthropicHeaders(testKey)...)
	if r.status != 200 || !strings.Contains(r.body, `"input_tokens":`) {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := g.srv.store.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.srv.store.Entry(r.header["x-request-id"]); err == nil {
		t.Fatal("counting tokens left a ledger entry")
	}
}
