package proxy

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"switchboard/bench/mock"
)

// runCodexWebSocket runs Codex CLI headless against g with its provider
// marked supports_websockets, so that it opens a Responses WebSocket to
// the gateway, and returns its answer and whether the turn completed.
func runCodexWebSocket(t *testing.T, g *gateway, model string) (string, bool, cliOutput) {
	t.Helper()
	codex := cliBinary(t, "@openai/codex", "codex")
	home := t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.Mkdir(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`model = %q
model_provider = "switchboard"
approval_policy = "never"
sandbox_mode = "read-only"

[analytics]
enabled = false

[features]
plugins = false

[model_providers.switchboard]
name = "Switchboard"
base_url = "%s/v1"
env_key = "SWITCHBOARD_API_KEY"
wire_api = "responses"
supports_websockets = true
request_max_retries = 0
stream_max_retries = 0
`, model, g.URL)
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := cliEnv(home, "CODEX_HOME="+codexHome, "SWITCHBOARD_API_KEY="+testKey)
	out := runCLI(t, g, home, env, codex, "exec", "--skip-git-repo-check", "--ephemeral", "--json", cliPrompt)
	msg, completed := codexAnswer(out.stdout)
	return msg, completed, out
}

// TestCodexCLIWebSocket runs Codex CLI with supports_websockets against
// the gateway: its turns arrive over a Responses WebSocket (counted as
// WebSocket turns, in the ledger like any call) and reach a Responses
// provider and a translated chat provider over HTTP, and a provider that
// serves WebSockets over its own; the answer comes back.
func TestCodexCLIWebSocket(t *testing.T) {
	g := startFourFormatGateway(t)
	for _, c := range []cliCase{cliResponses, cliChat} {
		t.Run(c.model, func(t *testing.T) {
			turns, _, _ := WebSocketTurns()
			entries := len(operatorEntries(t, g))
			msg, completed, out := runCodexWebSocket(t, g, c.model)
			if out.err != nil || !completed || msg != cliMockText {
				t.Fatalf("codex: %v, turn completed %v, agent_message %q, want %q\nstdout:\n%s\nstderr:\n%s",
					out.err, completed, msg, cliMockText, out.stdout, out.stderr)
			}
			after, _, warmups := WebSocketTurns()
			if after == turns {
				t.Fatalf("the gateway served no WebSocket turn; Codex used HTTP\nstderr:\n%s", out.stderr)
			}
			t.Logf("%d WebSocket turn(s), %d warm-up(s) so far", after-turns, warmups)
			checkCLIUpstream(t, g, c, "exec_command")
			if es := operatorEntries(t, g); len(es) <= entries {
				t.Fatalf("no ledger entry for the WebSocket turns")
			}
		})
	}
	t.Run("passthrough", func(t *testing.T) {
		m := startMock(t, mock.Options{})
		g := startPassthroughGateway(t, m)
		_, pass, _ := WebSocketTurns()
		msg, completed, out := runCodexWebSocket(t, g, "wsp/ws-model")
		if out.err != nil || !completed || msg != cliMockText {
			t.Fatalf("codex: %v, turn completed %v, agent_message %q, want %q\nstdout:\n%s\nstderr:\n%s",
				out.err, completed, msg, cliMockText, out.stdout, out.stderr)
		}
		if _, after, _ := WebSocketTurns(); after == pass || m.WebSocketTurns() == 0 {
			t.Fatalf("the turn did not go over the provider's WebSocket (%d gateway, %d mock turns)", after-pass, m.WebSocketTurns())
		}
		checkCLIUpstream(t, g, cliCase{"wsp/ws-model", "ws-model", "/v1/responses", "authorization", "Bearer sk-ws-upstream"}, "exec_command")
	})
}

// TestCodexCLIWebSocketFallback: with WebSockets off the gateway answers
// Codex's upgrade 426, and Codex falls back to HTTP for the session: the
// answer still comes back, over POST /v1/responses.
func TestCodexCLIWebSocketFallback(t *testing.T) {
	m := startMock(t, mock.Options{})
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
server: {websocket: {disabled: true}}
auth: {keys: [{name: test, key: %s}]}
providers:
  - {name: resp, format: responses, base_url: %s/v1, api_key: sk-resp-upstream, models: [resp-model]}
`, t.TempDir(), testKey, m.URL()))
	refused := wsRefused.Get()
	turns, _, _ := WebSocketTurns()
	msg, completed, out := runCodexWebSocket(t, g, cliResponses.model)
	if out.err != nil || !completed || msg != cliMockText {
		t.Fatalf("codex: %v, turn completed %v, agent_message %q, want %q\nstdout:\n%s\nstderr:\n%s",
			out.err, completed, msg, cliMockText, out.stdout, out.stderr)
	}
	if wsRefused.Get() == refused {
		t.Fatalf("Codex did not try a WebSocket upgrade\nstderr:\n%s", out.stderr)
	}
	if after, _, _ := WebSocketTurns(); after != turns {
		t.Fatalf("%d turns served over WebSocket while it was off", after-turns)
	}
	if up := m.LastRequestTo(mock.SurfaceResponses); up.Method != "POST" {
		t.Fatalf("the provider got no HTTP Responses call: %+v", up)
	}
}
