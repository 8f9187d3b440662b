package mock

// Anthropic Messages: POST /v1/messages, streamed and not, and POST
// /v1/messages/count_tokens.
//
// References:
//   - https://docs.anthropic.com/en/api/messages (request, Message object,
//     usage, stop_reason)
//   - https://docs.anthropic.com/en/docs/build-with-claude/streaming (event
//     order, ping, input_json_delta, error events)
//   - https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
//     (thinking blocks, thinking_delta, signature_delta)
//   - https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
//     (input_tokens excludes cache reads and writes)
//   - https://docs.anthropic.com/en/api/messages-count-tokens
//   - https://docs.anthropic.com/en/api/versioning (anthropic-version)
//   - https://docs.anthropic.com/en/api/errors

import (
	"strconv"

	"switchboard/upstream/canon"
)

// thinkingSignature is the signature of every thinking block: fixed,
// opaque base64, so that a test can check it came back byte for byte.
const thinkingSignature = "c3dpdGNoYm9hcmQtbW9jay10aGlua2luZy1zaWduYXR1cmUtdjE="

// appendThoughtText appends the deterministic thinking piece i,
// "thought i ".
func appendThoughtText(dst []byte, i int) []byte {
	dst = append(dst, "thought "...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, ' ')
}

// appendMessagesUsage appends an Anthropic usage object. Anthropic's
// input_tokens counts only what was neither read from nor written to the
// cache, so the cached share of prompt moves to cache_read_input_tokens.
func appendMessagesUsage(dst []byte, prompt, cached, output int) []byte {
	cached = min(cached, prompt)
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(prompt-cached), 10)
	dst = append(dst, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(cached), 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(output), 10)
	return append(dst, '}')
}

// messageOutput returns the output tokens of the answer to c and its
// stop_reason.
func (s *Server) messageOutput(c *call) (tokens int, stop string) {
	tokens = c.f.thinking * tokensPerChunk
	if c.f.tools > 0 {
		return tokens + toolTokens, "tool_use"
	}
	return tokens + s.chunks(&c.f)*tokensPerChunk, "end_turn"
}

// appendMessageHead appends a Message object up to the value of "content".
func appendMessageHead(dst []byte, c *call) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, "msg_mock_", c.seq)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = canon.AppendString(dst, c.req.Model)
	return append(dst, `,"content":`...)
}

// appendMessage appends a non-streamed Message answering c: a thinking
// block if asked, then a text block or a get_weather tool_use block.
func (s *Server) appendMessage(dst []byte, c *call) []byte {
	dst = appendMessageHead(dst, c)
	dst = append(dst, '[')
	if n := c.f.thinking; n > 0 {
		dst = append(dst, `{"type":"thinking","thinking":"`...)
		for i := range n {
			dst = appendThoughtText(dst, i)
		}
		dst = append(dst, `","signature":"`+thinkingSignature+`"},`...)
	}
	if c.f.tools > 0 {
		dst = append(dst, `{"type":"tool_use","id":`...)
		dst = appendID(dst, "toolu_mock_", c.seq)
		dst = append(dst, `,"name":"`+toolName+`","input":`+toolArgs+`}`...)
	} else {
		dst = append(dst, `{"type":"text","text":"`...)
		for i := range s.chunks(&c.f) {
			dst = appendChunkText(dst, i)
		}
		dst = append(dst, `"}`...)
	}
	output, stop := s.messageOutput(c)
	dst = append(dst, `],"stop_reason":"`...)
	dst = append(dst, stop...)
	dst = append(dst, `","stop_sequence":null,"usage":`...)
	dst = appendMessagesUsage(dst, promptTokens(c.ctx.Request.Body()), c.f.cached, output)
	return append(dst, '}')
}

// appendCountTokens appends the count_tokens answer for c's body.
func appendCountTokens(dst []byte, c *call) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(promptTokens(c.ctx.Request.Body())), 10)
	return append(dst, '}')
}

