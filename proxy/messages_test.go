package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bytedance/sonic"

	"switchboard/bench/mock"
	"switchboard/store/money"
)

// startAnthropicGateway runs a gateway whose provider "anth" speaks the
// Anthropic Messages format to the mock, beside the OpenAI-format "mock".
// claude-mock is priced at $3/M in, $15/M out, $0.30/M cache reads;
// mock-model at $1/M in, $2/M out.
func startAnthropicGateway(t *testing.T, extra string) *gateway {
	t.Helper()
	m := startMock(t, mock.Options{})
	return startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
billing:
  prices:
    anth/claude-mock: {input: "3", output: "15", cache_read: "0.3"}
    anth/claude-mock+cached=5: {input: "3", output: "15", cache_read: "0.3"}
    mock/mock-model: {input: "1", output: "2"}
    mock/mock-model+tools=3: {input: "1", output: "2"}
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
	secret := billingTestKey(t, g, "team", money.Dollar, nil)
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
		want := money.Money(u.Input*3000 + u.Output*15000)
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
		{"untranslatable field", messagesBody("mock-model", `,"mcp_servers":[{"type":"url","url":"http://x","name":"x"}]`), anthropicHeaders(testKey), 400, "invalid_request_error"},
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
	if r.status != 200 || !strings.Contains(r.body, `"input_tokens":`) || r.header[headerTokenCount] != "provider" {
		t.Fatalf("status %d %q: %s", r.status, r.header[headerTokenCount], r.body)
	}
	if err := g.srv.store.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.srv.store.Entry(r.header["x-request-id"]); err == nil {
		t.Fatal("counting tokens left a ledger entry")
	}
}

