package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bytedance/sonic/ast"
)

// TestCacheEdits: the breakpoints land on the last tool, the end of the
// system prompt and the last message's last block, whatever their shape,
// and the edited body is valid JSON with nothing else changed.
func TestCacheEdits(t *testing.T) {
	const m = `,"cache_control":{"type":"ephemeral"}`
	for _, c := range []struct{ name, in, want string }{
		{"strings",
			`{"model":"x","system":"Be brief.","tools":[{"name":"a"},{"name":"b"}],"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"x","system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"tools":[{"name":"a"},{"name":"b","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}`},
		{"blocks",
			`{"system":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"}]}]}`,
			`{"system":[{"type":"text","text":"a"},{"type":"text","text":"b","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r","cache_control":{"type":"ephemeral"}}]}]}`},
		{"thinking last, empty tools and no system",
			`{"tools":[],"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"x","signature":"s"}]}]}`,
			`{"tools":[],"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"x","signature":"s"}]}]}`},
		{"escaped string", `{"messages":[{"role":"user","content":"say \"hi\"\n"}]}`,
			`{"messages":[{"role":"user","content":[{"type":"text","text":"say \"hi\"\n","cache_control":{"type":"ephemeral"}}]}]}`},
	} {
		var n ast.Node
		es, err := cacheEdits(nil, []byte(c.in), m, &n)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sortEdits(es)
		got := string(appendEdited(nil, []byte(c.in), es...))
		if got != c.want || !json.Valid([]byte(got)) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// longPrompt is a conversation over the 1024-token minimum.
var longPrompt = strings.Repeat("The gateway caches the stable prefix of long prompts. ", 80)

// TestAutomaticPromptCaching: a long Anthropic request without
// cache_control reaches an Anthropic provider with three breakpoints,
// passed through or translated from chat completions; a client's own
// markers, a short prompt or the off header leave it alone.
func TestAutomaticPromptCaching(t *testing.T) {
	g := startFourFormatGateway(t)
	msgs := `{"model":"anth/claude-mock","max_tokens":100,"system":"` + longPrompt + `","tools":[{"name":"f","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Hello"}]}`
	for _, c := range []struct {
		name, path, body string
		headers          []string
		marks            int
	}{
		{"messages", "/v1/messages", msgs, anthropicHeaders(testKey), 3},
		{"chat translated", "/v1/chat/completions", `{"model":"anth/claude-mock","max_tokens":100,"messages":[{"role":"system","content":"` + longPrompt + `"},{"role":"user","content":"Hello"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`, nil, 3},
		{"client's own markers", "/v1/messages", strings.Replace(msgs, `"input_schema":{"type":"object"}`, `"input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}`, 1), anthropicHeaders(testKey), 1},
		{"off", "/v1/messages", msgs, append(anthropicHeaders(testKey), headerPromptCache, "off"), 0},
		{"short", "/v1/messages", messagesBody("anth/claude-mock", ""), anthropicHeaders(testKey), 0},
	} {
		r := g.post(t, c.path, c.body, c.headers...)
		up := g.Mock.LastRequest()
		if r.status != 200 || strings.Count(string(up.Body), `"cache_control"`) != c.marks || !json.Valid(up.Body) {
			t.Errorf("%s: status %d, %d markers upstream, want %d:\n%s", c.name, r.status, strings.Count(string(up.Body), `"cache_control"`), c.marks, up.Body)
		}
		if auto := r.header[headerPromptCache] == "auto"; auto != (c.marks == 3) {
			t.Errorf("%s: %s header %q", c.name, headerPromptCache, r.header[headerPromptCache])
		}
	}
}
