package proxy

import (
	"strconv"
	"sync"

	"github.com/bytedance/sonic/ast"
	"github.com/tiktoken-go/tokenizer"

	"switchboard/upstream/canon"
)

var generateContentRequestKey = []byte(`"generateContentRequest"`)

// geminiCountRequest returns the request a Gemini countTokens body
// counts: the body itself ({"contents":[...]}), or the
// generateContentRequest it wraps.
func geminiCountRequest(body []byte, n *ast.Node) ([]byte, error) {
	value, _, ok, err := extensionField(body, generateContentRequestKey, n)
	if err != nil || !ok {
		return body, err
	}
	return body[value.start:value.end], nil
}

// headerTokenCount says who counted a count_tokens (or Gemini
// countTokens) answer: "provider" (a provider of the API's format did) or
// "local-o200k" (the gateway's tokenizer did, for a model no such
// provider serves).
const headerTokenCount = "x-switchboard-token-count"

// localTokenizer is o200k_base, OpenAI's current encoding, offline and
// loaded on first use: counting for other vendors' models is an estimate.
var localTokenizer = sync.OnceValues(func() (tokenizer.Codec, error) {
	return tokenizer.Get(tokenizer.O200kBase)
})

// countTokensLocally answers an Anthropic count_tokens or a Gemini
// countTokens request with the gateway's own tokenizer: the system
// prompt, every message's text, tool calls and results, and the tool
// definitions.
func (c *call) countTokensLocally(body []byte) error {
	r := &c.translation().req
	if c.format.modelInPath { // Gemini's
		inner, err := geminiCountRequest(body, &c.fields.node)
		if err != nil {
			return err
		}
		body = inner
	}
	if err := c.format.decodeRequest(body, r); err != nil {
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
	c.scratch = canon.AppendKey(append(c.scratch[:0], '{'), c.format.countField)
	c.scratch = strconv.AppendInt(c.scratch, int64(n), 10)
	c.scratch = append(c.scratch, '}')
	ctx.SetBody(c.scratch)
	return nil
}
