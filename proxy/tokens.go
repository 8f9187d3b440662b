package proxy

import (
	"strconv"
	"sync"

	"github.com/tiktoken-go/tokenizer"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
)

// headerTokenCount says who counted a count_tokens answer: "provider" (an
// Anthropic provider did) or "local-o200k" (the gateway's tokenizer did,
// for a model no Anthropic provider serves).
const headerTokenCount = "x-switchboard-token-count"

// localTokenizer is o200k_base, OpenAI's current encoding, offline and
// loaded on first use: counting for other vendors' models is an estimate.
var localTokenizer = sync.OnceValues(func() (tokenizer.Codec, error) {
	return tokenizer.Get(tokenizer.O200kBase)
})

// countTokensLocally answers an Anthropic count_tokens request with the
// gateway's own tokenizer: the system prompt, every message's text, tool
// calls and results, and the tool definitions.
func (c *call) countTokensLocally(body []byte) error {
	r := &c.tr.req
	if err := anthropic.DecodeRequest(body, r); err != nil {
		return translationError(err)
	}
	enc, err := localTokenizer()
	if err != nil {
		return err
	}
	n := 0
	count := func(s string) {
		if s != "" {
			k, _ := enc.Count(s)
			n += k
		}
	}
	var blocks func([]canon.Block)
	blocks = func(bs []canon.Block) {
		for i := range bs {
			b := &bs[i]
			count(b.Text)
			count(b.Name)
			count(b.Input)
			blocks(b.Content)
		}
	}
	blocks(r.System)
	for i := range r.Messages {
		n += 3 // the role and the turn's framing
		blocks(r.Messages[i].Content)
	}
	for _, t := range r.Tools {
		count(t.Name)
		count(t.Description)
		count(t.Schema)
	}
	c.status = 200
	ctx := c.ctx
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set(headerTokenCount, "local-o200k")
	c.scratch = append(c.scratch[:0], `{"input_tokens":`...)
	c.scratch = strconv.AppendInt(c.scratch, int64(n), 10)
	c.scratch = append(c.scratch, '}')
	ctx.SetBody(c.scratch)
	return nil
}
