package compress

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"switchboard/upstream/canon"
)

// fuzzTexts are the contents random conversations are made of: short
// and long, repeated, JSON, fenced, blank, multi-byte.
var fuzzTexts = []string{
	"ok",
	"",
	"   \t  ",
	"Fix the bug in ledger.go, please.   Thanks!  \n\n\n\nAlso the docs.",
	lines("a.go", 30),
	lines("b.go", 120),
	lines("c.go", 3),
	"{\n  \"name\": \"app\",\n  \"n\": 1.50,\n  \"list\": [1, 2, 3]\n}\n",
	"[\n  {\"id\": \"x\"}\n]",
	"Here:\n```go\nx  :=  1   \n\n\n```\nafter   that  \n",
	"```\nunclosed  \n\n\n",
	strings.Repeat("é日本 ", 400),
	strings.Repeat("x", 3000),
	"[same content as the read_file result of call call_1 above]",
	strings.Repeat(" ", 700),
}

// randomConversation builds a conversation from ops: each byte is one
// step. Most conversations pair calls and results as APIs require; some
// steps break the rules (orphans, empty and reused ids, results out of
// turn) to check compression never makes things worse.
func randomConversation(seed uint64, ops []byte) *canon.Request {
	rng := rand.New(rand.NewPCG(seed, 7))
	text := func() string { return fuzzTexts[rng.IntN(len(fuzzTexts))] }
	r := &canon.Request{MaxTokens: int64(rng.IntN(3) * 100)}
	if rng.IntN(4) != 0 {
		r.System = []canon.Block{{Kind: canon.BlockText, Text: text()}}
	}
	if rng.IntN(2) == 0 {
		r.Tools = []canon.Tool{{Name: "read_file", Description: text(), Schema: `{"type":"object"}`}}
	}
	var pending []canon.Block
	ids := 0
	newID := func() string {
		ids++
		switch rng.IntN(20) {
		case 0:
			return ""
		case 1:
			return "call_1" // reused
		}
		return fmt.Sprintf("call_%d", ids)
	}
	for _, op := range ops {
		switch op % 8 {
		case 0, 1: // a user text turn
			m := canon.Message{Role: canon.RoleUser}
			for range 1 + int(op/8)%3 {
				m.Content = append(m.Content, canon.Block{Kind: canon.BlockText, Text: text()})
			}
			r.Messages = append(r.Messages, m)
		case 2, 3, 4: // an assistant turn with calls, and their results
			a := canon.Message{Role: canon.RoleAssistant}
			if op&16 != 0 {
				a.Content = append(a.Content, canon.Block{Kind: canon.BlockThinking, Text: text(), Signature: "sig"})
			}
			if op&32 != 0 {
				a.Content = append(a.Content, canon.Block{Kind: canon.BlockText, Text: text()})
			}
			u := canon.Message{Role: canon.RoleUser}
			for range 1 + int(op/64)%3 {
				id := newID()
				a.Content = append(a.Content, canon.Block{Kind: canon.BlockToolUse, ID: id, Name: "read_file", Input: `{"path":  "x"}`})
				res := canon.Block{Kind: canon.BlockToolResult, ID: id, Content: []canon.Block{{Kind: canon.BlockText, Text: text()}}}
				switch rng.IntN(12) {
				case 0:
					res.Content = append(res.Content, canon.Block{Kind: canon.BlockImage, MediaType: "image/png", Data: "iVBORw0KGgo="})
				case 1:
					res.Content = append(res.Content, canon.Block{Kind: canon.BlockText, Text: text()})
				case 2:
					res.Content = nil
				}
				u.Content = append(u.Content, res)
			}
			r.Messages = append(r.Messages, a)
			if op%8 == 4 && rng.IntN(3) == 0 {
				pending = append(pending, u.Content...) // answered later, or never
			} else {
				r.Messages = append(r.Messages, u)
			}
		case 5: // a system message mid-conversation
			r.Messages = append(r.Messages, canon.Message{Role: canon.RoleSystem, Content: []canon.Block{{Kind: canon.BlockText, Text: text()}}})
		case 6: // late results
			if len(pending) > 0 {
				r.Messages = append(r.Messages, canon.Message{Role: canon.RoleUser, Content: pending})
				pending = nil
			}
		case 7: // an assistant text turn
			r.Messages = append(r.Messages, canon.Message{Role: canon.RoleAssistant, Content: []canon.Block{{Kind: canon.BlockText, Text: text()}}})
		}
	}
	return r
}

func FuzzCompress(f *testing.F) {
	f.Add(uint64(1), []byte{0, 2, 3, 10, 2, 7, 0}, uint16(300), uint8(2), uint8(0xff))
	f.Add(uint64(2), []byte{0, 2, 18, 34, 66, 130, 5, 2, 4, 6, 2, 2, 2, 1}, uint16(50), uint8(1), uint8(0x1f))
	f.Add(uint64(3), []byte{1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 7, 0}, uint16(900), uint8(3), uint8(1<<MiddleOut))
	f.Add(uint64(4), []byte{7, 2, 12, 4, 4, 6, 5, 2, 0}, uint16(0), uint8(0), uint8(Lossless))
	f.Fuzz(func(t *testing.T, seed uint64, ops []byte, budget uint16, keep uint8, stages uint8) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		src := randomConversation(seed, ops)
		o := Options{Stages: Stages(stages) & All, Budget: int(budget), KeepLast: int(keep % 6), HeadLines: 1 + int(seed%7), TailLines: 1 + int(seed%5), MinDedupe: 16}
		r := cloneRequest(src)
		before := Tokens(src)
		rep := Compress(r, o, int(budget)*2)
		if o.Stages == 0 {
			if rep != (Report{}) || !reflect.DeepEqual(r, src) {
				t.Fatal("compression off changed something")
			}
			return
		}
		if rep.Before != before || rep.After != Tokens(r) {
			t.Fatalf("report %+v, but tokens %d -> %d", rep, before, Tokens(r))
		}
		checkNoNewOrphans(t, src, r)
		if pairProblem(src) == "" {
			checkPairs(t, r, "after")
		}
		if o.Stages&Lossy == 0 && rep.After > rep.Before {
			t.Fatalf("lossless stages cost tokens: %d -> %d", rep.Before, rep.After)
		}
		again := cloneRequest(src)
		if rep2 := Compress(again, o, int(budget)*2); rep2 != rep || !reflect.DeepEqual(again, r) {
			t.Fatal("not deterministic")
		}
		// The lossy stages never touch the system prompt or the first
		// user turn.
		base := cloneRequest(src)
		Compress(base, Options{Stages: o.Stages & Lossless, MinDedupe: o.MinDedupe}, 0)
		head := headEnd(base.Messages)
		if !reflect.DeepEqual(r.System, base.System) || len(r.Messages) < head || !reflect.DeepEqual(r.Messages[:head], base.Messages[:head]) {
			t.Fatal("a lossy stage changed the system prompt or the first user turn")
		}
	})
}
