package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"switchboard/bench/mock"
)

// docTestMark is the line before a README code block whose curl commands
// TestReadmeExamples runs against the gateway on
// configs/examples/mock.yaml.
const docTestMark = "<!-- doc-test: mock -->"

// docExample is a marked README block: its shell commands and, from the
// code block that follows it, one documented answer per curl command.
type docExample struct {
	line    int // of the mark, 1-based
	script  string
	answers []docAnswer
}

// docAnswer is a documented answer: "HTTP/1.1 <status> ..." and the JSON
// body on the lines after it.
type docAnswer struct {
	status int
	body   string
}

// readmeExamples returns the README's marked blocks, in order.
func readmeExamples(t *testing.T, readme string) []docExample {
	t.Helper()
	lines := strings.Split(readme, "\n")
	// block returns the code block opening at lines[i] and the index
	// after its closing fence.
	block := func(i int) (string, int) {
		if i >= len(lines) || !strings.HasPrefix(lines[i], "```") {
			t.Fatalf("README line %d: want a code block after %q", i+1, docTestMark)
		}
		for j := i + 1; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				return strings.Join(lines[i+1:j], "\n"), j + 1
			}
		}
		t.Fatalf("README line %d: the code block does not end", i+1)
		return "", 0
	}
	var out []docExample
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != docTestMark {
			continue
		}
		ex := docExample{line: i + 1}
		var next int
		ex.script, next = block(i + 1)
		for next < len(lines) && strings.TrimSpace(lines[next]) == "" {
			next++
		}
		documented, end := block(next)
		for part := range strings.SplitSeq("\n"+documented, "\nHTTP/") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			head, body, _ := strings.Cut(part, "\n")
			fields := strings.Fields(head)
			status, err := strconv.Atoi(fields[min(1, len(fields)-1)])
			if err != nil {
				t.Fatalf("README line %d: documented answer %q: want HTTP/1.1 <status> then the body", next+1, head)
			}
			ex.answers = append(ex.answers, docAnswer{status, body})
		}
		out = append(out, ex)
		i = end - 1
	}
	return out
}

// curlShim is put first on the PATH of a README block: it runs the real
// curl at DOCTEST_CURL with the README's address rewritten to the test
// gateway's, and keeps each call's headers and body (also printed, so
// pipes work) in DOCTEST_DIR as <n>.head and <n>.body.
const curlShim = `#!/bin/bash
n=$(( $(cat "$DOCTEST_DIR/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$DOCTEST_DIR/count"
args=()
for a in "$@"; do
	a=${a//localhost:8080/$DOCTEST_ADDR}
	args+=("${a//127.0.0.1:8080/$DOCTEST_ADDR}")
done
"$DOCTEST_CURL" -D "$DOCTEST_DIR/$n.head" "${args[@]}" | tee "$DOCTEST_DIR/$n.body"
exit "${PIPESTATUS[0]}"
`

// TestReadmeExamples runs the curl commands of every README block marked
// docTestMark, in order, with real curl, against the gateway started on
// configs/examples/mock.yaml as its comments say (nothing else set), and
// checks that each answer has the documented status and the documented
// JSON shape: the same keys at every level and the same value types
// (ids, secrets, numbers and timestamps may differ).
func TestReadmeExamples(t *testing.T) {
	realCurl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("the README's examples are curl commands; install curl to run them")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := readmeExamples(t, string(readme))
	if len(examples) < 2 {
		t.Fatalf("found %d README blocks marked %q, want the quick start and the admin API", len(examples), docTestMark)
	}

	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, name := range []string{"SWITCHBOARD_API_KEY", "SWITCHBOARD_MASTER_KEY"} {
		t.Setenv(name, "") // the example's defaults, as printed
	}
	t.Setenv("SWITCHBOARD_LISTEN", "127.0.0.1:0")
	t.Setenv("SWITCHBOARD_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	t.Setenv("MOCK_BASE_URL", m.URL()+"/v1")
	e := &testEnv{bin: switchboardBinary(t), config: "configs/examples/mock.yaml"}
	p := e.start(t, "switchboard")

	shims := t.TempDir()
	if err := os.WriteFile(filepath.Join(shims, "curl"), []byte(curlShim), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		dir := t.TempDir()
		cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", ex.script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"PATH="+shims+string(os.PathListSeparator)+os.Getenv("PATH"),
			"DOCTEST_CURL="+realCurl, "DOCTEST_DIR="+dir, "DOCTEST_ADDR="+strings.TrimPrefix(p.url, "http://"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("README line %d: the block fails: %v\n%s", ex.line, err, out)
			continue
		}
		calls := 0
		if b, err := os.ReadFile(filepath.Join(dir, "count")); err == nil {
			calls, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if calls != len(ex.answers) {
			t.Errorf("README line %d: %d curl calls, but %d documented answers", ex.line, calls, len(ex.answers))
		}
		for i := range min(calls, len(ex.answers)) {
			head, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.head", i+1)))
			body, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.body", i+1)))
			want := ex.answers[i]
			status := 0
			if f := strings.Fields(string(head)); len(f) > 1 {
				status, _ = strconv.Atoi(f[1])
			}
			if status != want.status {
				t.Errorf("README line %d, curl %d: status %d, documented %d: %s", ex.line, i+1, status, want.status, body)
				continue
			}
			var got, doc any
			if err := json.Unmarshal([]byte(want.body), &doc); err != nil {
				t.Errorf("README line %d, answer %d: the documented body is not JSON: %v\n%s", ex.line, i+1, err, want.body)
				continue
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Errorf("README line %d, curl %d: the answer is not JSON: %v\n%s", ex.line, i+1, err, body)
				continue
			}
			if diff := sameShape("", doc, got); diff != "" {
				var pretty bytes.Buffer
				_ = json.Indent(&pretty, body, "", "  ")
				t.Errorf("README line %d, curl %d: %s; the answer:\n%s", ex.line, i+1, diff, pretty.String())
			}
		}
	}
}

// sameShape says where doc and got differ in shape, or "": the same
// keys in every object, the same JSON type for every value, the same
// length for every list.
func sameShape(at string, doc, got any) string {
	typeOf := func(v any) string {
		switch v.(type) {
		case nil:
			return "null"
		case bool:
			return "boolean"
		case float64:
			return "number"
		case string:
			return "string"
		case []any:
			return "list"
		}
		return "object"
	}
	if typeOf(doc) != typeOf(got) {
		return fmt.Sprintf("%s: documented a %s, answered a %s", at, typeOf(doc), typeOf(got))
	}
	switch d := doc.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k := range d {
			if _, ok := g[k]; !ok {
				return fmt.Sprintf("%s: documented key %q is not in the answer", at, k)
			}
		}
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if _, ok := d[k]; !ok {
				return fmt.Sprintf("%s: the answer's key %q is not documented", at, k)
			}
			if diff := sameShape(at+"."+k, d[k], g[k]); diff != "" {
				return diff
			}
		}
	case []any:
		g := got.([]any)
		if len(d) != len(g) {
			return fmt.Sprintf("%s: documented %d items, answered %d", at, len(d), len(g))
		}
		for i := range d {
			if diff := sameShape(fmt.Sprintf("%s[%d]", at, i), d[i], g[i]); diff != "" {
				return diff
			}
		}
	}
	return ""
}
