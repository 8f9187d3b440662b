package websearch

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

type annotation struct {
	Type        string `json:"type"`
	URLCitation struct {
		URL        string `json:"url"`
		Title      string `json:"title"`
		Content    string `json:"content"`
		StartIndex *int   `json:"start_index"`
		EndIndex   *int   `json:"end_index"`
	} `json:"url_citation"`
}

func TestAppendAnnotationsIsValidJSONInResultOrder(t *testing.T) {
	got := AppendAnnotations(nil, testResults, "")
	golden(t, "annotations", got)

	var anns []annotation
	if err := json.Unmarshal(got, &anns); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, got)
	}
	if len(anns) != len(testResults) {
		t.Fatalf("%d annotations for %d results", len(anns), len(testResults))
	}
	for i, a := range anns {
		r := testResults[i]
		if a.Type != "url_citation" || a.URLCitation.URL != r.URL || a.URLCitation.Title != r.Title || a.URLCitation.Content != r.Snippet {
			t.Errorf("annotation %d = %+v, want result %+v", i, a, r)
		}
		if a.URLCitation.StartIndex != nil || a.URLCitation.EndIndex != nil {
			t.Errorf("annotation %d has indexes without content", i)
		}
	}
}

func TestAppendAnnotationsLocatesCitationsInCodePoints(t *testing.T) {
	content := "Über Go 1.26: it adds iterators [go.dev](https://go.dev/doc/go1.26). " +
		"See https://pkg.go.dev/iter?tab=doc&x=1 for the package; again [go.dev](https://go.dev/doc/go1.26)."
	got := AppendAnnotations(nil, testResults, content)
	var anns []annotation
	if err := json.Unmarshal(got, &anns); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, got)
	}
	runes := []rune(content)
	span := func(i int) string {
		a := anns[i].URLCitation
		if a.StartIndex == nil || a.EndIndex == nil {
			return "<none>"
		}
		return string(runes[*a.StartIndex:*a.EndIndex])
	}
	if s := span(0); s != "[go.dev](https://go.dev/doc/go1.26)" {
		t.Errorf("citation 1 spans %q, want the first markdown link", s)
	}
	if s := span(1); s != "https://pkg.go.dev/iter?tab=doc&x=1" {
		t.Errorf("citation 2 spans %q, want the bare URL", s)
	}
	if s := span(2); s != "<none>" {
		t.Errorf("uncited result 3 spans %q, want no indexes", s)
	}
}

func TestAppendSourcesListsURLAndTitle(t *testing.T) {
	got := AppendSources([]byte(`{"web_sources":`), testResults)
	got = append(got, '}')
	const want = `{"web_sources":[` +
		`{"url":"https://go.dev/doc/go1.26","title":"Go 1.26 Release Notes - The Go Programming Language"},` +
		`{"url":"https://pkg.go.dev/iter?tab=doc&x=1","title":"The \"iter\" package — Go's iterators"},` +
		`{"url":"https://example.com/empty","title":"example.com"}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(got) {
		t.Error("not valid JSON")
	}
	if got := AppendSources(nil, nil); string(got) != "[]" {
		t.Errorf("no results: %s, want []", got)
	}
	if got := AppendAnnotations(nil, nil, "x"); string(got) != "[]" || !utf8.Valid(got) {
		t.Errorf("no results: %s, want []", got)
	}
}
