package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bytedance/sonic"

	"switchboard/bench/mock"
	"switchboard/store/money"
	"switchboard/upstream"
	"switchboard/upstream/canon"
)

// startFourFormatGateway runs a gateway with one mock provider per wire
// format: "mock" (OpenAI chat), "anth" (Anthropic), "resp" (OpenAI
// Responses) and "gem" (Gemini), each model priced at $1/M in, $2/M out.
func startFourFormatGateway(t *testing.T) *gateway {
	t.Helper()
	m := startMock(t, mock.Options{})
	var prices strings.Builder
	for _, pm := range []string{"mock/mock-model", "anth/claude-mock", "resp/resp-model", "gem/gem-model"} {
		for _, d := range []string{"", "+tools=2"} {
			fmt.Fprintf(&prices, "    %s%s: {input: \"1\", output: \"2\"}\n", pm, d)
		}
	}
	return startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
billing:
  prices:
%sproviders:
  - {name: mock, base_url: %[4]s/v1, api_key: sk-upstream-secret, models: [mock-model]}
  - {name: anth, format: anthropic, base_url: %[4]s/v1, api_key: sk-ant-upstream, models: [claude-mock]}
  - {name: resp, format: responses, base_url: %[4]s/v1, api_key: sk-resp-upstream, models: [resp-model]}
  - {name: gem, format: gemini, base_url: %[4]s/v1beta, api_key: gem-upstream-key, models: [gem-model]}
`, t.TempDir(), testKey, prices.String(), m.URL()))
}

// clientFormat is one client API of the matrix: how to ask it for model
// with or without tools, streamed or not.
type clientFormat struct {
	name    string
	format  upstream.Format
	request func(model string, tools, stream bool) (path, body string)
}

var clientFormats = []clientFormat{
	{"chat", upstream.FormatOpenAI, func(model string, tools, stream bool) (string, string) {
		body := `{"model":"` + model + `","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]`
		if tools {
			body += `,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`
		}
		if stream {
			body += `,"stream":true,"stream_options":{"include_usage":true}`
		}
		return "/v1/chat/completions", body + "}"
	}},
	{"messages", upstream.FormatAnthropic, func(model string, tools, stream bool) (string, string) {
		extra := ""
		if tools {
			extra += `,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]`
		}
		if stream {
			extra += `,"stream":true`
		}
		return "/v1/messages", messagesBody(model, extra)
	}},
	{"responses", upstream.FormatResponses, func(model string, tools, stream bool) (string, string) {
		body := `{"model":"` + model + `","max_output_tokens":100,"input":"Hello"`
		if tools {
			body += `,"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]`
		}
		if stream {
			body += `,"stream":true`
		}
		return "/v1/responses", body + "}"
	}},
	{"gemini", upstream.FormatGemini, func(model string, tools, stream bool) (string, string) {
		body := `{"contents":[{"role":"user","parts":[{"text":"Hello"}]}],"generationConfig":{"maxOutputTokens":100}`
		if tools {
			body += `,"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"object"}}]}]`
		}
		path := "/v1beta/models/" + model + ":generateContent"
		if stream {
			path = "/v1beta/models/" + model + ":streamGenerateContent?alt=sse"
		}
		return path, body + "}"
	}},
}

// providerModels are the matrix's targets, one per wire format, with the
// path each is called on.
var providerModels = []struct {
	model string
	paths [2]string // not streamed, streamed
}{
	{"mock/mock-model", [2]string{"/v1/chat/completions", "/v1/chat/completions"}},
	{"anth/claude-mock", [2]string{"/v1/messages", "/v1/messages"}},
	{"resp/resp-model", [2]string{"/v1/responses", "/v1/responses"}},
	{"gem/gem-model", [2]string{"/v1beta/models/gem-model:generateContent", "/v1beta/models/gem-model:streamGenerateContent"}},
}

