package compress

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"switchboard/bench/corpus"
	"switchboard/upstream/canon"
)

func TestDedupeKeepsFirstCopyAndPointsBack(t *testing.T) {
	file := lines("a.go", 40)
	c := newConv("You are a coding agent.").say(canon.RoleUser, "Fix a.go").
		exchange("Reading.", call{name: "read_file", input: `{"path":"a.go"}`, result: file}).
		exchange("Again.", call{name: "read_file", input: `{"path":"a.go"}`, result: file}).
		exchange("Once more, with b.", call{name: "read_file", result: file}, call{name: "read_file", result: lines("b.go", 40)})
	r := c.req()
	rep := Compress(r, Options{Stages: 1 << Dedupe}, 0)
	if rep.Changed[Dedupe] != 2 || !rep.Applied.Has(Dedupe) {
		t.Fatalf("report %+v, want 2 duplicates replaced", rep)
	}
	if got := r.Messages[2].Content[0].Content[0].Text; got != file {
		t.Fatalf("first copy changed: %.80q", got)
	}
	want := "[same content as the read_file result of call call_01 above]"
	for _, at := range [][2]int{{4, 0}, {6, 0}} {
		if got := r.Messages[at[0]].Content[at[1]].Content[0].Text; got != want {
			t.Errorf("message %d block %d: got %q, want %q", at[0], at[1], got, want)
		}
	}
	if got := r.Messages[6].Content[1].Content[0].Text; got != lines("b.go", 40) {
		t.Errorf("distinct content replaced: %.80q", got)
	}
	if rep.After >= rep.Before || rep.SavedBy[Dedupe] != rep.Before-rep.After {
		t.Errorf("tokens %d -> %d, saved by dedupe %d", rep.Before, rep.After, rep.SavedBy[Dedupe])
	}
	checkPairs(t, r, "dedupe")
	checkLossless(t, c.req(), r)
}

func TestDedupeLongTextsAndShortOnes(t *testing.T) {
	log := strings.Repeat("2026-03-01T10:00:00Z ERROR ledger settle failed: context deadline exceeded\n", 8)
	c := newConv("").say(canon.RoleUser, "Here is the log:\n"+log).
		exchange("", call{name: "read_file", result: "ok"}).
		say(canon.RoleAssistant, "Noted.").
		say(canon.RoleUser, "Here is the log:\n"+log, "ok")
	r := c.req()
	Compress(r, Options{Stages: Lossless}, 0)
	got := r.Messages[len(r.Messages)-1].Content
	if want := `[same text as the user message above that begins "Here is the log:"]`; got[0].Text != want {
		t.Errorf("long text: got %q, want %q", got[0].Text, want)
	}
	if got[1].Text != "ok" {
		t.Errorf("a short text was replaced: %q", got[1].Text)
	}
	checkLossless(t, c.req(), r)
}

func TestDedupeSkipsPointersThatCostMore(t *testing.T) {
	blank := strings.Repeat(" ", 600) // a few tokens: a pointer costs more
	c := newConv("").say(canon.RoleUser, "go").
		exchange("", call{name: "bash", result: blank}).
		exchange("", call{name: "bash", result: blank})
	r := c.req()
	rep := Compress(r, Options{Stages: 1 << Dedupe}, 0)
	if rep.Changed[Dedupe] != 0 || rep.After != rep.Before {
		t.Fatalf("report %+v: a pointer dearer than its content was used", rep)
	}
}

func TestMinifyInTheConversation(t *testing.T) {
	pretty := "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"n\": 1.50,\n  \"big\": 12345678901234567890,\n  \"s\": \"a  b\\u00e9\"\n}\n"
	c := newConv("").say(canon.RoleUser, "Check the manifest.").
		exchange("", call{name: "read_file", result: pretty}, call{name: "bash", result: "not { json"})
	r := c.req()
	rep := Compress(r, Options{Stages: 1 << Minify}, 0)
	if got, want := r.Messages[2].Content[0].Content[0].Text, `{"name":"app","version":"1.0.0","n":1.50,"big":12345678901234567890,"s":"a  b\u00e9"}`; got != want {
		t.Errorf("minified: got %s, want %s", got, want)
	}
	if got := r.Messages[2].Content[1].Content[0].Text; got != "not { json" {
		t.Errorf("text that is not JSON changed: %q", got)
	}
	if rep.Changed[Minify] != 1 {
		t.Errorf("changed %d, want 1", rep.Changed[Minify])
	}
	checkLossless(t, c.req(), r)
}

