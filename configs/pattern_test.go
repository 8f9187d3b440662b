package configs

import (
	"strings"
	"testing"
)

func TestModelPatternMatch(t *testing.T) {
	f := func(pattern, model string, want bool) {
		t.Helper()
		p, err := ParseModelPattern(pattern)
		if err != nil {
			t.Fatalf("ParseModelPattern(%q): %v", pattern, err)
		}
		if got := p.Match(model); got != want {
			t.Fatalf("%q.Match(%q) = %v, want %v", pattern, model, got, want)
		}
		if p.String() != pattern {
			t.Fatalf("String() = %q, want %q", p.String(), pattern)
		}
	}
	f("claude-*", "claude-opus-4-7", true)
	f("claude-*", "claude-", true)
	f("claude-*", "claude", false)
	f("claude-*", "anthropic/claude-x", false)
	f("o3*", "o3", true)
	f("o3*", "o3-mini", true)
	f("o3*", "o30", true)
	f("o3*", "o1", false)
	f("gpt-*-codex", "gpt-5.1-codex", true)
	f("gpt-*-codex", "gpt-5.1-codex-mini", false)
	f("gpt-*-codex", "gpt-codex", false) // the prefix and suffix may not overlap
	f("gpt-*-codex*", "gpt-5-codex-mini", true)
	f("a*b*c", "abc", true)
	f("a*b*c", "axxbyyc", true)
	f("a*b*c", "acb", false)
	f("meta-llama/*", "meta-llama/Llama-3.3-70B", true)
	if (ModelPattern{}).Match("x") {
		t.Fatal("the zero ModelPattern matched")
	}
}

func TestModelPatternMatchDoesNotAllocate(t *testing.T) {
	p, err := ParseModelPattern("gpt-*-codex*")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Match("gpt-5.1-codex-mini") }); n != 0 {
		t.Fatalf("Match allocates %.0f times", n)
	}
}

func TestKnownModelMatchesPatterns(t *testing.T) {
	c := &Config{Providers: []Provider{{Name: "anthropic", Models: []string{"claude-*"}}}}
	if !c.knownModel("claude-opus-4-7:floor", nil) || c.knownModel("gpt-5", nil) {
		t.Fatal("a fallback model is known by a provider's pattern, and only by it")
	}
}

// FuzzModelPattern: parsing never panics, and a pattern that parses
// matches the text its '*'s stand in for, with them empty or filled.
func FuzzModelPattern(f *testing.F) {
	for _, s := range []string{"claude-*", "gpt-*-codex*", "a*b*c", "*", "x**", "o3*", "a*?"} {
		f.Add(s, "mid")
	}
	f.Fuzz(func(t *testing.T, pattern, fill string) {
		p, err := ParseModelPattern(pattern)
		if err != nil {
			return
		}
		for _, f := range []string{"", fill} {
			if id := strings.ReplaceAll(pattern, "*", f); !p.Match(id) {
				t.Fatalf("%q does not match %q", pattern, id)
			}
		}
	})
}
