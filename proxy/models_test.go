package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"switchboard/bench/mock"
	"switchboard/store/money"
)

// modelsCatalog is the catalog of the model-list tests, so that their
// figures do not move with the embedded catalog.
const modelsCatalog = `
providers:
  anthropic:
    models:
      - {id: claude-sonnet-4-5, context: 200000, max_output: 64000, input: "3.00", output: "15.00", cache_read: "0.30", cache_write: "3.75", modalities: [text, image]}
  openai:
    models:
      - {id: gpt-5, context: 400000, max_output: 128000, input: "1.25", output: "10.00", cache_read: "0.125", modalities: [text, image, file]}
      - {id: text-embedding-3-small, context: 8191, input: "0.02", output: "0"}
  gemini:
    models:
      - {id: gemini-2.5-pro, context: 1048576, max_output: 65536, input: "1.25", output: "10.00"}
`

// startModelsGateway serves claude-* by pattern, two OpenAI ids and a
// Gemini id, and a route over a 400k and a 200k model.
func startModelsGateway(t *testing.T) *gateway {
	t.Helper()
	m := startMock(t, mock.Options{})
	return startGatewayCatalog(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
billing:
  prices:
    openai/priced-only: {input: "1", output: "2"}
routes:
  - {model: mixed, targets: [openai/gpt-5, anthropic/claude-sonnet-4-5]}
providers:
  - {name: anthropic, format: anthropic, base_url: %[3]s/v1, api_key: a, models: [claude-*]}
  - {name: openai, base_url: %[3]s/v1, api_key: o, models: [gpt-5, text-embedding-3-small, priced-only]}
  - {name: gemini, format: gemini, base_url: %[3]s/v1beta, api_key: g, models: [gemini-2.5-pro]}
`, t.TempDir(), testKey, m.URL()), []byte(modelsCatalog))
}

// TestModelListShapes: each caller gets the list in its own API's shape,
// with the route's effective limits and the catalog's prices.
func TestModelListShapes(t *testing.T) {
	g := startModelsGateway(t)
	const chatParams = `"max_tokens","temperature","top_p","stop","tools","tool_choice","parallel_tool_calls","response_format","reasoning"`
	for _, c := range []struct {
		name    string
		path    string
		headers []string
		status  int
		want    []string // substrings, in order
		not     []string
	}{
		{name: "openai list", path: "/v1/models", status: 200, want: []string{
			`{"object":"list","data":[`,
			`{"id":"claude-sonnet-4-5","object":"model","created":0,"owned_by":"anthropic","context_length":200000,"max_completion_tokens":64000,` +
				`"pricing":{"prompt":"0.000003","completion":"0.000015","input_cache_read":"0.0000003","input_cache_write":"0.00000375"},` +
				`"architecture":{"input_modalities":["text","image"],"output_modalities":["text"]},"supported_parameters":[` + chatParams + `,"top_k"]}`,
			`{"id":"gpt-5","object":"model","created":0,"owned_by":"openai","context_length":400000,"max_completion_tokens":128000,` +
				`"pricing":{"prompt":"0.00000125","completion":"0.00001","input_cache_read":"0.000000125","input_cache_write":"0"},`,
			`"supported_parameters":[` + chatParams + `,"seed",`,
			// An embedding model has no output cap and takes no chat parameters.
			`{"id":"text-embedding-3-small","object":"model","created":0,"owned_by":"openai","context_length":8191,"pricing":{"prompt":"0.00000002","completion":"0",`,
			`"output_modalities":["text"]}}`,
			`{"id":"priced-only","object":"model","created":0,"owned_by":"openai","pricing":{"prompt":"0.000001","completion":"0.000002",`,
			`"supported_parameters":[`,
			`{"id":"gemini-2.5-pro","object":"model","created":0,"owned_by":"gemini","context_length":1048576,"max_completion_tokens":65536,`,
			// The route's window is its smaller target's; its price the first's.
			`{"id":"mixed","object":"model","created":0,"owned_by":"openai","context_length":200000,"max_completion_tokens":64000,"pricing":{"prompt":"0.00000125",`,
			`]}`,
		}},
		{name: "openai one", path: "/v1/models/mixed", status: 200, want: []string{`{"id":"mixed","object":"model",`, `"context_length":200000,`}, not: []string{`"data"`}},
		{name: "anthropic list", path: "/v1/models?limit=1000", headers: []string{"anthropic-version", "2023-06-01"}, status: 200, want: []string{
			`{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"claude-sonnet-4-5","created_at":"1970-01-01T00:00:00Z","max_input_tokens":200000,"max_tokens":64000},`,
			`{"type":"model","id":"gpt-5","display_name":"gpt-5","created_at":"1970-01-01T00:00:00Z","max_input_tokens":400000,"max_tokens":128000},`,
			// A model a price override added is a chat model of unknown limits.
			`{"type":"model","id":"priced-only","display_name":"priced-only","created_at":"1970-01-01T00:00:00Z"},`,
			`{"type":"model","id":"gemini-2.5-pro",`,
			`{"type":"model","id":"mixed","display_name":"mixed","created_at":"1970-01-01T00:00:00Z","max_input_tokens":200000,"max_tokens":64000}]`,
			`,"has_more":false,"first_id":"claude-sonnet-4-5","last_id":"mixed"}`,
		}, not: []string{"text-embedding", "pricing"}},
		{name: "anthropic one", path: "/v1/models/claude-sonnet-4-5", headers: []string{"anthropic-version", "2023-06-01"}, status: 200,
			want: []string{`{"type":"model","id":"claude-sonnet-4-5","display_name":"claude-sonnet-4-5","created_at":"1970-01-01T00:00:00Z","max_input_tokens":200000,"max_tokens":64000}`}},
		{name: "anthropic unknown", path: "/v1/models/nope", headers: []string{"anthropic-version", "2023-06-01"}, status: 404,
			want: []string{`{"type":"error","error":{"type":"not_found_error",`}},
		{name: "gemini list", path: "/v1beta/models", headers: []string{"Authorization", "", "x-goog-api-key", testKey}, status: 200, want: []string{
			`{"models":[{"name":"models/claude-sonnet-4-5","baseModelId":"claude-sonnet-4-5","displayName":"claude-sonnet-4-5","inputTokenLimit":200000,"outputTokenLimit":64000,` +
				`"supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]},`,
			`{"name":"models/gemini-2.5-pro","baseModelId":"gemini-2.5-pro","displayName":"gemini-2.5-pro","inputTokenLimit":1048576,"outputTokenLimit":65536,`,
			`{"name":"models/mixed",`,
			`]}`,
		}, not: []string{"text-embedding"}},
		{name: "gemini one, key in query", path: "/v1beta/models/gemini-2.5-pro?key=" + testKey, headers: []string{"Authorization", ""}, status: 200,
			want: []string{`{"name":"models/gemini-2.5-pro","baseModelId":"gemini-2.5-pro",`}},
		{name: "gemini on v1", path: "/v1/models", headers: []string{"Authorization", "", "x-goog-api-key", testKey}, status: 200,
			want: []string{`{"models":[{"name":"models/claude-sonnet-4-5",`}},
		{name: "gemini on v1, key in query", path: "/v1/models/gemini-2.5-pro?key=" + testKey, headers: []string{"Authorization", ""}, status: 200,
			want: []string{`{"name":"models/gemini-2.5-pro",`}},
		{name: "gemini unknown", path: "/v1beta/models/nope", status: 404, want: []string{`{"error":{"code":404,`, `"status":"NOT_FOUND"`}},
		{name: "gemini without key", path: "/v1beta/models", headers: []string{"Authorization", ""}, status: 401, want: []string{`{"error":{"code":401,`}},
		{name: "anthropic without key", path: "/v1/models", headers: []string{"Authorization", "", "anthropic-version", "2023-06-01"}, status: 401,
			want: []string{`{"type":"error","error":{"type":"authentication_error",`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := g.do(t, "GET", c.path, "", c.headers...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if !json.Valid([]byte(r.body)) {
				t.Fatalf("not JSON: %s", r.body)
			}
			rest := r.body
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("answer lacks, in order,\n%s\nin\n%s", w, r.body)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range c.not {
				if strings.Contains(r.body, n) {
					t.Errorf("answer has %q: %s", n, r.body)
				}
			}
		})
	}
	// A Gemini model's calls are POSTs and still reach the model.
	r := g.post(t, "/v1beta/models/gemini-2.5-pro:generateContent", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
		"Authorization", "", "x-goog-api-key", testKey)
	if r.status != 200 {
		t.Fatalf("generateContent after the model routes: %d %s", r.status, r.body)
	}
}

// TestAppendPerToken: a price per million tokens in nano-dollars becomes
// OpenRouter's exact decimal dollars per token.
func TestAppendPerToken(t *testing.T) {
	f := func(perMillion money.Money, want string) {
		t.Helper()
		if got := string(appendPerToken(nil, perMillion)); got != `"`+want+`"` {
			t.Errorf("appendPerToken(%d) = %s, want %q", perMillion, got, want)
		}
	}
	f(0, "0")
	f(3*money.Dollar, "0.000003")
	f(money.Dollar/8, "0.000000125")
	f(1, "0.000000000000001") // one nano-dollar per million tokens
	f(15*money.Dollar/100, "0.00000015")
	f(2_000_000*money.Dollar, "2")
	f(2_500_000*money.Dollar+1, "2.500000000000001")
}
