package websearch

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// golden checks got against testdata/name, a datadriven file with one
// command, name; go test ./upstream/websearch -rewrite rewrites it. The
// expected output is got and a newline, so that the file shows whether
// got ends with a newline (datadriven adds one only where it is missing).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	n := 0
	datadriven.RunTest(t, filepath.Join("testdata", name), func(t *testing.T, d *datadriven.TestData) string {
		if n++; d.Cmd != name {
			d.Fatalf(t, "want command %q, got %q", name, d.Cmd)
		}
		return string(got) + "\n"
	})
	if n != 1 {
		t.Fatalf("testdata/%s has %d commands, want one", name, n)
	}
}

// testResults are three results as an engine returns them, with text
// that JSON must escape.
var testResults = []Result{
	{
		Title:     "Go 1.26 Release Notes - The Go Programming Language",
		URL:       "https://go.dev/doc/go1.26",
		Snippet:   "The latest Go release, version 1.26, arrives six months after Go 1.25.",
		Published: "2026-02-10",
	},
	{
		Title:   `The "iter" package — Go's iterators`,
		URL:     "https://pkg.go.dev/iter?tab=doc&x=1",
		Snippet: "Package iter provides basic definitions and operations related to iterators over sequences.\\ Ünïcödé ✓",
	},
	{
		Title: "example.com",
		URL:   "https://example.com/empty",
	},
}

var testDate = time.Date(2026, 10, 12, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600))

func TestAppendPromptMirrorsOpenRouterAndNumbersResults(t *testing.T) {
	got := AppendPrompt(nil, testResults, Prompt{Date: testDate})
	golden(t, "prompt", got)

	const head = "A web search was conducted on 2026-10-13. Incorporate the following web search results into your response.\n\n" +
		"IMPORTANT: Cite them using markdown links named using the domain of the source.\n" +
		"Example: [nytimes.com](https://nytimes.com/some-page).\n\n[1] "
	if !strings.HasPrefix(string(got), head) {
		t.Errorf("prompt does not start with OpenRouter's default (date in UTC):\n%s", got)
	}
	one := strings.Index(string(got), "\n[1] ")
	two := strings.Index(string(got), "\n[2] ")
	three := strings.Index(string(got), "\n[3] ")
	if !(one >= 0 && one < two && two < three) {
		t.Errorf("results not numbered in order:\n%s", got)
	}
}

func TestAppendPromptUsesCustomTextAndCaps(t *testing.T) {
	got := string(AppendPrompt([]byte("prefix|"), testResults[:2], Prompt{Text: "Some relevant web results:", ContentLength: 20}))
	want := "prefix|Some relevant web results:\n" +
		"\n[1] Go 1.26 Release Notes - The Go Programming Language (https://go.dev/doc/go1.26)\n" +
		"Published: 2026-02-10\n" +
		"The latest Go…\n" +
		"\n[2] The \"iter\" package — Go's iterators (https://pkg.go.dev/iter?tab=doc&x=1)\n" +
		"Package iter…\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAppendPromptWithoutResultsAppendsNothing(t *testing.T) {
	if got := AppendPrompt([]byte("x"), nil, Prompt{Date: testDate}); string(got) != "x" {
		t.Errorf("got %q, want dst unchanged", got)
	}
}
