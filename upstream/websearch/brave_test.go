package websearch

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

const testBraveKey = "BSAtestkey0123456789abcdef"

func TestBraveSearchSendsKeyAndParsesResults(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "brave_web_search.json")
	e, err := New(Config{Engine: "brave", BaseURL: f.URL + "/res/v1", APIKey: testBraveKey})
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != "brave" {
		t.Fatalf("Name() = %q", e.Name())
	}
	got, err := e.Search(context.Background(), "go 1.26 release notes", 3)
	if err != nil {
		t.Fatal(err)
	}

	req := f.last(t)
	if req.Method != "GET" || req.Path != "/res/v1/web/search" {
		t.Errorf("request %s %s, want GET /res/v1/web/search", req.Method, req.Path)
	}
	if q, count := req.Query.Get("q"), req.Query.Get("count"); q != "go 1.26 release notes" || count != "3" {
		t.Errorf("query q=%q count=%q, want the query and 3", q, count)
	}
	if req.Query.Has("extra_snippets") {
		t.Error("extra_snippets sent though not configured")
	}
	if req.Header["X-Subscription-Token"] != testBraveKey {
		t.Errorf("X-Subscription-Token = %q, want the key", req.Header["X-Subscription-Token"])
	}
	if req.Header["Accept"] != "application/json" {
		t.Errorf("Accept = %q, want application/json", req.Header["Accept"])
	}
	if req.Header["Accept-Encoding"] != "gzip" {
		t.Errorf("Accept-Encoding = %q, want gzip", req.Header["Accept-Encoding"])
	}

	want := []Result{
		{
			Title:     "Go 1.26 Release Notes - The Go Programming Language",
			URL:       "https://go.dev/doc/go1.26",
			Snippet:   "The latest Go release, version 1.26, arrives six months after Go 1.25. Most of its changes are in the implementation of the toolchain, runtime, and libraries. As always, the release maintains the Go 1 promise of compatibility. Go 1.26 adds iterator functions to the maps & slices packages.",
			Published: "2026-02-10",
		},
		{
			Title:     "Go 1.26 is released! - The Go Blog",
			URL:       "https://go.dev/blog/go1.26",
			Snippet:   "Today the Go team is happy to release Go 1.26. You can find it on the download page.",
			Published: "3 days ago",
		},
		{
			Title:     "r/golang on Reddit: Go 1.26 released",
			URL:       "https://www.reddit.com/r/golang/comments/1abcd/go_126_released/",
			Snippet:   "Posted by u/gopher - 412 votes and 87 comments",
			Published: "2026-02-11",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results:\n got %#v\nwant %#v", got, want)
	}
}

func TestBraveAsksForExtraSnippetsWhenConfigured(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "brave_web_search.json")
	e, err := New(Config{Engine: "brave", BaseURL: f.URL, APIKey: testBraveKey, ExtraSnippets: true, ContentLength: 120})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Search(context.Background(), "go", 1)
	if err != nil {
		t.Fatal(err)
	}
	if v := f.last(t).Query.Get("extra_snippets"); v != "true" {
		t.Errorf("extra_snippets = %q, want true", v)
	}
	if len(got) != 1 || len([]rune(got[0].Snippet)) > 120 || got[0].Snippet[len(got[0].Snippet)-len("…"):] != "…" {
		t.Errorf("got %#v, want one result with a snippet cut at 120 characters", got)
	}
}

func TestBraveCountIsClamped(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "brave_web_search.json")
	e, err := New(Config{Engine: "brave", BaseURL: f.URL, APIKey: testBraveKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		max  int
		want string
	}{{0, "5"}, {-3, "5"}, {7, "7"}, {50, "20"}} {
		if _, err := e.Search(context.Background(), "go", c.max); err != nil {
			t.Fatal(err)
		}
		if got := f.last(t).Query.Get("count"); got != c.want {
			t.Errorf("max %d: count=%s, want %s", c.max, got, c.want)
		}
	}
}

func TestBraveWithoutWebSectionHasNoResults(t *testing.T) {
	got, err := parseBrave([]byte(`{"type":"search","query":{"original":"x"},"news":{"type":"news","results":[]}}`), 5, 1000)
	if err != nil || len(got) != 0 {
		t.Errorf("got %v, %v; want no results, no error", got, err)
	}
}

func TestBraveReadsGzipAnswers(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "brave_web_search.json")
	f.setGzip(true)
	e, err := New(Config{Engine: "brave", BaseURL: f.URL, APIKey: testBraveKey})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Search(context.Background(), "go", 2)
	if err != nil || len(got) != 2 || got[0].URL != "https://go.dev/doc/go1.26" {
		t.Errorf("got %v, %v; want the two first results", got, err)
	}
}

func TestSearchSendsAQueryWithinBraveLimits(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "brave_web_search.json")
	e, err := New(Config{Engine: "brave", BaseURL: f.URL, APIKey: testBraveKey})
	if err != nil {
		t.Fatal(err)
	}
	long := "  explain\n\n" + strings.Repeat("the gateway ", 100)
	if _, err := e.Search(context.Background(), long, 5); err != nil {
		t.Fatal(err)
	}
	q := f.last(t).Query.Get("q")
	if q != Query(long) || len([]rune(q)) > MaxQueryChars || len(strings.Fields(q)) > MaxQueryWords || q[:13] != "explain the g" {
		t.Errorf("q = %q, want the message as a query within 400 characters and 50 words", q)
	}
}