// decodeAnswer reads a client's answer with the codec of its format: a
// whole answer, or a stream through the format's stream decoder,
// gathered into the same shape.
func decodeAnswer(t *testing.T, f upstream.Format, stream bool, body string) canon.Response {
	t.Helper()
	var r canon.Response
	row := formatOf(f)
	if !stream {
		if err := row.decodeResponse([]byte(body), &r); err != nil {
			t.Fatalf("the answer is not a valid %s answer: %v\n%s", row.name, err, body)
		}
		return r
	}
	var tr translation
	dec := tr.decoder(row)
	var events []canon.Event
	rest := []byte(body)
	for len(rest) > 0 {
		k := nextEvent(rest)
		if k == 0 {
			k = len(rest)
		}
		data := eventData(rest[:k])
		rest = rest[k:]
		if data == nil || string(data) == "[DONE]" {
			continue
		}
		var err error
		if events, err = dec.Decode(events, data); err != nil {
			t.Fatalf("the stream is not a valid %s stream: %v\n%s", row.name, err, body)
		}
	}
	events, err := dec.End(events)
	if err != nil {
		t.Fatalf("the stream ends badly: %v\n%s", err, body)
	}
	blocks := map[int]*canon.Block{}
	var order []int
	for _, ev := range events {
		switch ev.Type {
		case canon.EventBlockStart:
			// Event strings may point into the decoder's buffers: copy.
			blocks[ev.Index] = &canon.Block{Kind: ev.Kind, ID: strings.Clone(ev.ID), Name: strings.Clone(ev.Name)}
			order = append(order, ev.Index)
		case canon.EventTextDelta, canon.EventThinkingDelta:
			blocks[ev.Index].Text += ev.Text
		case canon.EventToolArgsDelta:
			blocks[ev.Index].Input += ev.Text
		case canon.EventMessageDelta:
			r.StopReason, r.Usage = ev.StopReason, ev.Usage
		case canon.EventError:
			t.Fatalf("the stream reports an error: %s\n%s", ev.Error.Message, body)
		}
	}
	for _, i := range order {
		r.Content = append(r.Content, *blocks[i])
	}
	return r
}

