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

// sdkScript is the Node script, relative to the repository root, that
// drives the gateway with the official openai npm package.
const sdkScript = "test/node/openai_sdk.mjs"

// TestOpenAISDK runs test/node/openai_sdk.mjs against a real gateway in
// front of the mock: chat (plain, streamed, with usage, with tools),
// aliases, embeddings, the model list, error classes and a stream that
// breaks mid-way, all as the official SDK sees them. `make test` installs
// the SDK first; without it this test fails rather than skips, so a missing
// setup never passes silently.
func TestOpenAISDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v); install Node 20+ and run `make test`, which installs the openai SDK", err)
	}
	root := sdkRepoRoot(t)
	// go test caches a passing result keyed on the files this process
	// opens, not those node opens: reading the script and the SDK's
	// package.json here makes an edit or an SDK upgrade rerun the test.
	if _, err := os.ReadFile(filepath.Join(root, "test/node/node_modules/openai/package.json")); err != nil {
		t.Fatalf("the openai npm package is not installed (%v); run `make test`, which installs it into test/node/node_modules", err)
	}
	if _, err := os.ReadFile(filepath.Join(root, sdkScript)); err != nil {
		t.Fatal(err)
	}

	g := startGateway(t, mock.Options{}, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, sdkScript)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"SWITCHBOARD_BASE_URL="+g.URL+"/v1",
		"SWITCHBOARD_API_KEY="+testKey,
	)
	cmd.WaitDelay = 5 * time.Second // do not wait on pipes held by a killed child
	out, err := cmd.CombinedOutput()
	t.Logf("%s output:\n%s", sdkScript, out)
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within 60s: %v", sdkScript, err)
	}
	if err != nil {
		t.Fatalf("%s failed (%v); its output is logged above", sdkScript, err)
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
