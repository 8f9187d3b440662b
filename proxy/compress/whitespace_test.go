package compress

import (
	"reflect"
	"strings"
	"testing"

	"switchboard/upstream/canon"
)

func TestCollapseWhitespace(t *testing.T) {
	f := func(in string, prose bool, want string) {
		t.Helper()
		got := string(appendCollapsed(nil, in, prose))
		if got != want {
			t.Errorf("appendCollapsed(%q, prose=%v) =\n%q\nwant\n%q", in, prose, got, want)
		}
		if again := string(appendCollapsed(nil, got, prose)); again != got {
			t.Errorf("not idempotent on %q: %q", got, again)
		}
		if !hasCollapsible(in, prose) && got != in {
			t.Errorf("hasCollapsible(%q) = false, but it collapses", in)
		}
	}
	// Trailing blanks go everywhere.
	f("a  \nb\t\n", false, "a\nb\n")
	f("a  \nb\t\n", true, "a\nb\n")
	f("end   ", false, "end")
	f("crlf  \r\nx\t\r\n", false, "crlf\r\nx\r\n")
	// Tool results keep their line breaks, indentation and inner runs.
	f("     1\tpackage main\n\n\n\n     5\t\tx :=  1\n", false, "     1\tpackage main\n\n\n\n     5\t\tx :=  1\n")
	// Prose: runs inside a line and runs of blank lines collapse;
	// indentation stays.
	f("Any    idea?\t\tThanks", true, "Any idea? Thanks")
	f("one\n\n\n\ntwo\n   \n\nthree", true, "one\n\ntwo\n\nthree")
	f("  - item   one\n  - item  two", true, "  - item one\n  - item two")
	// A line indented four columns may be Markdown code: inner runs stay.
	f("    x  :=  1   \n\tcase  a:", true, "    x  :=  1\n\tcase  a:")
	// Nothing changes inside a fence or on its lines.
	fenced := "Look:   \n```go  \nx  :=  1   \n\n\n\ty   \n```\nafter   text  \n"
	f(fenced, true, "Look:\n```go  \nx  :=  1   \n\n\n\ty   \n```\nafter text\n")
	f(fenced, false, "Look:\n```go  \nx  :=  1   \n\n\n\ty   \n```\nafter   text\n")
	// Tildes, longer fences, a shorter "fence" inside a longer one.
	f("~~~\na  \n~~~\nb  ", true, "~~~\na  \n~~~\nb")
	f("````\n```\na  \n```\nb  \n````\nc  ", true, "````\n```\na  \n```\nb  \n````\nc")
	// An unclosed fence runs to the end.
	f("x  \n```\ny  \n\n\nz  ", true, "x\n```\ny  \n\n\nz  ")
	// A fence must start the line (up to three spaces).
	f("say ```  then   x", true, "say ``` then x")
	f("   ```\n a  \n   ```", true, "   ```\n a  \n   ```")
	f("", true, "")
}

func TestWhitespaceKeepsWordsAndCode(t *testing.T) {
	texts := []string{
		"Here is the log:   \n\n\n```\n2026-01-01  ERROR   x   \n```\n\nAny    idea?   ",
		"# Title  \n\nSome  *markdown*   text.\n\n\n\n    code  block\n\n- a   b\n",
		strings.Repeat("word \t ", 200),
	}
	for _, in := range texts {
		for _, prose := range []bool{true, false} {
			out := string(appendCollapsed(nil, in, prose))
			if !equivalent(in, out, !prose) {
				t.Errorf("prose=%v: %q -> %q says something else", prose, in, out)
			}
		}
	}
}

func TestWhitespaceStageLeavesSignedAndCallBlocksAlone(t *testing.T) {
	c := newConv("System  prompt   with   runs.\n\n\n\nEnd.")
	c.say("user", "Do   it.   ")
	r := c.req()
	r.Messages = append(r.Messages, newConv("").exchange("Calling   now.  ", call{name: "bash", input: `{"command":  "ls   -la"}  `, result: "a \t \nb \t \n"}).r.Messages...)
	r.Messages[1].Content = append(r.Messages[1].Content, thinking("Let   me   think.   ", "sig  "))
	before := cloneRequest(r)
	rep := Compress(r, Options{Stages: 1 << Whitespace}, 0)
	if got := r.System[0].Text; got != "System prompt with runs.\n\nEnd." {
		t.Errorf("system: %q", got)
	}
	if got := r.Messages[0].Content[0].Text; got != "Do it." {
		t.Errorf("user: %q", got)
	}
	a := r.Messages[1].Content
	if a[0].Text != "Calling now." || a[1].Input != before.Messages[1].Content[1].Input || !reflect.DeepEqual(a[2], before.Messages[1].Content[2]) {
		t.Errorf("assistant turn: %+v", a)
	}
	if got := r.Messages[2].Content[0].Content[0].Text; got != "a\nb\n" {
		t.Errorf("tool result: %q", got)
	}
	if rep.Changed[Whitespace] != 4 {
		t.Errorf("changed %d texts, want 4", rep.Changed[Whitespace])
	}
}

func thinking(text, sig string) canon.Block {
	return canon.Block{Kind: canon.BlockThinking, Text: text, Signature: sig}
}
