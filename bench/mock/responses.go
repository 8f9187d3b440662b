package mock

// OpenAI Responses: POST /v1/responses, streamed and not.
//
// References:
//   - https://platform.openai.com/docs/api-reference/responses/create and
//     https://platform.openai.com/docs/api-reference/responses/object
//     (Response object, output items, usage)
//   - https://platform.openai.com/docs/api-reference/responses-streaming
//     (typed events, sequence_number, no [DONE]; response.failed)
//   - https://platform.openai.com/docs/guides/streaming-responses
//   - https://platform.openai.com/docs/guides/function-calling (function_call
//     items, call_id, function_call_arguments.delta/.done)
//   - https://platform.openai.com/docs/guides/reasoning (reasoning items,
//     summaries, include: ["reasoning.encrypted_content"])

import (
	"strconv"

	"switchboard/upstream/canon"
)

// Statuses of a Response object.
const (
	responseInProgress = "in_progress"
	responseCompleted  = "completed"
	responseFailed     = "failed"
)

// reasoningEncrypted is the encrypted_content of every reasoning item:
// fixed and opaque, so that a test can check it came back intact.
const reasoningEncrypted = "gAAAAABzd2l0Y2hib2FyZC1tb2NrLXJlYXNvbmluZy1lbmNyeXB0ZWQtY29udGVudC12MQ=="

// responseUsage returns the output tokens of the answer to c and the
// reasoning tokens among them.
func (s *Server) responseUsage(c *call) (output, reasoning int) {
	reasoning = c.f.thinking * tokensPerChunk
	if c.f.tools > 0 {
		return reasoning + toolTokens, reasoning
	}
	return reasoning + s.chunks(&c.f)*tokensPerChunk, reasoning
}

// appendResponse appends a Response object answering c with status: a
// completed one carries the output items and usage; an in_progress or
// failed one has no output and null usage, and a failed one the
// streamerror= error.
func (s *Server) appendResponse(dst []byte, c *call, status string) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, "resp_mock_", c.seq)
	dst = append(dst, `,"object":"response","created_at":`+created+`,"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","error":`...)
	if status == responseFailed {
		dst = append(dst, `{"code":"server_error","message":`...)
		dst = canon.AppendString(dst, streamErrorMessage)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"incomplete_details":null,"model":`...)
	dst = canon.AppendString(dst, c.req.Model)
	dst = append(dst, `,"output":[`...)
	if status == responseCompleted {
		if c.f.thinking > 0 {
			dst = appendReasoningItem(dst, c, true)
			dst = append(dst, ',')
		}
		if c.f.tools > 0 {
			dst = appendFunctionCallItem(dst, c, true)
		} else {
			dst = s.appendMessageItem(dst, c, true)
		}
	}
	dst = append(dst, `],"parallel_tool_calls":true,"previous_response_id":null,"usage":`...)
	if status != responseCompleted {
		dst = append(dst, "null"...)
		return append(dst, '}')
	}
	prompt, cached := promptTokens(c.ctx.Request.Body()), c.f.cached
	output, reasoning := s.responseUsage(c)
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(prompt), 10)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, int64(min(cached, prompt)), 10)
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(output), 10)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, int64(reasoning), 10)
	dst = append(dst, `},"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(prompt+output), 10)
	return append(dst, "}}"...)
}

// appendReasoningItem appends the reasoning item answering c; done adds
// what the request asked for: the summary (reasoning.summary) and the
// encrypted content (include).
func appendReasoningItem(dst []byte, c *call, done bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, "rs_mock_", c.seq)
	dst = append(dst, `,"type":"reasoning","summary":[`...)
	if done && c.summary {
		dst = append(dst, `{"type":"summary_text","text":"`...)
		dst = appendThoughts(dst, c.f.thinking)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, ']')
	if done && c.encrypted {
		dst = append(dst, `,"encrypted_content":"`+reasoningEncrypted+`"`...)
	}
	return append(dst, '}')
}

// appendMessageItem appends the assistant message item answering c; done
// adds its output_text part.
func (s *Server) appendMessageItem(dst []byte, c *call, done bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, "msg_mock_", c.seq)
	if !done {
		return append(dst, `,"type":"message","status":"in_progress","role":"assistant","content":[]}`...)
	}
	dst = append(dst, `,"type":"message","status":"completed","role":"assistant","content":[`...)
	dst = s.appendOutputText(dst, c)
	return append(dst, "]}"...)
}

// appendOutputText appends the output_text part answering c.
func (s *Server) appendOutputText(dst []byte, c *call) []byte {
	dst = append(dst, `{"type":"output_text","text":"`...)
	dst = appendChunks(dst, s.chunks(&c.f))
	return append(dst, `","annotations":[]}`...)
}

// appendFunctionCallItem appends the get_weather function_call item
// answering c; done adds its arguments.
func appendFunctionCallItem(dst []byte, c *call, done bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, "fc_mock_", c.seq)
	if done {
		dst = append(dst, `,"type":"function_call","status":"completed","arguments":`...)
		dst = canon.AppendString(dst, toolArgs)
	} else {
		dst = append(dst, `,"type":"function_call","status":"in_progress","arguments":""`...)
	}
	dst = append(dst, `,"call_id":`...)
	dst = appendID(dst, "call_mock_", c.seq)
	return append(dst, `,"name":"`+toolName+`"}`...)
}

// appendChunks appends the content of n chunks.
func appendChunks(dst []byte, n int) []byte {
	for i := range n {
		dst = appendChunkText(dst, i)
	}
	return dst
}

