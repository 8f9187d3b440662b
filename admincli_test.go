package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/bench/mock"
)

const cliMasterKey = "sk-sb-cli-master-key"

// cli runs the gateway binary's admin subcommand args with env, and
// returns its exit code, stdout and stderr.
func cli(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// TestAdminCLIAgainstARunningGateway drives a real gateway process with
// the keys and accounts subcommands: make an account and a key, call
// the mock with the key, see the spend, revoke the key and see the next
// call refused.
func TestAdminCLIAgainstARunningGateway(t *testing.T) {
	bin := switchboardBinary(t)
	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	dir := t.TempDir()
	config := filepath.Join(dir, "switchboard.yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %q
log: {access: false}
auth: {master_key: %s}
billing: {prices: {mock/mock-model: {input: "1", output: "2"}}}
providers: [{name: mock, base_url: %q, api_key: sk-upstream, models: [mock-model]}]
`, filepath.Join(dir, "data"), cliMasterKey, m.URL()+"/v1")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startGateway(t, "gateway", exec.Command(bin, "-config", config))
	env := []string{"SWITCHBOARD_URL=" + p.url, "SWITCHBOARD_MASTER_KEY=" + cliMasterKey}

	code, out, errOut := cli(t, bin, env, "accounts", "topup", "team", "--amount", "5", "--create-account", "--idempotency-key", "inv-1")
	if code != 0 || !strings.Contains(out, `"credits":5`) {
		t.Fatalf("topup: %d %s %s", code, out, errOut)
	}
	code, out, errOut = cli(t, bin, env, "keys", "create", "--account", "team", "--name", "ci", "--rpm", "60", "--daily-limit", "2")
	var key struct {
		ID, Key, Name string
		RPM           int `json:"rpm"`
	}
	if err := json.Unmarshal([]byte(out), &key); code != 0 || err != nil || key.Name != "ci" || key.RPM != 60 || !strings.HasPrefix(key.Key, "sk-sb-") {
		t.Fatalf("keys create: %d %s %s (%v)", code, out, errOut, err)
	}
	chat := func() int {
		req, _ := http.NewRequest("POST", p.url+"/v1/chat/completions", strings.NewReader(string(chatBody)))
		req.Header.Set("Authorization", "Bearer "+key.Key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := p.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := chat(); s != 200 {
		t.Fatalf("chat with the new key: %d", s)
	}
	// The flags' defaults come from the environment; --url and --key win.
	code, out, errOut = cli(t, bin, []string{"SWITCHBOARD_URL=http://127.0.0.1:1"}, "keys", "list", "--url", p.url, "--key", cliMasterKey)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(lines[1], key.ID) || !strings.Contains(lines[1], "false") {
		t.Fatalf("keys list: %d %q %s", code, out, errOut)
	}
	code, out, _ = cli(t, bin, env, "accounts", "show", "team")
	var acc struct {
		Credits json.Number `json:"credits"`
		Spent   json.Number `json:"spent"`
	}
	if err := json.Unmarshal([]byte(out), &acc); code != 0 || err != nil || acc.Spent == "0" || acc.Credits == "5" {
		t.Fatalf("accounts show after a call: %d %s (%v)", code, out, err)
	}
	if code, out, errOut = cli(t, bin, env, "keys", "revoke", key.ID); code != 0 || !strings.Contains(out, `"revoked":true`) {
		t.Fatalf("keys revoke: %d %s %s", code, out, errOut)
	}
	if s := chat(); s != 401 {
		t.Errorf("chat with the revoked key: %d, want 401", s)
	}
	code, out, _ = cli(t, bin, env, "keys", "list", "--json")
	if code != 0 || !strings.Contains(out, `"revoked":true`) {
		t.Errorf("keys list --json: %d %s", code, out)
	}

	// Errors: the API's (exit 1, message on stderr), usage (exit 2).
	for _, c := range []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{env, []string{"accounts", "show", "nosuch"}, 1, "404"},
		{env, []string{"accounts", "topup", "team", "--amount", "-1"}, 1, "amount: want more than $0"},
		{[]string{"SWITCHBOARD_URL=" + p.url, "SWITCHBOARD_MASTER_KEY=sk-sb-wrong"}, []string{"keys", "list"}, 1, "401"},
		{env, []string{"keys", "create"}, 2, "--account is required"},
		{env, []string{"keys", "revoke"}, 2, "want one id"},
		{env, []string{"keys", "rotate"}, 2, `unknown command "keys rotate"`},
		{[]string{"SWITCHBOARD_MASTER_KEY="}, []string{"accounts", "show", "team", "--url", p.url}, 2, "no master key"},
		{env, []string{"keys", "--help"}, 0, "switchboard keys create --account ID"},
	} {
		code, _, errOut := cli(t, bin, c.env, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
