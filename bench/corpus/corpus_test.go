package corpus

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := Generate(9, 40_000), Generate(9, 40_000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two conversations")
	}
	ja, _ := ChatJSON(a)
	jb, _ := ChatJSON(b)
	if !bytes.Equal(ja, jb) {
		t.Fatal("the same seed gave two JSON bodies")
	}
	if reflect.DeepEqual(a, Generate(10, 40_000)) {
		t.Fatal("two seeds gave the same conversation")
	}
}

func TestConversationsAreWellFormed(t *testing.T) {
	for i, r := range Corpus(1, 12) {
		ms := r.Messages
		if len(ms) < 3 || ms[0].Role != canon.RoleUser || ms[len(ms)-1].Role != canon.RoleUser {
			t.Fatalf("conversation %d: %d messages, first %s, last %s", i, len(ms), ms[0].Role, ms[len(ms)-1].Role)
		}
		for j := 1; j < len(ms); j++ {
			if ms[j].Role == ms[j-1].Role {
				t.Fatalf("conversation %d: two %s messages in a row at %d", i, ms[j].Role, j)
			}
		}
		for j, m := range ms {
			for _, b := range m.Content {
				if b.Kind != canon.BlockToolUse {
					continue
				}
				if !json.Valid([]byte(b.Input)) {
					t.Fatalf("conversation %d: call %s input is not JSON: %s", i, b.ID, b.Input)
				}
				found := 0
				for _, res := range ms[j+1].Content {
					if res.Kind == canon.BlockToolResult && res.ID == b.ID {
						found++
					}
				}
				if found != 1 {
					t.Fatalf("conversation %d: call %s has %d results in the next message", i, b.ID, found)
				}
			}
		}
	}
}

func TestCorpusSpansTheSizes(t *testing.T) {
	convs := Corpus(2, 8)
	first, last := estimate(convs[0]), estimate(convs[len(convs)-1])
	if first > 2*MinTokens || last < MaxTokens*3/4 || last > MaxTokens*3/2 {
		t.Fatalf("sizes run from %d to %d tokens (estimated), want about %d to %d", first, last, MinTokens, MaxTokens)
	}
}

// estimate is the generator's own token estimate of r.
func estimate(r *canon.Request) int {
	n := 0
	add := func(s string) { n += len(s) * 10 / 36 }
	for _, b := range r.System {
		add(b.Text)
	}
	for _, tl := range r.Tools {
		add(tl.Description + tl.Schema)
	}
	for _, m := range r.Messages {
		for _, b := range m.Content {
			add(b.Text)
			add(b.Input)
			for _, c := range b.Content {
				add(c.Text)
			}
		}
	}
	return n
}

func TestCorpusHasWhatAgentsSend(t *testing.T) {
	var parallel, repeats, jsonResults, fences, edits, thinking, tests int
	for _, r := range Corpus(3, 10) {
		seen := map[string]bool{}
		for _, m := range r.Messages {
			calls := 0
			for _, b := range m.Content {
				switch b.Kind {
				case canon.BlockToolUse:
					calls++
					if b.Name == "edit_file" {
						edits++
					}
					if b.Name == "run_tests" {
						tests++
					}
				case canon.BlockThinking:
					thinking++
				case canon.BlockText:
					if strings.Contains(b.Text, "```") {
						fences++
					}
				case canon.BlockToolResult:
					text := b.Content[0].Text
					if seen[text] {
						repeats++
					}
					seen[text] = true
					if strings.HasPrefix(text, "{") && json.Valid([]byte(text)) {
						jsonResults++
					}
				}
			}
			if calls > 1 {
				parallel++
			}
		}
	}
	for name, n := range map[string]int{"parallel calls": parallel, "repeated results": repeats, "JSON results": jsonResults,
		"code fences": fences, "edits": edits, "thinking blocks": thinking, "test runs": tests} {
		if n == 0 {
			t.Errorf("no %s in 10 conversations", name)
		}
	}
}

func TestWireFormsDecode(t *testing.T) {
	r := Generate(4, 20_000)
	calls := 0
	for _, m := range r.Messages {
		for _, b := range m.Content {
			if b.Kind == canon.BlockToolUse {
				calls++
			}
		}
	}
	chat, err := ChatJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	var back canon.Request
	if err := openai.DecodeRequest(chat, &back); err != nil {
		t.Fatalf("chat body does not decode: %v", err)
	}
	msgs, err := MessagesJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	var back2 canon.Request
	if err := anthropic.DecodeRequest(msgs, &back2); err != nil {
		t.Fatalf("messages body does not decode: %v", err)
	}
	if len(back2.Messages) != len(r.Messages) {
		t.Fatalf("messages body has %d messages, want %d", len(back2.Messages), len(r.Messages))
	}
	if n := bytes.Count(chat, []byte(`"tool_call_id"`)); n != calls {
		t.Fatalf("chat body answers %d calls, want %d", n, calls)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	r := Generate(5, 10_000)
	c := Clone(r)
	c.Messages[2].Content[0].Content[0].Text = "changed"
	c.System[0].Text = "changed"
	c.Messages = c.Messages[:1]
	if r.Messages[2].Content[0].Content[0].Text == "changed" || r.System[0].Text == "changed" || len(r.Messages) < 3 {
		t.Fatal("Clone shares what it should copy")
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Generate(1, 50_000)
	}
}