// TestEveryClientFormatReachesEveryProviderFormat drives each client API
// (chat completions, Messages, Responses, Gemini) against a provider of
// each wire format, streamed and not, with and without tools: the answer
// is valid in the client's format, holds the mock's text or its two tool
// calls with whole arguments, reports the cost, and the ledger agrees.
func TestEveryClientFormatReachesEveryProviderFormat(t *testing.T) {
	g := startFourFormatGateway(t)
	secret := billingTestKey(t, g, "team", money.Dollar, nil)
	for _, cf := range clientFormats {
		for _, pm := range providerModels {
			for _, stream := range []bool{false, true} {
				for _, tools := range []bool{false, true} {
					name := fmt.Sprintf("%s->%s/stream=%v/tools=%v", cf.name, pm.model, stream, tools)
					t.Run(name, func(t *testing.T) {
						model := pm.model
						if tools {
							model += "+tools=2"
						}
						path, body := cf.request(model, tools, stream)
						headers := []string{"Authorization", "Bearer " + secret}
						if cf.format == upstream.FormatGemini {
							headers = []string{"Authorization", "", "x-goog-api-key", secret}
						}
						r := g.post(t, path, body, headers...)
						if r.status != 200 {
							t.Fatalf("status %d: %s", r.status, r.body)
						}
						ans := decodeAnswer(t, cf.format, stream, r.body)
						checkAnswer(t, ans, tools, r.body)
						up := g.Mock.LastRequest()
						want := pm.paths[b2i(stream)]
						if tools {
							want = strings.Replace(want, ":", "+tools=2:", 1)
						}
						if up.Path != want {
							t.Fatalf("upstream path %s, want %s", up.Path, want)
						}
						cost := money.Money(ans.Usage.Prompt()*1000 + ans.Usage.Output*2000)
						if got := reportedCost(t, r.body); got != cost || cost == 0 {
							t.Fatalf("reported cost %s, want %s (usage %+v):\n%s", got, cost, ans.Usage, r.body)
						}
						if e := entryOf(t, g, r); e.Cost != cost || e.Settled != "" {
							t.Fatalf("entry %+v, want cost %s", e, cost)
						}
					})
				}
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkAnswer asserts the mock's answer came through: text that starts
// "chunk 0", or its get_weather call (sent in two argument chunks) with
// the whole arguments, and the matching stop reason.
func checkAnswer(t *testing.T, r canon.Response, tools bool, raw string) {
	t.Helper()
	var text strings.Builder
	var calls []canon.Block
	for _, b := range r.Content {
		switch b.Kind {
		case canon.BlockText:
			text.WriteString(b.Text)
		case canon.BlockToolUse:
			calls = append(calls, b)
		}
	}
	if !tools {
		if !strings.HasPrefix(text.String(), "chunk 0") || r.StopReason != canon.StopEndTurn {
			t.Fatalf("text %q, stop %q:\n%s", text.String(), r.StopReason, raw)
		}
		return
	}
	if len(calls) != 1 || r.StopReason != canon.StopToolUse {
		t.Fatalf("%d tool calls, stop %q:\n%s", len(calls), r.StopReason, raw)
	}
	var args map[string]string
	c := calls[0]
	if err := sonic.UnmarshalString(c.Input, &args); err != nil || c.Name != "get_weather" || c.ID == "" ||
		args["location"] != "Paris, France" || args["unit"] != "celsius" {
		t.Fatalf("tool call %+v (%v):\n%s", c, err, raw)
	}
}

func geminiHeaders(key string) []string {
	return []string{"Authorization", "", "x-goog-api-key", key}
}

const geminiBody = `{"contents":[{"role":"user","parts":[{"text":"Hello there, how are you today?"}]}]}`

// TestGeminiKeysAndErrors: a Gemini client's key is taken from
// x-goog-api-key or ?key= (never sent upstream), and errors come in
// Google's shape.
func TestGeminiKeysAndErrors(t *testing.T) {
	g := startFourFormatGateway(t)
	for _, c := range []struct {
		name, path string
		headers    []string
		status     int
		google     string
	}{
		{"header key", "/v1beta/models/gem/gem-model:generateContent", geminiHeaders(testKey), 200, ""},
		{"query key", "/v1beta/models/gem/gem-model:generateContent?key=" + testKey, geminiHeaders(""), 200, ""},
		{"v1 path", "/v1/models/gem/gem-model:generateContent", geminiHeaders(testKey), 200, ""},
		{"bad key", "/v1beta/models/gem-model:generateContent?key=sk-sb-wrong", geminiHeaders(""), 401, "UNAUTHENTICATED"},
		{"unknown model", "/v1beta/models/nope:generateContent", geminiHeaders(testKey), 404, "NOT_FOUND"},
		{"provider error", "/v1beta/models/gem/gem-model+status=429:generateContent", geminiHeaders(testKey), 429, "RESOURCE_EXHAUSTED"},
		{"translated provider error", "/v1beta/models/mock/mock-model+status=400:generateContent", geminiHeaders(testKey), 400, "INVALID_ARGUMENT"},
	} {
		r := g.post(t, c.path, geminiBody, c.headers...)
		if r.status != c.status || c.google != "" && !strings.Contains(r.body, `"status":"`+c.google+`"`) {
			t.Errorf("%s: status %d: %s; want %d %s", c.name, r.status, r.body, c.status, c.google)
		}
		if c.status == 200 {
			up := g.Mock.LastRequest()
			if up.Headers["x-goog-api-key"] != "gem-upstream-key" || strings.Contains(up.Query, "key=") {
				t.Errorf("%s: upstream key header %q, query %q", c.name, up.Headers["x-goog-api-key"], up.Query)
			}
		}
	}
}

// TestGeminiCountTokens: countTokens goes to a Gemini provider, and is
// counted locally for a model none serves; neither is billed.
func TestGeminiCountTokens(t *testing.T) {
	g := startFourFormatGateway(t)
	r := g.post(t, "/v1beta/models/gem/gem-model:countTokens", geminiBody, geminiHeaders(testKey)...)
	if r.status != 200 || r.header[headerTokenCount] != "provider" || !strings.Contains(r.body, `"totalTokens":`) {
		t.Fatalf("provider count: status %d %q: %s", r.status, r.header[headerTokenCount], r.body)
	}
	if up := g.Mock.LastRequest(); up.Path != "/v1beta/models/gem-model:countTokens" {
		t.Fatalf("upstream path %s", up.Path)
	}
	for _, body := range []string{geminiBody, `{"generateContentRequest":` + geminiBody + `}`} {
		r = g.post(t, "/v1beta/models/mock/mock-model:countTokens", body, geminiHeaders(testKey)...)
		// "Hello there, how are you today?" is 8 tokens in o200k_base, plus 3 for the turn.
		if r.status != 200 || r.header[headerTokenCount] != "local-o200k" || r.body != `{"totalTokens":11}` {
			t.Fatalf("local count of %s: status %d %q: %s", body, r.status, r.header[headerTokenCount], r.body)
		}
	}
	if err := g.srv.store.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.srv.store.Entry(r.header["x-request-id"]); err == nil {
		t.Fatal("counting tokens left a ledger entry")
	}
}

// TestResponsesPassThroughKeepsTheBody: a Responses client on a
// Responses provider is byte pass-through but for the model, so
// reasoning.encrypted_content and every item reach the provider intact.
func TestResponsesPassThroughKeepsTheBody(t *testing.T) {
	g := startFourFormatGateway(t)
	body := `{"model":"resp/resp-model","store":false,"include":["reasoning.encrypted_content"],"input":[` +
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"Hi"}]},` +
		`{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAAAB+opaque/=="},` +
		`{"type":"custom_tool_call","call_id":"c1","name":"apply_patch","input":"*** Begin Patch"}],` +
		`"tools":[{"type":"custom","name":"apply_patch"}],"stream":true}`
	r := g.post(t, "/v1/responses", body)
	if r.status != 200 || !strings.Contains(r.body, "event: response.completed") || !strings.Contains(r.body, `"cost":`) {
		t.Fatalf("status %d:\n%s", r.status, r.body)
	}
	up := g.Mock.LastRequest()
	if want := strings.Replace(body, "resp/resp-model", "resp-model", 1); string(up.Body) != want {
		t.Fatalf("upstream body\n%s\nwant\n%s", up.Body, want)
	}
	if e := entryOf(t, g, r); e.InputTokens == 0 || e.OutputTokens == 0 || e.Settled != "" {
		t.Fatalf("entry %+v", e)
	}
}

// TestMidStreamFailureInEveryFormat: a provider that resets the
// connection after two chunks ends each client's stream with an error
// event in the client's own format, pass-through or translated.
func TestMidStreamFailureInEveryFormat(t *testing.T) {
	g := startFourFormatGateway(t)
	wants := map[upstream.Format]string{
		upstream.FormatOpenAI:    `data: {"error":{`,
		upstream.FormatAnthropic: "event: error\ndata: {\"type\":\"error\",\"error\":{",
		upstream.FormatResponses: "", // response.failed or an error event, see below
		upstream.FormatGemini:    `data: {"error":{"code":`,
	}
	for _, cf := range clientFormats {
		for _, pm := range providerModels {
			path, body := cf.request(pm.model+"+reset=2", false, true)
			headers := []string{}
			if cf.format == upstream.FormatGemini {
				headers = geminiHeaders(testKey)
			}
			r := g.post(t, path, body, headers...)
			want := wants[cf.format]
			ok := r.status == 200 && strings.Contains(r.body, want)
			if cf.format == upstream.FormatResponses {
				ok = r.status == 200 && (strings.Contains(r.body, "event: response.failed") || strings.Contains(r.body, "event: error\ndata: {\"type\":\"error\""))
			}
			if !ok || strings.Contains(r.body, "message_stop") || strings.Contains(r.body, "response.completed") || strings.Contains(r.body, "[DONE]") {
				t.Errorf("%s -> %s: status %d:\n%s", cf.name, pm.model, r.status, r.body)
			}
		}
	}
}

// TestCodingAgentRequestsTranslate: the shapes Claude Code and Codex CLI
// send reach a provider of another format, and the response header names
// what was left out.
func TestCodingAgentRequestsTranslate(t *testing.T) {
	g := startFourFormatGateway(t)
	codex := `{"model":"anth/claude-mock","store":false,"stream":true,"include":["reasoning.encrypted_content"],` +
		`"client_metadata":{"session_id":"s"},"prompt_cache_key":"k","reasoning":{"summary":"auto"},"parallel_tool_calls":true,"tool_choice":"auto",` +
		`"input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"You are Codex."}]},` +
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"say hi"}]}],` +
		`"tools":[{"type":"function","name":"exec_command","strict":false,"parameters":{"type":"object"}},` +
		`{"type":"namespace","name":"multi_agent_v1","description":"d","tools":[{"type":"function","name":"spawn_agent","parameters":{"type":"object"}}]},` +
		`{"type":"web_search","external_web_access":false}]}`
	r := g.post(t, "/v1/responses", codex)
	if r.status != 200 || !strings.Contains(r.body, "event: response.completed") ||
		r.header[headerIgnored] != "store, client_metadata, prompt_cache_key, reasoning.summary, tools[1] (namespace), tools[2] (web_search)" {
		t.Fatalf("codex: status %d, ignored %q:\n%s", r.status, r.header[headerIgnored], r.body)
	}
	if up := g.Mock.LastRequest(); !strings.Contains(string(up.Body), `"name":"exec_command"`) || strings.Contains(string(up.Body), "spawn_agent") {
		t.Fatalf("codex upstream body %s", up.Body)
	}
	claude := `{"model":"mock/mock-model","max_tokens":128000,"stream":true,"thinking":{"type":"adaptive","display":"omitted"},` +
		`"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},"output_config":{"effort":"medium"},` +
		`"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],` +
		`"messages":[{"role":"user","content":"say hi"},{"role":"system","content":[{"type":"text","text":"# Env"}],"output_config":{"effort":"medium"}}],` +
		`"tools":[{"name":"Bash","input_schema":{"type":"object"}},{"name":"WebFetch","input_schema":{"type":"object"},"defer_loading":true}]}`
	r = g.post(t, "/v1/messages?beta=true", claude, anthropicHeaders(testKey)...)
	if r.status != 200 || !strings.Contains(r.body, "event: message_stop") ||
		r.header[headerIgnored] != "context_management, messages[].output_config, tools[].defer_loading, thinking.display" {
		t.Fatalf("claude code: status %d, ignored %q:\n%s", r.status, r.header[headerIgnored], r.body)
	}
}

