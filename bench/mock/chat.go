package mock

import "switchboard/upstream/canon"

// The tool call the mock makes when a request asks for tools=N.
const (
	toolName = "get_weather"
	toolArgs = `{"location":"Paris, France","unit":"celsius"}`
)

// appendChat appends a non-streamed chat.completion answering c.
func (s *Server) appendChat(dst []byte, c *call) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, "chatcmpl-mock-", c.seq)
	dst = append(dst, `,"object":"chat.completion","created":`+created+`,"model":`...)
	dst = canon.AppendString(dst, c.req.Model)
	dst = append(dst, `,"system_fingerprint":"fp_mock","choices":[{"index":0,"message":{"role":"assistant",`...)
	completion := 0
	finish := "stop"
	if c.f.tools > 0 {
		dst = append(dst, `"content":null,"tool_calls":[{"id":`...)
		dst = appendID(dst, "call_mock_", c.seq)
		dst = append(dst, `,"type":"function","function":{"name":"`+toolName+`","arguments":`...)
		dst = canon.AppendString(dst, toolArgs)
		dst = append(dst, `}}]`...)
		completion = toolTokens
		finish = "tool_calls"
	} else {
		n := s.chunks(&c.f)
		dst = append(dst, `"content":"`...)
		for i := range n {
			dst = appendChunkText(dst, i)
		}
		dst = append(dst, '"')
		completion = n * tokensPerChunk
	}
	dst = append(dst, `,"refusal":null},"logprobs":null,"finish_reason":"`...)
	dst = append(dst, finish...)
	dst = append(dst, `"}],"usage":`...)
	dst = appendUsage(dst, promptTokens(c.ctx.Request.Body()), completion, c.f.cached)
	return append(dst, '}')
}

// toolTokens is the completion tokens counted for the tool call.
const toolTokens = len(toolArgs) / 4

// chatEvents appends the chat.completion.chunk events answering c to st:
// content chunks (the first also carrying the role) or tool-call deltas,
// then the finish chunk and, if asked, the usage chunk.
func (s *Server) chatEvents(st *sseStream, c *call) {
	prefix := acquireBuf()
	defer releaseBuf(prefix)
	prefix.b = append(prefix.b, `{"id":`...)
	prefix.b = appendID(prefix.b, "chatcmpl-mock-", c.seq)
	prefix.b = append(prefix.b, `,"object":"chat.completion.chunk","created":`+created+`,"model":`...)
	prefix.b = canon.AppendString(prefix.b, c.req.Model)
	prefix.b = append(prefix.b, `,"system_fingerprint":"fp_mock","choices":[`...)
	usage := c.req.StreamOptions.IncludeUsage

	begin := func() {
		st.event()
		st.buf.b = append(st.buf.b, prefix.b...)
		st.buf.b = append(st.buf.b, `{"index":0,"delta":`...)
	}
	// end finishes a chunk; delta says it carries a content or tool-call
	// piece.
	end := func(finish string, delta bool) {
		st.buf.b = append(st.buf.b, `,"logprobs":null,"finish_reason":`...)
		if finish == "" {
			st.buf.b = append(st.buf.b, "null"...)
		} else {
			st.buf.b = canon.AppendString(st.buf.b, finish)
		}
		st.buf.b = append(st.buf.b, "}]"...)
		if usage {
			st.buf.b = append(st.buf.b, `,"usage":null`...)
		}
		st.buf.b = append(st.buf.b, '}')
		if delta {
			st.endDelta()
		} else {
			st.endEvent()
		}
	}

	completion := 0
	finish := "stop"
	if n := c.f.tools; n > 0 {
		for i := range n {
			begin()
			if i == 0 {
				st.buf.b = append(st.buf.b, `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":`...)
				st.buf.b = appendID(st.buf.b, "call_mock_", c.seq)
				st.buf.b = append(st.buf.b, `,"type":"function","function":{"name":"`+toolName+`","arguments":`...)
			} else {
				st.buf.b = append(st.buf.b, `{"tool_calls":[{"index":0,"function":{"arguments":`...)
			}
			st.buf.b = canon.AppendString(st.buf.b, toolArgs[len(toolArgs)*i/n:len(toolArgs)*(i+1)/n])
			st.buf.b = append(st.buf.b, `}}]}`...)
			end("", true)
		}
		completion = toolTokens
		finish = "tool_calls"
	} else {
		n := s.chunks(&c.f)
		for i := range n {
			begin()
			if i == 0 {
				st.buf.b = append(st.buf.b, `{"role":"assistant","content":"`...)
			} else {
				st.buf.b = append(st.buf.b, `{"content":"`...)
			}
			st.buf.b = appendChunkText(st.buf.b, i)
			st.buf.b = append(st.buf.b, `"}`...)
			end("", true)
		}
		completion = n * tokensPerChunk
	}

	begin()
	if st.deltas == 0 {
		st.buf.b = append(st.buf.b, `{"role":"assistant","content":""}`...)
	} else {
		st.buf.b = append(st.buf.b, `{}`...)
	}
	end(finish, false)

	if usage {
		st.event()
		st.buf.b = append(st.buf.b, prefix.b[:len(prefix.b)-len(`"choices":[`)]...)
		st.buf.b = append(st.buf.b, `"choices":[],"usage":`...)
		st.buf.b = appendUsage(st.buf.b, promptTokens(c.ctx.Request.Body()), completion, c.f.cached)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
	}
}