// messageEvents appends the Messages stream answering c to st, in the
// documented order: message_start; per content block a
// content_block_start (the first followed by a ping), its deltas and a
// content_block_stop; message_delta with stop_reason and the total
// output_tokens; message_stop. A thinking block (thinking_delta pieces,
// then one signature_delta) comes first if asked; then a text block, or a
// tool_use block whose input arrives as input_json_delta pieces.
func (s *Server) messageEvents(st *sseStream, c *call) {
	output, stop := s.messageOutput(c)
	st.named("message_start")
	st.buf.b = append(st.buf.b, `{"type":"message_start","message":`...)
	st.buf.b = appendMessageHead(st.buf.b, c)
	st.buf.b = append(st.buf.b, `[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	// message_start reports 1 output token, as in the reference's example;
	// message_delta carries the total.
	st.buf.b = appendMessagesUsage(st.buf.b, promptTokens(c.ctx.Request.Body()), c.f.cached, 1)
	st.buf.b = append(st.buf.b, "}}"...)
	st.endEvent()

	index := 0
	// start begins a content_block_start up to the block's value; the
	// caller appends it and calls started.
	start := func() {
		st.named("content_block_start")
		st.buf.b = append(st.buf.b, `{"type":"content_block_start","index":`...)
		st.buf.b = strconv.AppendInt(st.buf.b, int64(index), 10)
		st.buf.b = append(st.buf.b, `,"content_block":`...)
	}
	started := func() {
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
		if index == 0 {
			st.named("ping")
			st.buf.b = append(st.buf.b, `{"type":"ping"}`...)
			st.endEvent()
		}
	}
	// delta begins a content_block_delta up to the delta's value; the
	// caller appends it and ends the event.
	delta := func(typ, field string) {
		st.named("content_block_delta")
		st.buf.b = append(st.buf.b, `{"type":"content_block_delta","index":`...)
		st.buf.b = strconv.AppendInt(st.buf.b, int64(index), 10)
		st.buf.b = append(st.buf.b, `,"delta":{"type":"`...)
		st.buf.b = append(st.buf.b, typ...)
		st.buf.b = append(st.buf.b, `","`...)
		st.buf.b = append(st.buf.b, field...)
		st.buf.b = append(st.buf.b, `":`...)
	}
	stopBlock := func() {
		st.named("content_block_stop")
		st.buf.b = append(st.buf.b, `{"type":"content_block_stop","index":`...)
		st.buf.b = strconv.AppendInt(st.buf.b, int64(index), 10)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
		index++
	}

	if n := c.f.thinking; n > 0 {
		start()
		st.buf.b = append(st.buf.b, `{"type":"thinking","thinking":""}`...)
		started()
		for i := range n {
			delta("thinking_delta", "thinking")
			st.buf.b = append(st.buf.b, '"')
			st.buf.b = appendThoughtText(st.buf.b, i)
			st.buf.b = append(st.buf.b, `"}}`...)
			st.endDelta()
		}
		delta("signature_delta", "signature")
		st.buf.b = append(st.buf.b, `"`+thinkingSignature+`"}}`...)
		st.endEvent()
		stopBlock()
	}
	if n := c.f.tools; n > 0 {
		start()
		st.buf.b = append(st.buf.b, `{"type":"tool_use","id":`...)
		st.buf.b = appendID(st.buf.b, "toolu_mock_", c.seq)
		st.buf.b = append(st.buf.b, `,"name":"`+toolName+`","input":{}}`...)
		started()
		for i := range n {
			delta("input_json_delta", "partial_json")
			st.buf.b = canon.AppendString(st.buf.b, toolArgs[len(toolArgs)*i/n:len(toolArgs)*(i+1)/n])
			st.buf.b = append(st.buf.b, "}}"...)
			st.endDelta()
		}
	} else {
		start()
		st.buf.b = append(st.buf.b, `{"type":"text","text":""}`...)
		started()
		for i := range s.chunks(&c.f) {
			delta("text_delta", "text")
			st.buf.b = append(st.buf.b, '"')
			st.buf.b = appendChunkText(st.buf.b, i)
			st.buf.b = append(st.buf.b, `"}}`...)
			st.endDelta()
		}
	}
	stopBlock()

	st.named("message_delta")
	st.buf.b = append(st.buf.b, `{"type":"message_delta","delta":{"stop_reason":"`...)
	st.buf.b = append(st.buf.b, stop...)
	st.buf.b = append(st.buf.b, `","stop_sequence":null},"usage":{"output_tokens":`...)
	st.buf.b = strconv.AppendInt(st.buf.b, int64(output), 10)
	st.buf.b = append(st.buf.b, "}}"...)
	st.endEvent()
	st.named("message_stop")
	st.buf.b = append(st.buf.b, `{"type":"message_stop"}`...)
	st.endEvent()

	if st.failing() {
		st.named("error")
		st.buf.b = appendAnthropicError(st.buf.b, "overloaded_error", "Overloaded", 0)
		st.endEvent()
	}
}
