package canon_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"switchboard/upstream/canon"
)

func TestAppendString(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(canon.AppendString(nil, in)); got != want {
			t.Fatalf("AppendString(%q) = %s, want %s", in, got, want)
		}
	}
	f("", `""`)
	f("plain <html> & text", `"plain <html> & text"`)
	f("quote \" backslash \\ newline \n tab \t cr \r", `"quote \" backslash \\ newline \n tab \t cr \r"`)
	f("\x00\x1f", `"\u0000\u001f"`)
	f("héllo ✓ 🙂", `"héllo ✓ 🙂"`)
	f("bad \xff byte", `"bad \ufffd byte"`)
}

// FuzzAppendString checks that AppendString writes JSON that decodes
// back to its input (made valid UTF-8, as encoding/json does).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c\n", "\x00\xff\xfe", "🙂\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := canon.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: not JSON: %v", s, out, err)
		}
		want := s
		if !utf8.ValidString(s) {
			var b strings.Builder
			for i := 0; i < len(s); {
				r, n := utf8.DecodeRuneInString(s[i:])
				b.WriteRune(r)
				i += n
			}
			want = b.String()
		}
		if back != want {
			t.Fatalf("AppendString(%q) decodes to %q", s, back)
		}
	})
}

func TestBudgetForEffort(t *testing.T) {
	f := func(effort string, maxTokens, want int64) {
		t.Helper()
		if got := canon.BudgetForEffort(effort, maxTokens); got != want {
			t.Fatalf("BudgetForEffort(%q, %d) = %d, want %d", effort, maxTokens, got, want)
		}
	}
	f("high", 16000, 12800)
	f("medium", 16000, 8000)
	f("low", 16000, 3200)
	f("minimal", 16000, 1600)
	f("low", 2000, 1024) // at least the minimum
	f("max", 1100, 1045) // below max_tokens
	f("high", 1024, 0)   // no room
	f("none", 16000, 0)  // not a level
	f("bogus", 16000, 0) // not a level
	g := func(budget, maxTokens int64, want string) {
		t.Helper()
		if got := canon.EffortForBudget(budget, maxTokens); got != want {
			t.Fatalf("EffortForBudget(%d, %d) = %q, want %q", budget, maxTokens, got, want)
		}
	}
	g(10000, 16000, "medium")
	g(3200, 16000, "low")
	g(12800, 16000, "high")
	g(32000, 0, "high")
	g(1024, 0, "low")
	// A level survives the trip to a budget and back.
	for _, e := range []string{"low", "medium", "high"} {
		g(canon.BudgetForEffort(e, 32000), 32000, e)
	}
}

func TestIsObject(t *testing.T) {
	for s, want := range map[string]bool{
		`{}`: true, ` {"a":[1,{"b":null}]} `: true, "{\"a\":\"\x01\"}": false,
		`{"a":1`: false, `{} {}`: false, `[]`: false, `"x"`: false, ``: false, `{"a":1}x`: false,
	} {
		if got := canon.IsObject(s); got != want {
			t.Errorf("IsObject(%q) = %v, want %v", s, got, want)
		}
	}
}
