package corpus

import (
	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// ChatJSON returns r as an OpenAI Chat Completions request body.
func ChatJSON(r *canon.Request) ([]byte, error) {
	return openai.EncodeRequest(nil, r, openai.EncodeOptions{})
}

// MessagesJSON returns r as an Anthropic Messages request body.
func MessagesJSON(r *canon.Request) ([]byte, error) {
	return anthropic.EncodeRequest(nil, r, anthropic.EncodeOptions{})
}

// Clone returns a copy of r whose messages, blocks and tool results can
// be rewritten without changing r (strings are shared: they are
// immutable).
func Clone(r *canon.Request) *canon.Request {
	c := *r
	c.System = cloneBlocks(r.System)
	c.Tools = append([]canon.Tool(nil), r.Tools...)
	c.Messages = make([]canon.Message, len(r.Messages))
	for i, m := range r.Messages {
		m.Content = cloneBlocks(m.Content)
		c.Messages[i] = m
	}
	return &c
}

func cloneBlocks(bs []canon.Block) []canon.Block {
	if bs == nil {
		return nil
	}
	out := append([]canon.Block(nil), bs...)
	for i := range out {
		if out[i].Content != nil {
			out[i].Content = cloneBlocks(out[i].Content)
		}
	}
	return out
}