func TestLosslessKeepsEveryDistinctContent(t *testing.T) {
	n := 12
	if raceEnabled || testing.Short() {
		n = 4
	}
	for i, src := range corpus.Corpus(7, n) {
		if corpusTokens(src) > 60_000 {
			continue // the big ones cost time and prove nothing more
		}
		r := cloneRequest(src)
		rep := Compress(r, Options{Stages: Lossless}, 0)
		checkLossless(t, src, r)
		checkPairs(t, r, fmt.Sprintf("conversation %d", i))
		if rep.After > rep.Before {
			t.Errorf("conversation %d: lossless stages cost tokens: %d -> %d", i, rep.Before, rep.After)
		}
	}
}

// corpusTokens estimates r's size without counting.
func corpusTokens(r *canon.Request) int {
	n := 0
	for _, m := range r.Messages {
		for _, b := range m.Content {
			n += len(b.Text) + len(b.Input)
			for _, c := range b.Content {
				n += len(c.Text)
			}
		}
	}
	return n / 4
}

func TestEveryStageKeepsCallsWithTheirResults(t *testing.T) {
	convs := corpus.Corpus(11, 6)
	stages := []Stages{1 << Dedupe, 1 << Minify, 1 << Whitespace, 1 << Truncate, 1 << MiddleOut, Lossy, All}
	for i, src := range convs {
		for _, s := range stages {
			for _, budget := range []int{2000, 8000, 30000} {
				r := cloneRequest(src)
				rep := Compress(r, Options{Stages: s, Budget: budget, KeepLast: 4}, 0)
				what := fmt.Sprintf("conversation %d, stages %s, budget %d", i, s, budget)
				checkPairs(t, r, what)
				checkNoNewOrphans(t, src, r)
				if got := Tokens(r); got != rep.After {
					t.Fatalf("%s: report says %d tokens after, the request has %d", what, rep.After, got)
				}
			}
		}
	}
}

func TestMiddleOutKeepsSystemFirstTurnAndLastMessages(t *testing.T) {
	c := newConv("You are a coding agent. Never drop me.").
		say(canon.RoleUser, "<system-reminder>AGENTS.md</system-reminder>").
		say(canon.RoleUser, "Fix the ledger tests.")
	for i := range 30 {
		c.exchange(fmt.Sprintf("Step %d.", i), call{name: "read_file", result: lines(fmt.Sprintf("f%d.go", i), 30)})
	}
	c.say(canon.RoleAssistant, "Done.").say(canon.RoleUser, "Thanks, now the docs.")
	src := c.req()
	for _, keep := range []int{1, 2, 5, 8} {
		r := c.req()
		rep := Compress(r, Options{Stages: 1 << MiddleOut, Budget: 6000, KeepLast: keep}, 0)
		if rep.Changed[MiddleOut] == 0 || rep.After > rep.Budget {
			t.Fatalf("keep %d: report %+v, want messages dropped to fit", keep, rep)
		}
		if !reflect.DeepEqual(r.System, src.System) {
			t.Fatalf("keep %d: system prompt changed", keep)
		}
		if !reflect.DeepEqual(r.Messages[:2], src.Messages[:2]) {
			t.Fatalf("keep %d: first user turn changed", keep)
		}
		note := r.Messages[2]
		want := fmt.Sprintf("[%d earlier messages omitted]", rep.Changed[MiddleOut])
		if note.Role != canon.RoleUser || note.Content[0].Text != want {
			t.Fatalf("keep %d: note %+v, want %q", keep, note, want)
		}
		if len(r.Messages) != len(src.Messages)-rep.Changed[MiddleOut]+1 {
			t.Fatalf("keep %d: %d messages, %d dropped, from %d", keep, len(r.Messages), rep.Changed[MiddleOut], len(src.Messages))
		}
		tail := src.Messages[len(src.Messages)-keep:]
		if !reflect.DeepEqual(r.Messages[len(r.Messages)-keep:], tail) {
			t.Fatalf("keep %d: last messages changed", keep)
		}
		checkPairs(t, r, fmt.Sprintf("keep %d", keep))
	}
}

func TestMiddleOutNeverSplitsACallFromItsResult(t *testing.T) {
	// KeepLast 1 would start the tail at the results of the last call:
	// the tail must grow to take the call too.
	c := newConv("sys").say(canon.RoleUser, "task")
	for i := range 10 {
		c.exchange("", call{name: "read_file", result: lines(fmt.Sprint(i), 40)}, call{name: "grep", result: lines("g"+fmt.Sprint(i), 10)})
	}
	r := c.req()
	rep := Compress(r, Options{Stages: 1 << MiddleOut, Budget: 2500, KeepLast: 1}, 0)
	checkPairs(t, r, "keep 1")
	last := r.Messages[len(r.Messages)-2:]
	if last[0].Role != canon.RoleAssistant || len(last[0].Content) != 2 || last[1].Content[0].ID != last[0].Content[0].ID {
		t.Fatalf("the last exchange was split: %+v (report %+v)", last, rep)
	}
}

