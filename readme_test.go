package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeRepoPath matches a repo path the README names in backticks or as
// a link target: one of the repo's top-level folders, then a path.
var readmeRepoPath = regexp.MustCompile("(?:`|\\]\\()((?:bench|configs|deploy|proxy|router|store|test|upstream)/[A-Za-z0-9_./-]*)(?:`|\\))")

// TestReadmePathsExist checks that every file or folder of the repo the
// README names is there, so the README cannot point at something moved or
// gone, and that it speaks of the product, not of work items.
func TestReadmePathsExist(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, m := range readmeRepoPath.FindAllSubmatch(readme, -1) {
		path := strings.TrimSuffix(string(m[1]), "/")
		if strings.Contains(path, "node_modules") {
			continue // installed by make test-deps, not part of the repo
		}
		seen++
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the README names %s, which is not in the repo", path)
		}
	}
	if seen < 5 {
		t.Fatalf("found only %d repo paths in the README; the pattern no longer matches how it names them", seen)
	}
	for _, word := range []string{"DESIGN.md", "STYLE.md", "issue #", "(issue ", "work item"} {
		if strings.Contains(string(readme), word) {
			t.Errorf("the README mentions %q: it should speak of the product only", word)
		}
	}
}
