package websearch

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const testTavilyKey = "tvly-dev-test0123456789abcdef"

func TestTavilySearchSendsBearerKeyAndBodyAndParsesResults(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "tavily_search.json")
	e, err := New(Config{Engine: "tavily", BaseURL: f.URL, APIKey: testTavilyKey})
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != "tavily" {
		t.Fatalf("Name() = %q", e.Name())
	}
	got, err := e.Search(context.Background(), `go 1.26 "release notes"`, 3)
	if err != nil {
		t.Fatal(err)
	}

	req := f.last(t)
	if req.Method != "POST" || req.Path != "/search" {
		t.Errorf("request %s %s, want POST /search", req.Method, req.Path)
	}
	if req.Header["Authorization"] != "Bearer "+testTavilyKey {
		t.Errorf("Authorization = %q, want the Bearer key", req.Header["Authorization"])
	}
	if req.Header["Content-Type"] != "application/json" {
		t.Errorf("Content-Type = %q", req.Header["Content-Type"])
	}
	const wantBody = `{"query":"go 1.26 \"release notes\"","max_results":3,"search_depth":"basic"}`
	if string(req.Body) != wantBody {
		t.Errorf("body = %s\nwant %s", req.Body, wantBody)
	}
	if strings.Contains(string(req.Body), testTavilyKey) || strings.Contains(string(req.Body), "api_key") {
		t.Error("the key went into the body")
	}
	if !json.Valid(req.Body) {
		t.Error("body is not valid JSON")
	}

	want := []Result{
		{
			Title:   "Go 1.26 Release Notes - The Go Programming Language",
			URL:     "https://go.dev/doc/go1.26",
			Snippet: "The latest Go release, version 1.26, arrives six months after Go 1.25. Most of its changes are in the implementation of the toolchain, runtime, and libraries. As always, the release maintains the Go 1 promise of compatibility.",
		},
		{
			Title:     "Go 1.26 is released! - The Go Programming Language",
			URL:       "https://go.dev/blog/go1.26",
			Snippet:   "Today the Go team is happy to release Go 1.26. You can find it on the download page. [...] Go 1.26 comes with new language features and improvements to the toolchain.",
			Published: "2026-02-10",
		},
		{
			Title:   "Go 1.26 Released with Faster Builds - InfoQ",
			URL:     "https://www.infoq.com/news/2026/02/go-126-released/",
			Snippet: "The Go team released Go 1.26, which brings faster builds and a new experimental garbage collector.",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results:\n got %#v\nwant %#v", got, want)
	}
}

func TestTavilySendsConfiguredDepthAndClampedMax(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "tavily_search.json")
	e, err := New(Config{Engine: "tavily", BaseURL: f.URL, APIKey: testTavilyKey, Depth: "advanced"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Search(context.Background(), "go", 99); err != nil {
		t.Fatal(err)
	}
	var body struct {
		MaxResults  int    `json:"max_results"`
		SearchDepth string `json:"search_depth"`
	}
	if err := json.Unmarshal(f.last(t).Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.MaxResults != 20 || body.SearchDepth != "advanced" {
		t.Errorf("body %+v, want max_results 20, search_depth advanced", body)
	}
}

func TestTavilyValidationErrorGivesItsMessage(t *testing.T) {
	if got := tavilyMessage(400, readTestdata(t, "tavily_400.json")); got != "Field required" {
		t.Errorf("message %q, want Field required", got)
	}
	if got := tavilyMessage(404, []byte(`{"detail":"Not Found"}`)); got != "Not Found" {
		t.Errorf("message %q, want Not Found", got)
	}
}

func TestResultsDoNotShareTheAnswersMemory(t *testing.T) {
	body := readTestdata(t, "tavily_search.json")
	got, err := parseTavily(body, 5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := got[0]
	for i := range body {
		body[i] = 'x'
	}
	if got[0] != want || got[0].URL != "https://go.dev/doc/go1.26" {
		t.Errorf("result changed with the answer's buffer: %#v", got[0])
	}
}