func TestLossyStagesWaitForTheBudget(t *testing.T) {
	c := newConv("sys").say(canon.RoleUser, "task")
	for i := range 6 {
		c.exchange("", call{name: "read_file", result: lines(fmt.Sprint(i), 400)})
	}
	src := c.req()
	total := Tokens(src)
	f := func(o Options, window int, max int64, wantLossy bool) {
		t.Helper()
		r := cloneRequest(src)
		r.MaxTokens = max
		rep := Compress(r, o, window)
		if lossy := rep.Applied&Lossy != 0; lossy != wantLossy {
			t.Fatalf("options %+v window %d max %d: lossy applied %v, want %v (report %+v)", o, window, max, lossy, wantLossy, rep)
		}
		if wantLossy && rep.Over() {
			t.Fatalf("still over budget: %+v", rep)
		}
	}
	f(Options{Stages: All}, 0, 0, false)                         // no budget at all
	f(Options{Stages: All}, total+100, 0, false)                 // fits the window
	f(Options{Stages: All}, total+100, 1000, true)               // not with room for the answer
	f(Options{Stages: All, Budget: total / 2}, 0, 0, true)       // configured budget
	f(Options{Stages: All, Budget: total * 2}, total/2, 0, true) // the window is smaller
	f(Options{Stages: Lossless, Budget: total / 2}, 0, 0, false)
}

func TestBudgetFor(t *testing.T) {
	f := func(configured, window int, max int64, want int) {
		t.Helper()
		if got := budgetFor(configured, window, max); got != want {
			t.Errorf("budgetFor(%d, %d, %d) = %d, want %d", configured, window, max, got, want)
		}
	}
	f(0, 0, 0, 0)
	f(0, 200000, 32000, 168000)
	f(100000, 200000, 32000, 100000)
	f(300000, 200000, 32000, 168000)
	f(50000, 0, 0, 50000)
	f(0, 1000, 4000, 0)
	f(500, 1000, 4000, 500)
}

func TestTruncateSparesContentAPointerInTheTailNeeds(t *testing.T) {
	big, other := lines("big.go", 400), lines("other.go", 400)
	c := newConv("sys").say(canon.RoleUser, "task").
		exchange("", call{name: "read_file", result: big}, call{name: "read_file", result: other})
	for i := range 20 {
		c.exchange("", call{name: "grep", result: lines(fmt.Sprint(i), 5)})
	}
	c.exchange("re-read", call{name: "read_file", result: big})
	r := c.req()
	rep := Compress(r, Options{Stages: 1<<Dedupe | 1<<Truncate, Budget: 14000, KeepLast: 4}, 0)
	if got := r.Messages[2].Content[1].Content[0].Text; !strings.Contains(got, "[... 300 lines omitted ...]") {
		t.Fatalf("the old read of other.go was not truncated (report %+v): %.100q", rep, got)
	}
	if got := r.Messages[2].Content[0].Content[0].Text; got != big {
		t.Fatalf("the read of big.go a later pointer needs was truncated: %.100q", got)
	}
	if got := r.Messages[len(r.Messages)-1].Content[0].Content[0].Text; !resultPointer.MatchString(got) {
		t.Fatalf("the re-read should stay a pointer, has %.100q", got)
	}
	if rep.Over() {
		t.Fatalf("still over budget: %+v", rep)
	}
	checkPairs(t, r, "pinned")
}

func TestMiddleOutMovesContentOutOfDroppedMessages(t *testing.T) {
	file := lines("a.go", 60)
	c := newConv("sys").say(canon.RoleUser, "task").
		exchange("", call{name: "read_file", result: file})
	for i := range 12 {
		c.exchange("", call{name: "grep", result: lines(fmt.Sprint(i), 30)})
	}
	c.exchange("again", call{name: "read_file", result: file}).
		exchange("and again", call{name: "read_file", result: file})
	r := c.req()
	rep := Compress(r, Options{Stages: 1<<Dedupe | 1<<MiddleOut, Budget: 3000, KeepLast: 4}, 0)
	if rep.Changed[MiddleOut] == 0 {
		t.Fatalf("nothing dropped: %+v", rep)
	}
	n := len(r.Messages)
	second := r.Messages[n-3].Content[0]
	third := r.Messages[n-1].Content[0]
	if second.Content[0].Text != file {
		t.Fatalf("the first copy was dropped but the next one did not get the content: %.100q", second.Content[0].Text)
	}
	if want := "[same content as the read_file result of call " + second.ID + " above]"; third.Content[0].Text != want {
		t.Fatalf("the last copy should point to the new holder: got %q, want %q", third.Content[0].Text, want)
	}
	if rep.SavedBy[Dedupe]+rep.SavedBy[MiddleOut] != rep.Saved() {
		t.Fatalf("savings do not add up: %+v", rep)
	}
	checkPairs(t, r, "relocated")
}

