package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"switchboard/configs"
	"testing"
)

func TestCheckFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(good, []byte("auth: {disabled: true}\nproviders:\n  - {name: a, base_url: 'http://127.0.0.1:1/v1'}\n"), 0o600)
	_ = os.WriteFile(bad, []byte("auth: {disabled: true}\nproviders:\n  - {name: a, base_url: 'ftp://x'}\n"), 0o600)
	f := func(args []string, wantCode int, wantOut string) {
		t.Helper()
		var out bytes.Buffer
		if code := run(args, &out); code != wantCode || !strings.Contains(out.String(), wantOut) {
			t.Fatalf("run(%q) = %d, output %q; want %d with %q", args, code, out.String(), wantCode, wantOut)
		}
	}
	f([]string{"-check", "-config", good}, 0, "ok (1 providers enabled)\n  provider a: on, 0 models by name (openai)\n")
	withEnv := filepath.Join(dir, "env.yaml")
	_ = os.WriteFile(withEnv, []byte("auth: {disabled: true}\nproviders:\n  - {name: b, base_url: 'http://127.0.0.1:1/v1', api_key: '${SB_TEST_UNSET_KEY}'}\n"), 0o600)
	f([]string{"-check", "-config", withEnv}, 0, "providers off until their variables are set: b (SB_TEST_UNSET_KEY)")
	f([]string{"-check", "-config", bad}, 1, `line 3: providers[0].base_url: want http(s) URL, got "ftp://x"`)
	f([]string{"-check", "-config", filepath.Join(dir, "missing.yaml")}, 1, "cannot read config")
	f([]string{"-help"}, 0, "switchboard mock")
	f([]string{"-bogus"}, 2, "flag provided but not defined")
	f([]string{"-version"}, 0, "switchboard ")
}

// TestVersionNamesTheBuild: the version line has the Go version, and the
// VCS revision whenever the build info has one.
func TestVersionNamesTheBuild(t *testing.T) {
	v := version()
	if !strings.HasPrefix(v, "switchboard ") || !strings.HasSuffix(v, runtime.Version()) {
		t.Fatalf("version() = %q", v)
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && !strings.Contains(v, s.Value[:min(12, len(s.Value))]) {
				t.Fatalf("version() = %q, without the revision %s", v, s.Value)
			}
		}
	}
}

// TestExampleConfigsCheck: every config in configs/examples loads and
// passes -check with only the gateway and master keys in the
// environment; the mock example enables its provider and the admin API
// with no variable set.
func TestExampleConfigsCheck(t *testing.T) {
	t.Setenv("SWITCHBOARD_API_KEY", "sk-sb-example")
	t.Setenv("SWITCHBOARD_MASTER_KEY", "sk-sb-master-example")
	files, err := filepath.Glob("configs/examples/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		var out bytes.Buffer
		if code := run([]string{"-check", "-config", f}, &out); code != 0 || !strings.Contains(out.String(), ": ok (") {
			t.Errorf("%s: -check exited %d:\n%s", f, code, out.String())
		}
		text, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(text), "# ") {
			t.Errorf("%s does not open with a comment saying what it is for", f)
		}
	}
	cfg, err := configs.Load(mustRead(t, "configs/examples/mock.yaml"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Providers) != 1 || cfg.Providers[0].Disabled || cfg.Auth.MasterKey == "" || len(cfg.Auth.Keys) != 1 || len(cfg.Billing.Plans) == 0 {
		t.Fatalf("mock example with an empty environment: providers %+v, master key set %v, keys %d, plans %d",
			cfg.Providers, cfg.Auth.MasterKey != "", len(cfg.Auth.Keys), len(cfg.Billing.Plans))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
