package canon_test

import (
	"errors"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// TestUntranslatableFieldsAreRefused checks that every field that cannot
// be translated is refused with a *canon.FieldError naming it, by the
// decoder (the client's field has no equivalent anywhere) or by the
// target's encoder (it has none there).
func TestUntranslatableFieldsAreRefused(t *testing.T) {
	const oaMsgs = `"messages":[{"role":"user","content":"hi"}]`
	const anMsgs = `"max_tokens":100,"messages":[{"role":"user","content":"hi"}]`
	f := func(from, to, body, wantField string) {
		t.Helper()
		var r canon.Request
		err := decodeRequest(from, []byte(body), &r)
		if err == nil {
			switch to {
			case "openai":
				_, err = openai.EncodeRequest(nil, &r, openai.EncodeOptions{})
			case "anthropic":
				_, err = anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{DefaultMaxTokens: 4096})
			case "anthropic-no-default":
				_, err = anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{})
			}
		}
		var fe *canon.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: want a field error naming %q, got %v", body, wantField, err)
		}
		if fe.Field != wantField {
			t.Fatalf("%s: want field %q, got %q (%v)", body, wantField, fe.Field, err)
		}
	}
	oa := func(extra, wantField string) { f("openai", "anthropic", `{"model":"m",`+oaMsgs+extra+`}`, wantField) }
	an := func(extra, wantField string) { f("anthropic", "openai", `{"model":"m",`+anMsgs+extra+`}`, wantField) }

	// OpenAI fields no other format has.
	oa(`,"n":2`, "n")
	oa(`,"logprobs":true`, "logprobs")
	oa(`,"top_logprobs":3`, "top_logprobs")
	oa(`,"logit_bias":{"50256":-100}`, "logit_bias")
	oa(`,"audio":{"voice":"alloy","format":"wav"}`, "audio")
	oa(`,"modalities":["text","audio"]`, "modalities")
	oa(`,"frequency_penalty":0.5`, "frequency_penalty")
	oa(`,"presence_penalty":-0.5`, "presence_penalty")
	oa(`,"functions":[{"name":"f"}]`, "functions")
	oa(`,"function_call":"auto"`, "function_call")
	oa(`,"web_search_options":{}`, "web_search_options")
	oa(`,"unknown_field":1`, "unknown_field")
	oa(`,"tools":[{"type":"custom","custom":{"name":"x"}}]`, "tools[0].type")
	oa(`,"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}}`, "tool_choice.type")
	f("openai", "anthropic", `{"model":"m","messages":[{"role":"user","name":"alice","content":"hi"}]}`, "messages[0].name")
	f("openai", "anthropic", `{"model":"m","messages":[{"role":"function","name":"f","content":"x"}]}`, "messages[0].name")
	f("openai", "anthropic", `{"model":"m","messages":[{"role":"function","content":"x"}]}`, "messages[0].role")
	f("openai", "anthropic", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`, "messages[0].content[0].type")
	f("openai", "anthropic", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"hi"}]}`, "messages[0].content[0].type")
	f("openai", "anthropic", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "messages[0].content[0].image_url.url")
	// OpenAI fields Anthropic has no equivalent for.
	oa(`,"response_format":{"type":"json_object"}`, "response_format.type")
	oa(`,"temperature":1.5`, "temperature")
	oa(`,"reasoning_effort":"high","max_tokens":1000`, "reasoning_effort")
	f("openai", "anthropic", `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}`, "messages[1].content[0].input")
	f("openai", "anthropic-no-default", `{"model":"m",`+oaMsgs+`}`, "max_tokens")

	// Anthropic fields no other format has.
	an(`,"container":"container_011CPR5CNjB747bTd36fQLFk"`, "container")
	an(`,"mcp_servers":[{"type":"url","url":"https://example-server.modelcontextprotocol.io/sse","name":"example-mcp"}]`, "mcp_servers")
	an(`,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]`, "tools[0].type")
	an(`,"tools":[{"type":"bash_20250124","name":"bash"}]`, "tools[0].type")
	an(`,"tools":[{"name":"f","input_schema":{"type":"object"},"input_examples":[{"a":1}]}]`, "tools[0].input_examples")
	an(`,"thinking":{"type":"sometimes"}`, "thinking.type")
	an(`,"bogus":true`, "bogus")
	f("anthropic", "openai", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"text","text":"x","citations":[{"type":"char_location","cited_text":"x"}]}]}]}`, "messages[0].content[0].citations")
	f("anthropic", "openai", `{"model":"m","max_tokens":9,"messages":[{"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}}]}]}`, "messages[0].content[0].type")
	f("anthropic", "openai", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="},"context":"a contract"}]}]}`, "messages[0].content[0].context")
	f("anthropic", "openai", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"search_result","source":"https://x","title":"t","content":[]}]}]}`, "messages[0].content[0].type")
	// Anthropic fields OpenAI has no equivalent for.
	an(`,"top_k":5`, "top_k")
	f("anthropic", "openai", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_011CNha8iCJcU1wXNR6q4V8w"}}]}]}`, "messages[0].content[0].source")
	f("anthropic", "openai", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://assets.anthropic.com/m/1cd9d098ac3e6467/original/Claude-3-Model-Card-October-Addendum.pdf"}}]}]}`, "messages[0].content[0].source")
}
