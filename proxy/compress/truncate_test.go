package compress

import (
	"fmt"
	"strings"
	"testing"
)

func TestTruncateText(t *testing.T) {
	numbered := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		return b.String()
	}
	f := func(in string, head, tail int, want string) {
		t.Helper()
		out, ok := appendTruncated(nil, in, head, tail)
		got := string(out)
		if !ok {
			got = in
		}
		if got != want {
			t.Errorf("truncate(%.40q, %d, %d) =\n%s\nwant\n%s", in, head, tail, got, want)
		}
		if again, ok := appendTruncated(nil, got, head, tail); ok && got != in {
			t.Errorf("truncating twice cuts again: %q", again)
		}
	}
	f(numbered(10), 2, 2, "line 1\nline 2\n[... 6 lines omitted ...]\nline 9\nline 10\n")
	f(strings.TrimSuffix(numbered(10), "\n"), 2, 3, "line 1\nline 2\n[... 5 lines omitted ...]\nline 8\nline 9\nline 10")
	// Not worth it: fewer lines omitted than half of those kept.
	f(numbered(5), 2, 2, numbered(5))
	f(numbered(6), 2, 2, "line 1\nline 2\n[... 2 lines omitted ...]\nline 5\nline 6\n")
	f(numbered(149), 50, 50, numbered(149))
	f(numbered(150), 50, 50, numbered(50)+"[... 50 lines omitted ...]\n"+strings.TrimPrefix(numbered(150), numbered(100)))
	// One huge line is cut by bytes, on rune boundaries.
	huge := strings.Repeat("é", 2000) // 4000 bytes
	out, ok := appendTruncated(nil, huge, 1, 1)
	if !ok || !strings.Contains(string(out), "bytes omitted ...]") || len(out) > 600 {
		t.Fatalf("huge line: %d bytes, ok %v", len(out), ok)
	}
	if s := string(out); !strings.HasPrefix(s, "éé") || !strings.HasSuffix(s, "éé") || strings.ContainsRune(s, '\uFFFD') {
		t.Fatalf("huge line cut badly: %q", s)
	}
	// Kept lines that are themselves huge are cut by bytes too.
	long := strings.Repeat("x", 5000) + "\n" + numbered(20) + strings.Repeat("y", 5000)
	out, ok = appendTruncated(nil, long, 1, 1)
	if !ok || len(out) > 1000 || !strings.Contains(string(out), "[... 20 lines omitted ...]") {
		t.Fatalf("long kept lines: %d bytes: %q", len(out), out)
	}
}

func TestTruncateOnlyToolResultsAfterTheHead(t *testing.T) {
	long := lines("f", 300)
	c := newConv(long).say("user", long).
		exchange(long, call{name: "bash", result: long}).
		exchange("", call{name: "bash", result: "short"})
	r := c.req()
	rep := Compress(r, Options{Stages: 1 << Truncate, Budget: 100, KeepLast: 1}, 0)
	if r.System[0].Text != long || r.Messages[0].Content[0].Text != long || r.Messages[1].Content[0].Text != long {
		t.Fatal("truncated something other than a tool result")
	}
	if got := r.Messages[2].Content[0].Content[0].Text; !strings.Contains(got, "[... 200 lines omitted ...]") {
		t.Fatalf("tool result not truncated: %.100q (report %+v)", got, rep)
	}
}