// appendThoughts appends the content of n thinking pieces.
func appendThoughts(dst []byte, n int) []byte {
	for i := range n {
		dst = appendThoughtText(dst, i)
	}
	return dst
}

// responseEvents appends the Responses stream answering c to st:
// response.created and response.in_progress; per output item an
// output_item.added, its parts and deltas, and an output_item.done;
// response.completed. Every event carries "type" and "sequence_number",
// which is the event's index. The items are a reasoning item if asked
// (with summary events if the request asked for a summary), then a
// message or a function_call.
func (s *Server) responseEvents(st *sseStream, c *call) {
	// typed begins an event of type name, up to its sequence_number.
	typed := func(name string) {
		st.named(name)
		st.buf.b = append(st.buf.b, `{"type":"`...)
		st.buf.b = append(st.buf.b, name...)
		st.buf.b = append(st.buf.b, `","sequence_number":`...)
		st.buf.b = strconv.AppendInt(st.buf.b, int64(len(st.events)), 10)
	}
	whole := func(name, status string) {
		typed(name)
		st.buf.b = append(st.buf.b, `,"response":`...)
		st.buf.b = s.appendResponse(st.buf.b, c, status)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
	}
	out := 0
	// item begins an output_item event at the current output index.
	item := func(name string) {
		typed(name)
		st.buf.b = append(st.buf.b, `,"output_index":`...)
		st.buf.b = strconv.AppendInt(st.buf.b, int64(out), 10)
		st.buf.b = append(st.buf.b, `,"item":`...)
	}
	// ref begins an event about a part of item id, up to its
	// output_index.
	ref := func(name, prefix string) {
		typed(name)
		st.buf.b = append(st.buf.b, `,"item_id":`...)
		st.buf.b = appendID(st.buf.b, prefix, c.seq)
		st.buf.b = append(st.buf.b, `,"output_index":`...)
		st.buf.b = strconv.AppendInt(st.buf.b, int64(out), 10)
	}

	whole("response.created", responseInProgress)
	whole("response.in_progress", responseInProgress)

	if n := c.f.thinking; n > 0 {
		item("response.output_item.added")
		st.buf.b = appendReasoningItem(st.buf.b, c, false)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
		if c.summary {
			ref("response.reasoning_summary_part.added", "rs_mock_")
			st.buf.b = append(st.buf.b, `,"summary_index":0,"part":{"type":"summary_text","text":""}}`...)
			st.endEvent()
			for i := range n {
				ref("response.reasoning_summary_text.delta", "rs_mock_")
				st.buf.b = append(st.buf.b, `,"summary_index":0,"delta":"`...)
				st.buf.b = appendThoughtText(st.buf.b, i)
				st.buf.b = append(st.buf.b, `"}`...)
				st.endDelta()
			}
			ref("response.reasoning_summary_text.done", "rs_mock_")
			st.buf.b = append(st.buf.b, `,"summary_index":0,"text":"`...)
			st.buf.b = appendThoughts(st.buf.b, n)
			st.buf.b = append(st.buf.b, `"}`...)
			st.endEvent()
			ref("response.reasoning_summary_part.done", "rs_mock_")
			st.buf.b = append(st.buf.b, `,"summary_index":0,"part":{"type":"summary_text","text":"`...)
			st.buf.b = appendThoughts(st.buf.b, n)
			st.buf.b = append(st.buf.b, `"}}`...)
			st.endEvent()
		}
		item("response.output_item.done")
		st.buf.b = appendReasoningItem(st.buf.b, c, true)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
		out++
	}

	if n := c.f.tools; n > 0 {
		item("response.output_item.added")
		st.buf.b = appendFunctionCallItem(st.buf.b, c, false)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
		for i := range n {
			ref("response.function_call_arguments.delta", "fc_mock_")
			st.buf.b = append(st.buf.b, `,"delta":`...)
			st.buf.b = canon.AppendString(st.buf.b, toolArgs[len(toolArgs)*i/n:len(toolArgs)*(i+1)/n])
			st.buf.b = append(st.buf.b, '}')
			st.endDelta()
		}
		ref("response.function_call_arguments.done", "fc_mock_")
		st.buf.b = append(st.buf.b, `,"arguments":`...)
		st.buf.b = canon.AppendString(st.buf.b, toolArgs)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
		item("response.output_item.done")
		st.buf.b = appendFunctionCallItem(st.buf.b, c, true)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
	} else {
		n := s.chunks(&c.f)
		item("response.output_item.added")
		st.buf.b = s.appendMessageItem(st.buf.b, c, false)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
		ref("response.content_part.added", "msg_mock_")
		st.buf.b = append(st.buf.b, `,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}`...)
		st.endEvent()
		for i := range n {
			ref("response.output_text.delta", "msg_mock_")
			st.buf.b = append(st.buf.b, `,"content_index":0,"delta":"`...)
			st.buf.b = appendChunkText(st.buf.b, i)
			st.buf.b = append(st.buf.b, `"}`...)
			st.endDelta()
		}
		ref("response.output_text.done", "msg_mock_")
		st.buf.b = append(st.buf.b, `,"content_index":0,"text":"`...)
		st.buf.b = appendChunks(st.buf.b, n)
		st.buf.b = append(st.buf.b, `"}`...)
		st.endEvent()
		ref("response.content_part.done", "msg_mock_")
		st.buf.b = append(st.buf.b, `,"content_index":0,"part":`...)
		st.buf.b = s.appendOutputText(st.buf.b, c)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
		item("response.output_item.done")
		st.buf.b = s.appendMessageItem(st.buf.b, c, true)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
	}

	whole("response.completed", responseCompleted)
	if st.failing() {
		whole("response.failed", responseFailed)
	}
}
