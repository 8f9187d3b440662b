package websearch

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQueryCollapsesWhiteSpaceAndCaps(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got := Query(in)
		if got != want {
			t.Errorf("Query(%q) = %q, want %q", in, got, want)
		}
		if n := utf8.RuneCountInString(got); n > MaxQueryChars {
			t.Errorf("Query(%q) has %d characters", in, n)
		}
		if n := len(strings.Fields(got)); n > MaxQueryWords {
			t.Errorf("Query(%q) has %d words", in, n)
		}
	}
	f("", "")
	f(" \n\t ", "")
	f("  What is new in\n\nGo 1.26?\t ", "What is new in Go 1.26?")
	f("tabs\tand\u00a0nbsp\u2003em space", "tabs and nbsp em space")
	f("ctrl\x00chars\x07 here\u200b", "ctrlchars here")
	f("bad \xff utf8", "bad utf8")

	words := strings.Repeat("word ", 60)
	f(words, strings.TrimSpace(strings.Repeat("word ", 50)))

	long := strings.Repeat("abcdefghi ", 50) // 500 characters, 50 words
	f(long, strings.TrimSpace(strings.Repeat("abcdefghi ", 40)))

	f(strings.Repeat("x", 500), strings.Repeat("x", 400))
	f(strings.Repeat("é", 500)+" tail", strings.Repeat("é", 400))
}
