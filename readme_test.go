package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"switchboard/proxy/api"
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

// readmeEndpoints returns "METHOD path" for every endpoint the README's
// table of the billing and admin API lists (the table whose header is
// "| endpoint | who |"): each backticked `METHOD /path` of a row's first
// cell, the query string cut off.
func readmeEndpoints(t *testing.T, readme string) []string {
	t.Helper()
	var out []string
	in := false
	for line := range strings.SplitSeq(readme, "\n") {
		if strings.HasPrefix(line, "| endpoint | who |") {
			in = true
			continue
		}
		if !in || strings.HasPrefix(line, "| ---") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break // the table ended
		}
		cell := strings.Split(line, "|")[1]
		routes := readmeRoute.FindAllStringSubmatch(cell, -1)
		if len(routes) == 0 || strings.Count(cell, "`") != 2*len(routes) {
			t.Errorf("README endpoint row %q: want its first cell to be `METHOD /path` items only", cell)
		}
		for _, m := range routes {
			out = append(out, m[1]+" "+m[2])
		}
	}
	if len(out) == 0 {
		t.Fatal(`the README has no "| endpoint | who |" table`)
	}
	return out
}

var readmeRoute = regexp.MustCompile("`(GET|POST|PUT|PATCH|DELETE) (/[^`?]*)(?:\\?[^`]*)?`")

// TestReadmeEndpointTableMatchesRoutes holds the README's billing and
// admin endpoint table to the API: every row is a route the server
// registers and that openapi.json documents, and every route the API
// registers is in the table.
func TestReadmeEndpointTableMatchesRoutes(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := readmeEndpoints(t, string(readme))
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	b, err := os.ReadFile("proxy/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var registered []string
	for _, r := range api.Routes() {
		registered = append(registered, r.Method+" "+r.Path)
	}
	for _, e := range listed {
		if !slices.Contains(registered, e) {
			t.Errorf("the README lists %s, which the server does not register", e)
		}
		method, path, _ := strings.Cut(e, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("the README lists %s, which openapi.json does not document", e)
		}
	}
	for _, r := range registered {
		if !slices.Contains(listed, r) {
			t.Errorf("the server registers %s, which the README's endpoint table does not list", r)
		}
	}
}