// TestResponsesCompactGoesToResponsesProviders: Codex's remote compaction
// (/v1/responses/compact) passes through to a Responses-format provider
// with its answer, and is refused, in OpenAI's shape, for a model only
// other formats serve.
func TestResponsesCompactGoesToResponsesProviders(t *testing.T) {
	g := startFourFormatGateway(t)
	body := `{"model":"resp/resp-model","input":[{"role":"user","content":"hi"}]}`
	r := g.post(t, "/v1/responses/compact", body)
	up := g.Mock.LastRequest()
	// The mock has no compaction: its 404 comes back as it answered.
	if up.Path != "/v1/responses/compact" || string(up.Body) != strings.Replace(body, "resp/", "", 1) ||
		r.status != 404 || r.header[headerProvider] != "resp" {
		t.Fatalf("upstream %s %s; client got %d from %q: %s", up.Path, up.Body, r.status, r.header[headerProvider], r.body)
	}
	r = g.post(t, "/v1/responses/compact", `{"model":"anth/claude-mock","input":"hi"}`)
	if r.status < 400 || r.status >= 500 || !strings.Contains(r.body, `"error":{`) || !strings.Contains(r.body, "OpenAI Responses") {
		t.Fatalf("compact on an Anthropic model: status %d: %s", r.status, r.body)
	}
}

// TestGeminiCLIRequestOnClaude: Gemini CLI's temperature 0 with dynamic
// thinking reaches Claude without the temperature Anthropic would refuse
// with thinking on, and the header says so.
func TestGeminiCLIRequestOnClaude(t *testing.T) {
	g := startFourFormatGateway(t)
	body := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"You are Gemini CLI."}]},` +
		`"generationConfig":{"temperature":0,"topP":1,"thinkingConfig":{"includeThoughts":true,"thinkingBudget":-1}}}`
	r := g.post(t, "/v1beta/models/anth/claude-mock:streamGenerateContent?alt=sse", body, geminiHeaders(testKey)...)
	up := string(g.Mock.LastRequest().Body)
	if r.status != 200 || !strings.Contains(r.body, `"finishReason":"STOP"`) || strings.Contains(up, "temperature") ||
		!strings.Contains(up, `"thinking":{"type":"adaptive"}`) || !strings.Contains(r.header[headerIgnored], "temperature (with thinking)") {
		t.Fatalf("status %d, ignored %q\nupstream %s\n%s", r.status, r.header[headerIgnored], up, r.body)
	}
}
