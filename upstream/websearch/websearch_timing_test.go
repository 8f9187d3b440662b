package websearch

import (
	"context"
	"testing"
)

// BenchmarkParseBrave is the work after a Brave answer arrives: decode,
// clean and copy three results.
func BenchmarkParseBrave(b *testing.B) {
	body := readTestdata(b, "brave_web_search.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := parseBrave(body, 5, DefaultContentLength); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendPromptAndAnnotations is what a web call adds to the
// request and the response.
func BenchmarkAppendPromptAndAnnotations(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPrompt(buf[:0], testResults, Prompt{Date: testDate})
		buf = AppendAnnotations(buf[:0], testResults, "")
		buf = AppendSources(buf[:0], testResults)
	}
}

// BenchmarkSearchLoopback is a whole search against a fake on loopback
// over a kept-alive connection.
func BenchmarkSearchLoopback(b *testing.B) {
	f := newFakeEngine(b)
	f.answer(200, "application/json", readTestdata(b, "tavily_search.json"))
	e, err := New(Config{Engine: "tavily", BaseURL: f.URL, APIKey: testTavilyKey})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Search(context.Background(), "go 1.26 release notes", 5); err != nil {
			b.Fatal(err)
		}
	}
}
