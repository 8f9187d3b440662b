package proxy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"switchboard/bench/mock"
)

// TestOpenAISDK runs test/node/openai_sdk.mjs against a real gateway in
// front of the mock: chat (plain, streamed, with usage, with tools),
// aliases, embeddings, the model list, error classes and a stream that
// breaks mid-way, all as the official SDK sees them.
func TestOpenAISDK(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	runSDKScript(t, "openai", "test/node/openai_sdk.mjs", "SWITCHBOARD_BASE_URL="+g.URL+"/v1")
}

// TestOpenAISDKOnAnthropic runs test/node/openai_cross_sdk.mjs: the
// OpenAI SDK on a model of an Anthropic-format provider, translated both
// ways.
func TestOpenAISDKOnAnthropic(t *testing.T) {
	g := startAnthropicGateway(t, "")
	runSDKScript(t, "openai", "test/node/openai_cross_sdk.mjs", "SWITCHBOARD_BASE_URL="+g.URL+"/v1", "CROSS_MODEL=anth/claude-mock")
}

// TestAnthropicSDK runs test/node/anthropic_sdk.mjs: messages, the stream
// helper and finalMessage, tool use, countTokens and error classes, each
// against an Anthropic-format provider and, translated, an OpenAI-format
// one.
func TestAnthropicSDK(t *testing.T) {
	g := startAnthropicGateway(t, "")
	runSDKScript(t, "@anthropic-ai/sdk", "test/node/anthropic_sdk.mjs", "SWITCHBOARD_BASE_URL="+g.URL,
		"SAME_MODEL=anth/claude-mock", "CROSS_MODEL=mock/mock-model")
}

// TestOpenAIResponsesSDK runs test/node/openai_responses_sdk.mjs: the
// OpenAI SDK's Responses API (what Codex CLI speaks) on a Responses-format
// provider, passed through, and on Anthropic, chat-completions and Gemini
// providers, translated.
func TestOpenAIResponsesSDK(t *testing.T) {
	g := startFourFormatGateway(t)
	runSDKScript(t, "openai", "test/node/openai_responses_sdk.mjs", "SWITCHBOARD_BASE_URL="+g.URL+"/v1",
		"MODELS=resp/resp-model,anth/claude-mock,mock/mock-model,gem/gem-model")
}

// runSDKScript runs a Node script that drives the gateway with the npm
// package pkg, with the test key and env in its environment. `make test`
// installs the packages first; without them this fails rather than
// skips, so a missing setup never passes silently.
func runSDKScript(t *testing.T, pkg, script string, env ...string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v); install Node 20+ and run `make test`, which installs the SDKs", err)
	}
	root := sdkRepoRoot(t)
	// go test caches a passing result keyed on the files this process
	// opens, not those node opens: reading the scripts and the SDK's
	// package.json here makes an edit or an SDK upgrade rerun the test.
	if _, err := os.ReadFile(filepath.Join(root, "test/node/node_modules", pkg, "package.json")); err != nil {
		t.Fatalf("the %s npm package is not installed (%v); run `make test`, which installs it into test/node/node_modules", pkg, err)
	}
	for _, f := range []string{script, "test/node/harness.mjs"} {
		if _, err := os.ReadFile(filepath.Join(root, f)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "SWITCHBOARD_API_KEY="+testKey), env...)
	cmd.WaitDelay = 5 * time.Second // do not wait on pipes held by a killed child
	out, err := cmd.CombinedOutput()
	t.Logf("%s output:\n%s", script, out)
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within 60s: %v", script, err)
	}
	if err != nil {
		t.Fatalf("%s failed (%v); its output is logged above", script, err)
	}
}

// sdkRepoRoot finds the repository root from the working directory by looking
// upwards for go.mod.
func sdkRepoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("cannot look for go.mod in %q: %v", d, err)
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %q", dir)
		}
	}
}