// TestMessagesThroughAnOpenAIProvider: Claude Code driving a GPT model.
// The Anthropic request is translated to chat completions and the answer
// back, streamed or not, with tools, and billed from the usage.
func TestMessagesThroughAnOpenAIProvider(t *testing.T) {
	g := startAnthropicGateway(t, "")
	secret := billingTestKey(t, g, "team", money.Dollar, nil)
	r := g.post(t, "/v1/messages", messagesBody("mock/mock-model", ""), anthropicHeaders(secret)...)
	var msg struct {
		Type    string `json:"type"`
		Role    string `json:"role"`
		Content []struct {
			Type, Text string
		} `json:"content"`
		StopReason string `json:"stop_reason"`
		Usage      struct {
			Input  int64 `json:"input_tokens"`
			Output int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := sonic.UnmarshalString(r.body, &msg); err != nil || r.status != 200 || msg.Type != "message" ||
		msg.Role != "assistant" || len(msg.Content) != 1 || !strings.HasPrefix(msg.Content[0].Text, "chunk 0") || msg.StopReason != "end_turn" {
		t.Fatalf("status %d: %s (%v)", r.status, r.body, err)
	}
	up := g.Mock.LastRequest()
	if up.Path != "/v1/chat/completions" || !strings.Contains(string(up.Body), `"messages":[{"role":"user","content":"Hello"}]`) {
		t.Fatalf("upstream %s %s", up.Path, up.Body)
	}
	want := money.Money(msg.Usage.Input*1000 + msg.Usage.Output*2000)
	if got := reportedCost(t, r.body); got != want || want == 0 {
		t.Fatalf("cost %s, want %s", got, want)
	}
	if e := entryOf(t, g, r); e.Cost != want {
		t.Fatalf("entry cost %s, want %s", e.Cost, want)
	}

	r = g.post(t, "/v1/messages", messagesBody("mock/mock-model+tools=3", `,"stream":true,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]`), anthropicHeaders(secret)...)
	if r.status != 200 || strings.Contains(r.body, "[DONE]") || strings.Contains(r.body, "chat.completion.chunk") {
		t.Fatalf("status %d:\n%s", r.status, r.body)
	}
	order := []string{"event: message_start", "event: content_block_start", `"type":"tool_use"`, "input_json_delta",
		"event: content_block_stop", "event: message_delta", `"stop_reason":"tool_use"`, `"cost":`, "event: message_stop"}
	at := 0
	for _, want := range order {
		i := strings.Index(r.body[at:], want)
		if i < 0 {
			t.Fatalf("stream lacks %q after byte %d:\n%s", want, at, r.body)
		}
		at += i
	}
	if n := strings.Count(r.body, "input_json_delta"); n != 3 {
		t.Fatalf("%d argument deltas, want 3:\n%s", n, r.body)
	}
	// A provider error reaches the client in its own (Anthropic) shape.
	if r := g.post(t, "/v1/messages", messagesBody("mock/mock-model+status=503", ""), anthropicHeaders(testKey)...); r.status != 503 ||
		!strings.HasPrefix(r.body, `{"type":"error","error":{"type":"overloaded_error"`) {
		t.Fatalf("translated provider error: status %d: %s", r.status, r.body)
	}
	if e := entryOf(t, g, r); e.Cost == 0 || e.Settled != "" {
		t.Fatalf("entry %+v", e)
	}
}

// TestChatThroughAnAnthropicProvider: an OpenAI client driving Claude.
func TestChatThroughAnAnthropicProvider(t *testing.T) {
	g := startAnthropicGateway(t, "")
	r := g.post(t, "/v1/chat/completions", chat("anth/claude-mock", `,"max_tokens":50`))
	var resp struct {
		Object  string `json:"object"`
		Choices []struct {
			Message      struct{ Role, Content string } `json:"message"`
			FinishReason string                         `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := sonic.UnmarshalString(r.body, &resp); err != nil || r.status != 200 || resp.Object != "chat.completion" ||
		len(resp.Choices) != 1 || !strings.HasPrefix(resp.Choices[0].Message.Content, "chunk 0") || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("status %d: %s (%v)", r.status, r.body, err)
	}
	up := g.Mock.LastRequest()
	if up.Path != "/v1/messages" || up.Headers["x-api-key"] != "sk-ant-upstream" || !strings.Contains(string(up.Body), `"max_tokens":50`) {
		t.Fatalf("upstream %s %v %s", up.Path, up.Headers, up.Body)
	}
	r = g.post(t, "/v1/chat/completions", chat("anth/claude-mock", `,"stream":true,"stream_options":{"include_usage":true}`))
	if r.status != 200 || !strings.HasSuffix(r.body, "data: [DONE]\n\n") || !strings.Contains(r.body, `"finish_reason":"stop"`) ||
		!strings.Contains(r.body, `"usage":{`) || strings.Contains(r.body, "event: ") {
		t.Fatalf("status %d:\n%s", r.status, r.body)
	}
	// Refused fields name themselves.
	r = g.post(t, "/v1/chat/completions", chat("anth/claude-mock", `,"n":2`))
	if r.status != 400 || !strings.Contains(r.body, "n") {
		t.Fatalf("n=2: status %d: %s", r.status, r.body)
	}
	// A model no Anthropic provider serves is counted by the gateway.
	r = g.post(t, "/v1/messages/count_tokens", `{"model":"mock-model","system":"Be brief.","messages":[{"role":"user","content":"Hello there, how are you today?"}]}`, anthropicHeaders(testKey)...)
	if r.status != 200 || r.header[headerTokenCount] != "local-o200k" || !strings.HasPrefix(r.body, `{"input_tokens":`) {
		t.Fatalf("count_tokens on an OpenAI provider: status %d %q: %s", r.status, r.header[headerTokenCount], r.body)
	}
	var n struct {
		InputTokens int `json:"input_tokens"`
	}
	// "Be brief." is 3 tokens and the question 8 in o200k_base, plus 3 for the turn.
	if err := sonic.UnmarshalString(r.body, &n); err != nil || n.InputTokens != 14 {
		t.Fatalf("input_tokens %d (%v), want 14", n.InputTokens, err)
	}
}
