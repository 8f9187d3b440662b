package websearch

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPlainTextStripsMarkupAndEntities(t *testing.T) {
	f := func(in string, max int, want string) {
		t.Helper()
		if got := plainText(in, max); got != want {
			t.Errorf("plainText(%q, %d) = %q, want %q", in, max, got, want)
		}
	}
	f("The <strong>Go</strong> programming language", 0, "The Go programming language")
	f("<strong>Go</strong>lang", 0, "Golang")
	f(`<a href="https://go.dev">go.dev</a>: <em>fast</em>`, 0, "go.dev: fast")
	f("line one<br>line two<p>para</p>", 0, "line one line two para")
	f("Tom &amp; Jerry &lt;3 &quot;cartoon&quot; &#39;90s&#8230; caf&eacute;", 0, `Tom & Jerry <3 "cartoon" '90s… café`)
	f("&lt;script&gt;alert(1)&lt;/script&gt;", 0, "<script>alert(1)</script>") // escaped text stays text
	f("a < b and c > d", 0, "a < b and c > d")
	f("x <3 y", 0, "x <3 y")
	f("before<script>var x = '<b>';</script>after", 0, "before after")
	f("before<STYLE type=text/css>p { color: red }</STYLE>after", 0, "before after")
	f("keep<!-- a comment with <b>tags</b> -->this", 0, "keepthis")
	f("unterminated <b", 0, "unterminated <b")
	f("dangling comment <!-- never closed", 0, "dangling comment")
	f("\n\t  lots   of\u00a0\u00a0space\r\n ", 0, "lots of space")
	f("zero\u200bwidth\ufeff and\x00control\x07chars", 0, "zerowidth andcontrolchars")
	f("bad \xff\xfe utf8", 0, "bad utf8")
	f("", 10, "")
	f("<b></b>", 10, "")
}

func TestPlainTextCapsLengthAtAWordBoundary(t *testing.T) {
	f := func(in string, max int, want string) {
		t.Helper()
		got := plainText(in, max)
		if got != want {
			t.Errorf("plainText(%q, %d) = %q, want %q", in, max, got, want)
		}
		if n := utf8.RuneCountInString(got); n > max {
			t.Errorf("plainText(%q, %d) has %d characters", in, max, n)
		}
	}
	f("short enough", 12, "short enough")
	f("the quick brown fox jumps over", 20, "the quick brown fox…")
	f("the quick brown fox, jumps", 21, "the quick brown fox…")
	f("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…")
	f("ééééééééééé", 5, "éééé…")
	f("日本語のテキストです", 4, "日本語…")
	f("one two", 1, "…")
}

func TestPublishedReadsEngineDates(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := published(in); got != want {
			t.Errorf("published(%q) = %q, want %q", in, got, want)
		}
	}
	f("", "")
	f("2026-02-10T17:44:56", "2026-02-10")
	f("2026-02-10T17:44:56.123456", "2026-02-10")
	f("2026-02-10T23:44:56+02:00", "2026-02-10")
	f("2026-02-10 08:30:00", "2026-02-10")
	f("2026-02-10", "2026-02-10")
	f("Tue, 10 Feb 2026 17:44:56 GMT", "2026-02-10")
	f("February 10, 2026", "2026-02-10")
	f("3 days ago", "3 days ago")
	f("<b>yesterday</b>", "yesterday")
	f("0001-01-01T00:00:00", "")
	f(strings.Repeat("x", 100), strings.Repeat("x", 39)+"…")
}

func TestResultURLKeepsOnlyCitableLinks(t *testing.T) {
	for in, ok := range map[string]bool{
		"https://go.dev/doc/go1.26":              true,
		"  http://example.com/a?b=c#d  ":         true,
		"https://example.com/a%20b":              true,
		"javascript:alert(1)":                    false,
		"data:text/html,hi":                      false,
		"/relative/path":                         false,
		"https://":                               false,
		"http://:":                               false,
		"ftp://example.com/file":                 false,
		"https://example.com/a b":                false,
		"https://example.com/wiki/Go_(language)": false,
		"https://example.com/\x00":               false,
		"https://" + strings.Repeat("a", 3000):   false,
	} {
		got, _ := resultURL(in)
		if (got != "") != ok {
			t.Errorf("resultURL(%q) = %q, want kept=%v", in, got, ok)
		}
	}
}

func TestCollectorDropsUnusableAndRepeatedResults(t *testing.T) {
	c := newCollector(3, 100)
	c.add("JS", "javascript:alert(1)", "", "x")
	c.add("", "https://example.com/page", "", "first")
	c.add("Again", "https://example.com/page", "", "repeat")
	c.add("B", "https://b.example/", "", "same", "same", "other")
	c.add("C", "https://c.example/", "", "")
	c.add("D", "https://d.example/", "", "over max")
	want := []Result{
		{Title: "example.com", URL: "https://example.com/page", Snippet: "first"},
		{Title: "B", URL: "https://b.example/", Snippet: "same other"},
		{Title: "C", URL: "https://c.example/"},
	}
	if len(c.out) != len(want) {
		t.Fatalf("got %#v, want %#v", c.out, want)
	}
	for i := range want {
		if c.out[i] != want[i] {
			t.Errorf("result %d: got %#v, want %#v", i, c.out[i], want[i])
		}
	}
}