func TestCompressIsDeterministic(t *testing.T) {
	for _, src := range corpus.Corpus(3, 4) {
		for _, o := range []Options{{Stages: Lossless}, {Stages: All, Budget: 8000}} {
			a, b := cloneRequest(src), cloneRequest(src)
			ra, rb := Compress(a, o, 0), Compress(b, o, 0)
			if ra != rb || !reflect.DeepEqual(a, b) {
				t.Fatalf("two runs differ: %+v vs %+v", ra, rb)
			}
		}
	}
}

// TestPrefixStable replays a conversation turn by turn, as an agent
// sends it, and checks that compressing turn k+1 leaves the turns it
// shares with turn k as turn k's compression had them: always with the
// lossless stages; with the lossy ones, on most of the turns over budget.
func TestPrefixStable(t *testing.T) {
	src := corpus.Generate(42, 90_000)
	f := func(o Options, minStable float64) {
		t.Helper()
		var prev *canon.Request
		turns, stable := 0, 0
		for k := 3; k <= len(src.Messages); k += 2 {
			r := cloneRequest(src)
			r.Messages = r.Messages[:k]
			rep := Compress(r, o, 0)
			if prev != nil && (o.Stages&Lossy == 0 || rep.Applied&Lossy != 0) {
				turns++
				shared := len(prev.Messages) - 1 // its last message was the newest
				if len(r.Messages) > shared && reflect.DeepEqual(prev.Messages[:shared], r.Messages[:shared]) {
					stable++
				} else if o.Stages&Lossy == 0 {
					t.Fatalf("turn %d rewrote an earlier turn with lossless stages", k)
				}
			}
			prev = r
		}
		if turns == 0 || float64(stable)/float64(turns) < minStable {
			t.Fatalf("stages %s: %d of %d turns kept the earlier turns' bytes, want at least %.0f%%", o.Stages, stable, turns, minStable*100)
		}
		t.Logf("stages %s budget %d: %d of %d turns kept every earlier byte", o.Stages, o.Budget, stable, turns)
	}
	f(Options{Stages: Lossless}, 1)
	f(Options{Stages: All, Budget: 30_000}, 0.75)
}

func TestNothingEnabledCountsNothing(t *testing.T) {
	r := newConv("sys").say(canon.RoleUser, "hi  there   ").req()
	if rep := Compress(r, Options{}, 100); rep != (Report{}) || r.Messages[0].Content[0].Text != "hi  there   " {
		t.Fatalf("compression off changed something: %+v", rep)
	}
}

func TestCompressEdgeCases(t *testing.T) {
	o := Options{Stages: All, Budget: 10}
	for name, r := range map[string]*canon.Request{
		"empty":           {},
		"system only":     {System: []canon.Block{{Kind: canon.BlockText, Text: strings.Repeat("word ", 100)}}},
		"no assistant":    newConv("").say(canon.RoleUser, strings.Repeat("x ", 500)).req(),
		"assistant first": newConv("").say(canon.RoleAssistant, "hello").say(canon.RoleUser, strings.Repeat("y ", 500)).req(),
		"empty messages":  {Messages: []canon.Message{{Role: canon.RoleUser}, {Role: canon.RoleAssistant}, {Role: canon.RoleUser}}},
		"image result": newConv("").say(canon.RoleUser, "look").exchange("", call{name: "screenshot", result: "x"}).
			say(canon.RoleUser, strings.Repeat("z ", 300)).req(),
	} {
		t.Run(name, func(t *testing.T) {
			before := cloneRequest(r)
			rep := Compress(r, o, 0)
			if rep.Before != Tokens(before) || rep.After != Tokens(r) {
				t.Fatalf("report %+v, tokens %d -> %d", rep, Tokens(before), Tokens(r))
			}
			checkNoNewOrphans(t, before, r)
		})
	}
}

func TestMidConversationSystemMessagesStay(t *testing.T) {
	c := newConv("").say(canon.RoleUser, "task")
	for i := range 12 {
		c.exchange("", call{name: "read_file", result: lines(fmt.Sprint(i), 50)})
		if i == 3 {
			c.say(canon.RoleSystem, "Reminder: the user prefers tabs.")
		}
	}
	r := c.req()
	rep := Compress(r, Options{Stages: 1 << MiddleOut, Budget: 3000, KeepLast: 2}, 0)
	if rep.Changed[MiddleOut] == 0 {
		t.Fatalf("nothing dropped: %+v", rep)
	}
	found := false
	for _, m := range r.Messages {
		if m.Role == canon.RoleSystem && m.Content[0].Text == "Reminder: the user prefers tabs." {
			found = true
		}
	}
	if !found {
		t.Fatal("a system message in the middle was dropped")
	}
	checkPairs(t, r, "system kept")
}
