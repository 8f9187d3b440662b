package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"switchboard/bench/mock"
)

// The coding-agent CLIs, driven headless through a real gateway in front
// of the mock. Each run is offline: a fresh HOME, an environment built
// from scratch, the CLIs' telemetry, update and plugin traffic turned
// off, and a proxy trap (HTTP(S)_PROXY on a closed loopback port, with
// NO_PROXY for the gateway) so that any call to the outside fails fast
// instead of leaving the machine.

// cliMockText is the mock's answer with its default eight chunks.
const cliMockText = "chunk 0 chunk 1 chunk 2 chunk 3 chunk 4 chunk 5 chunk 6 chunk 7 "

// cliPrompt is the one prompt of every run.
const cliPrompt = "Say hi."

// cliTimeout bounds one CLI run.
const cliTimeout = 90 * time.Second

// cliCase is a model to ask through the gateway, the upstream path the
// mock must see for it, and the upstream credential header the gateway
// must send there instead of the client's key.
type cliCase struct {
	model     string // provider/model, as the CLI names it
	upModel   string // the model the provider is sent
	path      string
	keyHeader string
	key       string
}

var (
	cliAnthropic = cliCase{"anth/claude-mock", "claude-mock", "/v1/messages", "x-api-key", "sk-ant-upstream"}
	cliChat      = cliCase{"mock/mock-model", "mock-model", "/v1/chat/completions", "authorization", "Bearer sk-upstream-secret"}
	cliResponses = cliCase{"resp/resp-model", "resp-model", "/v1/responses", "authorization", "Bearer sk-resp-upstream"}
)

// TestClaudeCodeCLI runs Claude Code headless (claude -p --output-format
// json) with ANTHROPIC_BASE_URL at the gateway: on an Anthropic-format
// provider, passed through, and on an OpenAI chat provider, translated.
func TestClaudeCodeCLI(t *testing.T) {
	claude := cliBinary(t, "@anthropic-ai/claude-code", "claude")
	g := startFourFormatGateway(t)
	for _, c := range []cliCase{cliAnthropic, cliChat} {
		t.Run(c.model, func(t *testing.T) {
			home := t.TempDir()
			env := cliEnv(home,
				"ANTHROPIC_BASE_URL="+g.URL, // no /v1: Claude Code appends /v1/messages
				"ANTHROPIC_API_KEY="+testKey,
				"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
				"DISABLE_TELEMETRY=1",
				"DISABLE_AUTOUPDATER=1",
				"DISABLE_ERROR_REPORTING=1",
				"CLAUDE_CODE_MAX_RETRIES=0", // a refusal fails at once rather than after backoff
			)
			out := runCLI(t, g, home, env, claude, "-p", cliPrompt, "--output-format", "json", "--model", c.model)
			var res struct {
				Type    string `json:"type"`
				Subtype string `json:"subtype"`
				IsError bool   `json:"is_error"`
				Result  string `json:"result"`
			}
			if err := json.Unmarshal(bytes.TrimSpace(out.stdout), &res); err != nil {
				t.Fatalf("stdout is not Claude Code's JSON result (%v):\n%s\nstderr:\n%s", err, out.stdout, out.stderr)
			}
			if out.err != nil || res.IsError || res.Subtype != "success" || res.Result != cliMockText {
				t.Fatalf("claude: %v, is_error %v, subtype %q, result %q, want %q\nstdout:\n%s\nstderr:\n%s",
					out.err, res.IsError, res.Subtype, res.Result, cliMockText, out.stdout, out.stderr)
			}
			checkCLIUpstream(t, g, c, "Bash")
		})
	}
}

