package compress

import (
	"hash/maphash"
	"sync"

	"github.com/tiktoken-go/tokenizer"

	"switchboard/upstream/canon"
)

// Token counting. The gateway counts with o200k_base (OpenAI's current
// encoding), offline: for other vendors' models the count is an estimate,
// typically 10-30% under Anthropic's own count for code.
//
// The tokenizer runs at about 5 MB/s (a 150k-token conversation takes
// over 100 ms), while a coding agent resends 92-98% of the previous
// request each turn. So counts are memoised by a 64-bit hash of the text:
// the second time a text is seen, counting it costs a hash and a map
// look-up. The memo is process-wide, sharded, bounded (two generations
// per shard: when the current one fills, it becomes the old one and the
// previous old one is dropped) and safe for concurrent use. A hash
// collision can at worst misstate one text's count, never its content.

var (
	o200k = sync.OnceValues(func() (tokenizer.Codec, error) {
		return tokenizer.Get(tokenizer.O200kBase)
	})
	countSeed = maphash.MakeSeed()
	counts    countMemo
)

const (
	countShards = 16
	// countShardCap bounds each generation of a shard: at most
	// 2*16*4096 memoised counts, a few MB.
	countShardCap = 4096
	// messageFraming is what a message costs beyond its blocks: the role
	// and the turn's delimiters (proxy's count_tokens counts the same).
	messageFraming = 3
)

type countShard struct {
	mu       sync.Mutex
	cur, old map[uint64]int32
	_        [40]byte // keep shards on separate cache lines
}

type countMemo struct {
	shards [countShards]countShard
}

func (m *countMemo) get(h uint64) (int, bool) {
	s := &m.shards[h%countShards]
	s.mu.Lock()
	n, ok := s.cur[h]
	if !ok {
		if n, ok = s.old[h]; ok {
			s.putLocked(h, n)
		}
	}
	s.mu.Unlock()
	return int(n), ok
}

func (m *countMemo) put(h uint64, n int) {
	s := &m.shards[h%countShards]
	s.mu.Lock()
	s.putLocked(h, int32(n))
	s.mu.Unlock()
}

func (s *countShard) putLocked(h uint64, n int32) {
	if s.cur == nil {
		s.cur = make(map[uint64]int32, 64)
	}
	if len(s.cur) >= countShardCap {
		s.old, s.cur = s.cur, make(map[uint64]int32, countShardCap/4)
	}
	s.cur[h] = n
}

// reset empties the memo (benchmarks measure a cold start with it).
func (m *countMemo) reset() {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.cur, s.old = nil, nil
		s.mu.Unlock()
	}
}

// TextTokens returns the o200k_base token count of s. It is safe for
// concurrent use; repeated texts are counted once (see the memo above).
func TextTokens(s string) int {
	if s == "" {
		return 0
	}
	h := maphash.String(countSeed, s)
	if n, ok := counts.get(h); ok {
		return n
	}
	n := countText(s)
	counts.put(h, n)
	return n
}

// countText runs the tokenizer; should it be unavailable (it is
// embedded, so it never is), it estimates 4 bytes a token.
func countText(s string) int {
	enc, err := o200k()
	if err != nil {
		return (len(s) + 3) / 4
	}
	n, err := enc.Count(s)
	if err != nil {
		return (len(s) + 3) / 4
	}
	return n
}

// Tokens counts r's prompt the way the gateway's count_tokens answer
// does: the system prompt, each message's text, tool calls (name and
// input) and tool results, 3 tokens of framing per message, and the tool
// definitions (name, description, schema). Images and files count 0.
func Tokens(r *canon.Request) int {
	n := BlockTokens(r.System)
	for i := range r.Messages {
		n += MessageTokens(&r.Messages[i])
	}
	return n + ToolTokens(r.Tools)
}

// MessageTokens counts one message: its blocks plus the framing.
func MessageTokens(m *canon.Message) int {
	return messageFraming + BlockTokens(m.Content)
}

// BlockTokens counts blocks: text (also of thinking and refusals), tool
// names, inputs and, recursively, tool results.
func BlockTokens(bs []canon.Block) int {
	n := 0
	for i := range bs {
		n += blockTokens(&bs[i])
	}
	return n
}

func blockTokens(b *canon.Block) int {
	n := TextTokens(b.Text) + TextTokens(b.Name) + TextTokens(b.Input)
	if len(b.Content) > 0 {
		n += BlockTokens(b.Content)
	}
	return n
}

// ToolTokens counts tool definitions: name, description and schema.
func ToolTokens(ts []canon.Tool) int {
	n := 0
	for i := range ts {
		t := &ts[i]
		n += TextTokens(t.Name) + TextTokens(t.Description) + TextTokens(t.Schema)
	}
	return n
}
