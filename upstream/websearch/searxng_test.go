package websearch

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSearXNGSearchSendsQueryAndParsesResults(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "searxng_search.json")
	e, err := New(Config{Engine: "searxng", BaseURL: f.URL + "/searx/"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != "searxng" {
		t.Fatalf("Name() = %q", e.Name())
	}
	got, err := e.Search(context.Background(), "go 1.26 release notes", 3)
	if err != nil {
		t.Fatal(err)
	}

	req := f.last(t)
	if req.Method != "GET" || req.Path != "/searx/search" {
		t.Errorf("request %s %s, want GET /searx/search", req.Method, req.Path)
	}
	if q, format := req.Query.Get("q"), req.Query.Get("format"); q != "go 1.26 release notes" || format != "json" {
		t.Errorf("query q=%q format=%q, want the query and json", q, format)
	}
	if req.Header["Accept"] != "application/json" {
		t.Errorf("Accept = %q", req.Header["Accept"])
	}
	for _, h := range []string{"Authorization", "X-Subscription-Token"} {
		if v, ok := req.Header[h]; ok {
			t.Errorf("SearXNG needs no key, got %s: %q", h, v)
		}
	}

	want := []Result{
		{
			Title:   "Go 1.26 Release Notes - The Go Programming Language",
			URL:     "https://go.dev/doc/go1.26",
			Snippet: "The latest Go release, version 1.26, arrives six months after Go 1.25. Most of its changes are in the implementation of the toolchain, runtime, and libraries.",
		},
		{
			Title:     "Go 1.26 is released! - The Go Programming Language",
			URL:       "https://go.dev/blog/go1.26",
			Snippet:   "Today the Go team is happy to release Go 1.26. You can find it on the download page. Go 1.26 comes with new language features & improvements…",
			Published: "2026-02-10",
		},
		{
			Title:   "Issues · golang/go · GitHub",
			URL:     "https://github.com/golang/go/issues?q=milestone%3AGo1.26",
			Snippet: "The Go programming language. Contribute to golang/go development by creating an account on GitHub.",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results:\n got %#v\nwant %#v", got, want)
	}
}

func TestSearXNGKeepsAllResultsUpToMax(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "searxng_search.json")
	e, err := New(Config{Engine: "searxng", BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Search(context.Background(), "go", 0) // default 5; the page has 4
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[3].Published != "2026-01-20" {
		t.Errorf("got %d results, the last published %q; want 4, 2026-01-20", len(got), got[len(got)-1].Published)
	}
}

func TestSearXNGWithoutResultsNamesUnresponsiveEngines(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "searxng_unresponsive.json")
	e, err := New(Config{Engine: "searxng", BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Search(context.Background(), "go", 5)
	var se *Error
	if !errors.As(err, &se) || se.Engine != "searxng" {
		t.Fatalf("err = %v, want *Error of searxng", err)
	}
	const want = `web search "searxng": no results; unresponsive engines: brave: too many requests, duckduckgo: CAPTCHA, google: timeout`
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
}

func TestSearXNGForbiddenSaysJSONMayBeOff(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 403, "searxng_403.html")
	e, err := New(Config{Engine: "searxng", BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Search(context.Background(), "go", 5)
	if err == nil || !strings.Contains(err.Error(), "status 403: 403 Forbidden Forbidden You don't have the permission") ||
		!strings.Contains(err.Error(), "search.formats") {
		t.Errorf("err = %v, want the 403 page's text and the search.formats hint", err)
	}
}