// TestCodexCLI runs Codex CLI headless (codex exec --json) with a custom
// provider of wire_api "responses" at the gateway: on a Responses-format
// provider, passed through, and on Anthropic and OpenAI chat providers,
// translated.
func TestCodexCLI(t *testing.T) {
	codex := cliBinary(t, "@openai/codex", "codex")
	g := startFourFormatGateway(t)
	for _, c := range []cliCase{cliResponses, cliAnthropic, cliChat} {
		t.Run(c.model, func(t *testing.T) {
			home := t.TempDir()
			codexHome := filepath.Join(home, ".codex")
			if err := os.Mkdir(codexHome, 0o700); err != nil {
				t.Fatal(err)
			}
			// analytics off: no OTLP metrics to ab.chatgpt.com; plugins
			// off: no git ls-remote of github.com, no api.github.com or
			// chatgpt.com. No retries: a refusal fails at once.
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
request_max_retries = 0
stream_max_retries = 0
`, c.model, g.URL)
			if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			env := cliEnv(home, "CODEX_HOME="+codexHome, "SWITCHBOARD_API_KEY="+testKey)
			out := runCLI(t, g, home, env, codex, "exec", "--skip-git-repo-check", "--ephemeral", "--json", cliPrompt)
			msg, completed := codexAnswer(out.stdout)
			if out.err != nil || !completed || msg != cliMockText {
				t.Fatalf("codex: %v, turn completed %v, agent_message %q, want %q\nstdout:\n%s\nstderr:\n%s",
					out.err, completed, msg, cliMockText, out.stdout, out.stderr)
			}
			checkCLIUpstream(t, g, c, "exec_command")
		})
	}
}

// codexAnswer reads codex exec --json's events: the text of the last
// agent_message item, and whether the turn completed.
func codexAnswer(stdout []byte) (msg string, completed bool) {
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Type string `json:"type"`
			Item struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"item"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		switch {
		case ev.Type == "item.completed" && ev.Item.Type == "agent_message":
			msg = ev.Item.Text
		case ev.Type == "turn.completed":
			completed = true
		}
	}
	return msg, completed
}

// checkCLIUpstream checks that the gateway, not the CLI, called the mock:
// the request reached c's upstream path for c's model, with the
// provider's key and not the client's, and still offered the CLI's tool
// named tool (translated, not dropped).
func checkCLIUpstream(t *testing.T, g *gateway, c cliCase, tool string) {
	t.Helper()
	up := g.Mock.LastRequest()
	var body struct {
		Model string `json:"model"`
		Tools []struct {
			Name     string `json:"name"` // Anthropic, Responses
			Function struct {
				Name string `json:"name"` // chat completions
			} `json:"function"`
		} `json:"tools"`
	}
	_ = json.Unmarshal(up.Body, &body)
	if up.Method != "POST" || up.Path != c.path || body.Model != c.upModel || up.Headers[c.keyHeader] != c.key {
		t.Fatalf("the mock's last request: %s %s, model %q, %s %q; want POST %s, model %q, %s %q",
			up.Method, up.Path, body.Model, c.keyHeader, up.Headers[c.keyHeader], c.path, c.upModel, c.keyHeader, c.key)
	}
	for k, v := range up.Headers {
		if strings.Contains(v, testKey) {
			t.Fatalf("the client's key reached the provider in %s: %q", k, v)
		}
	}
	var names []string
	for _, tl := range body.Tools {
		names = append(names, tl.Name+tl.Function.Name)
	}
	if !slices.Contains(names, tool) {
		t.Fatalf("the provider was not offered the %s tool; its tools: %q", tool, names)
	}
}

// cliBinary returns the npm-installed executable name of package pkg.
// `make test` installs it into test/node/node_modules; without it this
// fails rather than skips, as runSDKScript does.
func cliBinary(t *testing.T, pkg, name string) string {
	t.Helper()
	root := sdkRepoRoot(t)
	// Reading the package's package.json makes go test rerun this test
	// when the CLI is upgraded, not serve a cached pass.
	if _, err := os.ReadFile(filepath.Join(root, "test/node/node_modules", pkg, "package.json")); err != nil {
		t.Fatalf("the %s npm package is not installed (%v); run `make test`, which installs it into test/node/node_modules", pkg, err)
	}
	bin := filepath.Join(root, "test/node/node_modules/.bin", name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s has no %s executable (%v); run `make test`, which installs it into test/node/node_modules", pkg, name, err)
	}
	return bin
}

// cliEnv is a CLI's whole environment: PATH (Codex's launcher needs
// node), HOME, CI, the proxy trap, and extra.
func cliEnv(home string, extra ...string) []string {
	const trap = "http://127.0.0.1:9" // discard port: nothing listens there
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + home,
		"TERM=dumb",
		"CI=true",
		"HTTPS_PROXY=" + trap, "HTTP_PROXY=" + trap, "ALL_PROXY=" + trap,
		"https_proxy=" + trap, "http_proxy=" + trap, "all_proxy=" + trap,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	}
	return append(env, extra...)
}

// cliOutput is a finished CLI run.
type cliOutput struct {
	stdout, stderr []byte
	err            error
}

// runCLI runs bin with args and env in an empty working directory under
// home, stdin /dev/null, within cliTimeout, and logs its wall time.
func runCLI(t *testing.T, g *gateway, home string, env []string, bin string, args ...string) cliOutput {
	t.Helper()
	dir := filepath.Join(home, "work")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, &stdout, &stderr // nil stdin is /dev/null
	// SIGTERM first: Codex's node launcher forwards it to the native
	// binary, which SIGKILL would orphan. WaitDelay then kills, and stops
	// waiting on pipes a child still holds.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	before := g.Mock.Requests()
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s: %v in %.2fs, %d upstream request(s)", filepath.Base(bin), args[0], exitStatus(err), time.Since(start).Seconds(), g.Mock.Requests()-before)
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), cliTimeout, err, stdout.Bytes(), stderr.Bytes())
	}
	return cliOutput{stdout: stdout.Bytes(), stderr: stderr.Bytes(), err: err}
}

// exitStatus describes a run's error for the log.
func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// TestClaudeCodeGatewayModelDiscovery runs Claude Code against a gateway
// whose anthropic provider serves claude-* by pattern, with only the
// gateway key set and no --model: its own default model is served. With
// its gateway model discovery on (CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY)
// it lists the gateway's models with GET /v1/models and
// anthropic-version, and keeps the Claude ones for its model picker.
func TestClaudeCodeGatewayModelDiscovery(t *testing.T) {
	claude := cliBinary(t, "@anthropic-ai/claude-code", "claude")
	// Discovery runs beside the turn and Claude Code exits when the turn
	// ends; the latency keeps the turn open past discovery's own timeout
	// (3s), so by then it has stored what it found or failed.
	m := startMock(t, mock.Options{Latency: 5 * time.Second})
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
providers:
  - {name: anthropic, format: anthropic, base_url: %s/v1, api_key: sk-ant-upstream, models: ["claude-*"]}
`, t.TempDir(), testKey, m.URL()))
	home := t.TempDir()
	env := cliEnv(home,
		"ANTHROPIC_BASE_URL="+g.URL,
		"ANTHROPIC_API_KEY="+testKey,
		"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_ERROR_REPORTING=1",
		"CLAUDE_CODE_MAX_RETRIES=0",
	)
	before := modelListAnthropic.Get()
	out := runCLI(t, g, home, env, claude, "-p", cliPrompt, "--output-format", "json")
	var res struct {
		IsError bool   `json:"is_error"`
		Result  string `json:"result"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out.stdout), &res); err != nil || out.err != nil || res.IsError || res.Result != cliMockText {
		t.Fatalf("claude: %v / %v, is_error %v, result %q\nstdout:\n%s\nstderr:\n%s", out.err, err, res.IsError, res.Result, out.stdout, out.stderr)
	}
	up := g.Mock.LastRequest()
	var body struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(up.Body, &body)
	if up.Path != "/v1/messages" || !strings.HasPrefix(body.Model, "claude-") || up.Headers["x-api-key"] != "sk-ant-upstream" {
		t.Fatalf("the provider saw %s, model %q, x-api-key %q; want Claude Code's default Claude model on /v1/messages with the provider's key", up.Path, body.Model, up.Headers["x-api-key"])
	}
	t.Logf("Claude Code's default model %s, served by the claude-* pattern", body.Model)
	if modelListAnthropic.Get() == before {
		t.Fatalf("Claude Code did not list the gateway's models in Anthropic's shape")
	}
	cache, err := os.ReadFile(filepath.Join(home, ".claude", "cache", "gateway-models.json"))
	if err != nil {
		dbg, _ := os.ReadFile(filepath.Join(home, ".claude", "debug", "latest"))
		t.Fatalf("Claude Code kept no discovered models (%v)\nstderr:\n%s\ndebug log:\n%s", err, out.stderr, dbg)
	}
	var kept struct {
		BaseURL string `json:"baseUrl"`
		Models  []struct {
			ID string `json:"id"`
		} `json:"models"`
	}
	if err := json.Unmarshal(cache, &kept); err != nil || kept.BaseURL != g.URL || len(kept.Models) == 0 {
		t.Fatalf("Claude Code's discovered models = %s (%v), want the gateway's Claude models", cache, err)
	}
	for _, km := range kept.Models {
		if !strings.HasPrefix(km.ID, "claude-") {
			t.Fatalf("Claude Code kept %q from the gateway's list", km.ID)
		}
	}
	t.Logf("Claude Code kept %d models from the gateway's /v1/models", len(kept.Models))
}

// TestCodexCLIDefaultModel runs Codex CLI with no model configured, on a
// gateway whose Responses provider serves OpenAI's families by pattern
// (as the openai preset does): Codex's own default model is served.
func TestCodexCLIDefaultModel(t *testing.T) {
	codex := cliBinary(t, "@openai/codex", "codex")
	m := startMock(t, mock.Options{})
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
providers:
  - {name: openai, format: responses, base_url: %s/v1, api_key: sk-resp-upstream, models: ["gpt-*", "o3*", "o4*", "codex-*"]}
`, t.TempDir(), testKey, m.URL()))
	home := t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.Mkdir(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`model_provider = "switchboard"
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
request_max_retries = 0
stream_max_retries = 0
`, g.URL)
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := cliEnv(home, "CODEX_HOME="+codexHome, "SWITCHBOARD_API_KEY="+testKey)
	out := runCLI(t, g, home, env, codex, "exec", "--skip-git-repo-check", "--ephemeral", "--json", cliPrompt)
	msg, completed := codexAnswer(out.stdout)
	if out.err != nil || !completed || msg != cliMockText {
		t.Fatalf("codex: %v, turn completed %v, agent_message %q, want %q\nstdout:\n%s\nstderr:\n%s",
			out.err, completed, msg, cliMockText, out.stdout, out.stderr)
	}
	up := g.Mock.LastRequest()
	var body struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(up.Body, &body)
	if up.Path != "/v1/responses" || !strings.HasPrefix(body.Model, "gpt-") || up.Headers["authorization"] != "Bearer sk-resp-upstream" {
		t.Fatalf("the provider saw %s, model %q, authorization %q; want Codex's default GPT model on /v1/responses with the provider's key", up.Path, body.Model, up.Headers["authorization"])
	}
	t.Logf("Codex's default model %s, served by the gpt-* pattern", body.Model)
}
