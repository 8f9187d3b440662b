package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bytedance/sonic"

	"switchboard/bench/mock"
	"switchboard/store/money"
)

// startCachingGateway runs a gateway with the response cache on, its
// OpenAI-format provider "mock" and Anthropic-format "anth" on the mock.
func startCachingGateway(t *testing.T) *gateway {
	t.Helper()
	m := startMock(t, mock.Options{})
	return startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
cache: {responses: {enabled: true}}
billing:
  prices:
    mock/mock-model: {input: "1", output: "2"}
providers:
  - {name: mock, base_url: %[3]s/v1, api_key: k, models: [mock-model]}
  - {name: anth, format: anthropic, base_url: %[3]s/v1, api_key: k, models: [claude-mock]}
`, t.TempDir(), testKey, m.URL()))
}

const question = `"messages":[{"role":"user","content":"What is a gateway?"}],"max_tokens":100`

// TestResponseCacheHitIsFreeFastAndInTheClientsFormat: a deterministic
// question is answered by the provider once; asked again, non-streamed,
// streamed or in the Anthropic format, it is answered from the cache
// without a provider call, billed $0 and recorded as a cache hit.
func TestResponseCacheHitIsFreeFastAndInTheClientsFormat(t *testing.T) {
	g := startCachingGateway(t)
	secret := billingTestKey(t, g, "team", money.Dollar, nil)
	auth := []string{"Authorization", "Bearer " + secret}
	body := `{"model":"mock-model","temperature":0,` + question + `}`
	first := g.post(t, "/v1/chat/completions", body, auth...)
	if first.status != 200 || first.header[headerCache] != "miss" {
		t.Fatalf("first: status %d cache %q: %s", first.status, first.header[headerCache], first.body)
	}
	calls := g.Mock.Requests()
	text := contentOf(t, first.body)

	second := g.post(t, "/v1/chat/completions", body, auth...)
	if second.status != 200 || second.header[headerCache] != "hit" || contentOf(t, second.body) != text || g.Mock.Requests() != calls {
		t.Fatalf("second: status %d cache %q, provider calls %d -> %d: %s", second.status, second.header[headerCache], calls, g.Mock.Requests(), second.body)
	}
	if cost := reportedCost(t, second.body); cost != 0 {
		t.Fatalf("a hit reported cost %s", cost)
	}
	if e := entryOf(t, g, second); !e.CacheHit || e.Cost != 0 || e.OutputTokens == 0 {
		t.Fatalf("hit entry %+v", e)
	}
	if e := entryOf(t, g, first); e.CacheHit || e.Cost == 0 {
		t.Fatalf("miss entry %+v", e)
	}

	// The same question streamed: replayed as an OpenAI stream.
	r := g.post(t, "/v1/chat/completions", strings.Replace(body, `"temperature":0,`, `"temperature":0,"stream":true,"stream_options":{"include_usage":true},`, 1), auth...)
	if r.status != 200 || r.header[headerCache] != "hit" || !strings.HasSuffix(r.body, "data: [DONE]\n\n") || streamedText(r.body) != text ||
		!strings.Contains(r.body, `"cost":0`) || g.Mock.Requests() != calls {
		t.Fatalf("streamed hit: status %d cache %q:\n%s", r.status, r.header[headerCache], r.body)
	}

	// The same question in Anthropic's format: the same canonical request.
	r = g.post(t, "/v1/messages", `{"model":"mock-model","temperature":0,`+question+`}`, anthropicHeaders(secret)...)
	var msg struct {
		Type    string `json:"type"`
		Content []struct{ Text string }
	}
	if err := sonic.UnmarshalString(r.body, &msg); err != nil || r.header[headerCache] != "hit" || msg.Type != "message" ||
		len(msg.Content) != 1 || msg.Content[0].Text != text || g.Mock.Requests() != calls {
		t.Fatalf("anthropic hit: status %d cache %q (%v): %s", r.status, r.header[headerCache], err, r.body)
	}
}

// TestResponseCacheControls: temperature above 0 is not cached unless
// the request says on; refresh calls the provider again; off skips the
// cache; a streamed answer is stored too; a bad TTL is a 400.
func TestResponseCacheControls(t *testing.T) {
	g := startCachingGateway(t)
	warm := `{"model":"mock-model","temperature":0.7,` + question + `}`
	for i := range 2 {
		if r := g.post(t, "/v1/chat/completions", warm); r.header[headerCache] != "" {
			t.Fatalf("temperature 0.7, call %d: cache %q", i, r.header[headerCache])
		}
	}
	on := []string{headerCache, "on", headerCacheTTL, "10m"}
	if r := g.post(t, "/v1/chat/completions", warm, on...); r.header[headerCache] != "miss" {
		t.Fatalf("on: cache %q", r.header[headerCache])
	}
	if r := g.post(t, "/v1/chat/completions", warm, on...); r.header[headerCache] != "hit" {
		t.Fatalf("on again: cache %q", r.header[headerCache])
	}
	calls := g.Mock.Requests()
	if r := g.post(t, "/v1/chat/completions", warm, headerCache, "refresh"); r.header[headerCache] != "miss" || g.Mock.Requests() != calls+1 {
		t.Fatalf("refresh: cache %q, provider calls %d -> %d", r.header[headerCache], calls, g.Mock.Requests())
	}
	if r := g.post(t, "/v1/chat/completions", warm, headerCache, "off"); r.header[headerCache] != "" || g.Mock.Requests() != calls+2 {
		t.Fatalf("off: cache %q", r.header[headerCache])
	}
	// A stream's answer is gathered and stored.
	streamed := `{"model":"anth/claude-mock","temperature":0,"stream":true,` + question + `}`
	if r := g.post(t, "/v1/messages", streamed, anthropicHeaders(testKey)...); r.header[headerCache] != "miss" || !strings.Contains(r.body, "message_stop") {
		t.Fatalf("streamed miss: %q\n%s", r.header[headerCache], r.body)
	}
	r := g.post(t, "/v1/messages", strings.Replace(streamed, `"stream":true,`, "", 1), anthropicHeaders(testKey)...)
	if r.header[headerCache] != "hit" || !strings.Contains(r.body, `"type":"message"`) || !strings.Contains(r.body, "chunk 7") {
		t.Fatalf("after a streamed miss: %q\n%s", r.header[headerCache], r.body)
	}
	if r := g.post(t, "/v1/chat/completions", warm, headerCache, "on", headerCacheTTL, "forever"); r.status != 400 || !strings.Contains(r.body, headerCacheTTL) {
		t.Fatalf("bad ttl: status %d: %s", r.status, r.body)
	}
}

// contentOf returns a chat completion's message content.
func contentOf(t *testing.T, body string) string {
	t.Helper()
	var r struct {
		Choices []struct {
			Message struct{ Content string }
		}
	}
	if err := sonic.UnmarshalString(body, &r); err != nil || len(r.Choices) != 1 || r.Choices[0].Message.Content == "" {
		t.Fatalf("not a chat completion (%v): %s", err, body)
	}
	return r.Choices[0].Message.Content
}

// streamedText joins the content deltas of an OpenAI stream.
func streamedText(body string) string {
	var b strings.Builder
	for _, data := range sseEvents(body) {
		var ch struct {
			Choices []struct {
				Delta struct{ Content string }
			}
		}
		if sonic.UnmarshalString(data, &ch) == nil {
			for _, c := range ch.Choices {
				b.WriteString(c.Delta.Content)
			}
		}
	}
	return b.String()
}

// TestEmbeddingsAreCached: embeddings are deterministic; with the cache
// on, the same input is answered from the store, byte for byte but for
// its $0 cost.
func TestEmbeddingsAreCached(t *testing.T) {
	g := startCachingGateway(t)
	body := `{"model":"mock-model","input":["a gateway","a cache"]}`
	first := g.post(t, "/v1/embeddings", body)
	calls := g.Mock.Requests()
	second := g.post(t, "/v1/embeddings", body)
	if first.status != 200 || first.header[headerCache] != "miss" || second.header[headerCache] != "hit" || g.Mock.Requests() != calls {
		t.Fatalf("cache %q then %q, provider calls %d -> %d: %s", first.header[headerCache], second.header[headerCache], calls, g.Mock.Requests(), second.body)
	}
	strip := func(s string) string { return s[strings.Index(s, `"data"`):strings.Index(s, `"usage"`)] }
	if strip(first.body) != strip(second.body) || reportedCost(t, second.body) != 0 {
		t.Fatalf("hit differs:\n%s\n%s", first.body, second.body)
	}
	if e := entryOf(t, g, second); !e.CacheHit || e.Cost != 0 || e.InputTokens == 0 {
		t.Fatalf("hit entry %+v", e)
	}
	if r := g.post(t, "/v1/embeddings", `{"model":"mock-model","input":["something else"]}`); r.header[headerCache] != "miss" {
		t.Fatalf("other input: cache %q", r.header[headerCache])
	}
}
