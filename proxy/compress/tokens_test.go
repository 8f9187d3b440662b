package compress

import (
	"testing"

	"github.com/tiktoken-go/tokenizer"

	"switchboard/bench/corpus"
)

func TestTokensCountsLikeTheTokenizer(t *testing.T) {
	enc, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		t.Fatal(err)
	}
	r := corpus.Generate(5, 8000)
	want := 0
	count := func(s string) {
		n, _ := enc.Count(s)
		want += n
	}
	for _, b := range r.System {
		count(b.Text)
	}
	for _, m := range r.Messages {
		want += 3
		for _, b := range m.Content {
			count(b.Text)
			count(b.Name)
			count(b.Input)
			for _, c := range b.Content {
				count(c.Text)
			}
		}
	}
	for _, tl := range r.Tools {
		count(tl.Name)
		count(tl.Description)
		count(tl.Schema)
	}
	counts.reset()
	if got := Tokens(r); got != want {
		t.Fatalf("cold: Tokens = %d, want %d", got, want)
	}
	if got := Tokens(r); got != want {
		t.Fatalf("memoised: Tokens = %d, want %d", got, want)
	}
}

func TestCountMemoStaysBounded(t *testing.T) {
	var m countMemo
	for h := range uint64(countShards * countShardCap * 3) {
		m.put(h, int(h%1000))
	}
	total := 0
	for i := range m.shards {
		s := &m.shards[i]
		if len(s.cur) > countShardCap || len(s.old) > countShardCap {
			t.Fatalf("shard %d holds %d + %d", i, len(s.cur), len(s.old))
		}
		total += len(s.cur) + len(s.old)
	}
	last := uint64(countShards*countShardCap*3 - 1)
	if n, ok := m.get(last); !ok || n != int(last%1000) {
		t.Fatalf("the newest entry is gone: %d %v", n, ok)
	}
	if total > 2*countShards*countShardCap {
		t.Fatalf("%d entries", total)
	}
}
