package store

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata with the actual output")

// scriptCmd is one block of a Pebble-style command file:
//
//	# comments
//	cmd pos key=value ...
//	----
//	expected output
//
// Blocks are separated by blank lines; outputs have none.
type scriptCmd struct {
	comments []string
	line     int
	text     string
	name     string
	pos      []string
	args     map[string]string
	want     string
}

// arg returns a key=value argument, failing the test when it is missing.
func (c *scriptCmd) arg(t *testing.T, key string) string {
	t.Helper()
	v, ok := c.args[key]
	if !ok {
		t.Fatalf("line %d: %s: missing %s=", c.line, c.name, key)
	}
	return v
}

func parseScript(t *testing.T, path string) []*scriptCmd {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var cmds []*scriptCmd
	var comments []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.TrimSpace(l) == "":
			continue
		case strings.HasPrefix(l, "#"):
			comments = append(comments, l)
			continue
		}
		c := &scriptCmd{comments: comments, line: i + 1, text: l, args: map[string]string{}}
		comments = nil
		for j, f := range strings.Fields(l) {
			if j == 0 {
				c.name = f
			} else if k, v, ok := strings.Cut(f, "="); ok {
				c.args[k] = v
			} else {
				c.pos = append(c.pos, f)
			}
		}
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: want ---- after %q", path, i+1, l)
		}
		i += 2
		var want []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		c.want = strings.Join(want, "\n")
		cmds = append(cmds, c)
	}
	return cmds
}

// runScript runs every command of a file through run and compares the
// output; with -update it rewrites the file instead.
func runScript(t *testing.T, path string, run func(*testing.T, *scriptCmd) string) {
	t.Helper()
	cmds := parseScript(t, path)
	var out strings.Builder
	for _, c := range cmds {
		got := strings.TrimRight(run(t, c), "\n")
		if !*update && got != c.want {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", path, c.line, c.text, got, c.want)
		}
		for _, l := range c.comments {
			out.WriteString(l + "\n")
		}
		out.WriteString(c.text + "\n----\n")
		if got != "" {
			out.WriteString(got + "\n")
		}
		out.WriteString("\n")
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
