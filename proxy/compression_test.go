package proxy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/bytedance/sonic"

	"switchboard/bench/mock"
)

// agentConversation is a coding-agent conversation that reads the same
// file twice and gets a pretty-printed JSON tool result: what the
// lossless stages remove.
func agentConversation(model, extra string) string {
	file := strings.Repeat(`func handler(w http.ResponseWriter, r *http.Request) {\n\tfmt.Fprintln(w, \"hello\")\n}\n`, 40)
	pkg := `{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n    \"left-pad\": \"1.3.0\"\n  }\n}`
	call := func(id, name string) string {
		return `{"role":"assistant","content":null,"tool_calls":[{"id":"` + id + `","type":"function","function":{"name":"` + name + `","arguments":"{}"}}]}`
	}
	result := func(id, content string) string {
		return `{"role":"tool","tool_call_id":"` + id + `","content":"` + content + `"}`
	}
	return `{"model":"` + model + `"` + extra + `,"messages":[{"role":"system","content":"You are a coding agent."},` +
		`{"role":"user","content":"Fix the handler."},` + call("c1", "read_file") + `,` + result("c1", file) + `,` +
		call("c2", "read_package") + `,` + result("c2", pkg) + `,` + call("c3", "read_file") + `,` + result("c3", file) + `,` +
		`{"role":"user","content":"Go on."}],"tools":[{"type":"function","function":{"name":"read_file","parameters":{"type":"object"}}},` +
		`{"type":"function","function":{"name":"read_package","parameters":{"type":"object"}}}]}`
}

// TestCompression: the header, the body's compression field and the
// transforms form turn compression on; the provider gets the deduplicated,
// minified conversation with every call still answered; the answer's
// headers and the ledger say how many tokens it saved.
func TestCompression(t *testing.T) {
	m := startMock(t, mock.Options{})
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}, {name: squeezed, key: sk-sb-squeezed-key-0000, compression: {stages: lossless}}]}
billing: {prices: {mock/mock-model: {input: "1", output: "2"}}}
providers:
  - {name: mock, base_url: %[3]s/v1, api_key: k, models: [mock-model]}
  - {name: anth, format: anthropic, base_url: %[3]s/v1, api_key: k, models: [claude-mock]}
`, t.TempDir(), testKey, m.URL()))
	for _, c := range []struct {
		name, body string
		headers    []string
	}{
		{"header", agentConversation("mock-model", ""), []string{"x-switchboard-compression", "lossless"}},
		{"body", agentConversation("mock-model", `,"compression":{"stages":["dedupe","minify"]}`), nil},
		{"key", agentConversation("mock-model", ""), []string{"Authorization", "Bearer sk-sb-squeezed-key-0000"}},
		{"translated", agentConversation("anth/claude-mock", `,"compression":true`), nil},
	} {
		r := g.post(t, "/v1/chat/completions", c.body, c.headers...)
		before, _ := strconv.Atoi(r.header[headerTokensBefore])
		after, _ := strconv.Atoi(r.header[headerTokensAfter])
		up := string(g.Mock.LastRequest().Body)
		if r.status != 200 || !strings.Contains(r.header["x-switchboard-compression"], "dedupe") || after <= 0 || after >= before {
			t.Fatalf("%s: status %d, compression %q, tokens %d -> %d: %s", c.name, r.status, r.header["x-switchboard-compression"], before, after, r.body)
		}
		if strings.Count(up, "fmt.Fprintln") != 40 || !strings.Contains(up, "same content as") || strings.Contains(up, `"compression"`) {
			t.Fatalf("%s: the provider got the file %d times (want once), or the gateway's fields:\n%.2000s", c.name, strings.Count(up, "fmt.Fprintln"), up)
		}
		for _, id := range []string{"c1", "c2", "c3"} { // every call still has its result
			if strings.Count(up, id) < 2 {
				t.Fatalf("%s: call %s lost its result:\n%.3000s", c.name, id, up)
			}
		}
		if c.name == "header" {
			if e := entryOf(t, g, r); e.CompressedTokens != int64(before-after) {
				t.Fatalf("entry records %d tokens saved, want %d", e.CompressedTokens, before-after)
			}
		}
	}
	// Off by default, and OpenRouter's transforms never reach a provider.
	r := g.post(t, "/v1/chat/completions", agentConversation("mock-model", `,"transforms":[]`))
	up := string(g.Mock.LastRequest().Body)
	if r.status != 200 || r.header[headerTokensBefore] != "" || strings.Count(up, "fmt.Fprintln") != 80 || strings.Contains(up, "transforms") {
		t.Fatalf("off: status %d, %q, %d copies", r.status, r.header[headerTokensBefore], strings.Count(up, "fmt.Fprintln"))
	}
	if r := g.post(t, "/v1/chat/completions", agentConversation("mock-model", ""), "x-switchboard-compression", "squash"); r.status != 400 {
		t.Fatalf("bad header: status %d: %s", r.status, r.body)
	}
}

// TestStoredKeyCompression: a key the admin API creates with compression
// has its requests compressed; PATCH null turns it off; a bad value is
// a 400.
func TestStoredKeyCompression(t *testing.T) {
	g := startBillingGateway(t)
	r := g.admin(t, "POST", "/keys", `{"account":"team","create_account":true,"compression":["lossless"]}`)
	var created struct {
		Data struct {
			ID          string   `json:"id"`
			Key         string   `json:"key"`
			Compression []string `json:"compression"`
		} `json:"data"`
	}
	if err := sonic.UnmarshalString(r.body, &created); err != nil || r.status != 201 || strings.Join(created.Data.Compression, " ") != "dedupe minify whitespace" {
		t.Fatalf("create: status %d: %s (%v), want the lossless stages listed", r.status, r.body, err)
	}
	if r := g.admin(t, "POST", "/accounts/team/topup", `{"amount":"10","idempotency_key":"t1"}`); r.status != 200 {
		t.Fatalf("topup: %d %s", r.status, r.body)
	}
	auth := []string{"Authorization", "Bearer " + created.Data.Key}
	if r := g.post(t, "/v1/chat/completions", agentConversation("mock-model", ""), auth...); r.status != 200 || !strings.Contains(r.header["x-switchboard-compression"], "dedupe") {
		t.Fatalf("stored key: status %d, compression %q: %s", r.status, r.header["x-switchboard-compression"], r.body)
	}
	if r := g.admin(t, "PATCH", "/keys/"+created.Data.ID, `{"compression":null}`); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := g.post(t, "/v1/chat/completions", agentConversation("mock-model", ""), auth...); r.status != 200 || r.header[headerTokensBefore] != "" {
		t.Fatalf("after patch: status %d, tokens before %q", r.status, r.header[headerTokensBefore])
	}
	// The comma string of earlier versions still works, answered as a list.
	if r := g.admin(t, "PATCH", "/keys/"+created.Data.ID, `{"compression":"minify,dedupe"}`); r.status != 200 || rawAt(t, r.body, "data", "compression") != `["dedupe","minify"]` {
		t.Fatalf("patch with a string: %d %s", r.status, r.body)
	}
	for _, bad := range []string{`["squash"]`, `"squash"`, `7`, `[7]`} {
		if r := g.admin(t, "PATCH", "/keys/"+created.Data.ID, `{"compression":`+bad+`}`); r.status != 400 || !strings.Contains(r.body, "compression: ") {
			t.Fatalf("bad value %s: %d %s", bad, r.status, r.body)
		}
	}
}
