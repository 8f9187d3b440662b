package mock

import "switchboard/upstream/canon"

// appendCompletion appends a non-streamed text_completion answering c.
func (s *Server) appendCompletion(dst []byte, c *call) []byte {
	dst = appendCompletionPrefix(dst, c)
	n := s.chunks(&c.f)
	dst = append(dst, `[{"text":"`...)
	for i := range n {
		dst = appendChunkText(dst, i)
	}
	dst = append(dst, `","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":`...)
	dst = appendUsage(dst, promptTokens(c.ctx.Request.Body()), n*tokensPerChunk, c.f.cached)
	return append(dst, '}')
}

// appendCompletionPrefix appends a text_completion object up to the value
// of "choices".
func appendCompletionPrefix(dst []byte, c *call) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, "cmpl-mock-", c.seq)
	dst = append(dst, `,"object":"text_completion","created":`+created+`,"model":`...)
	dst = canon.AppendString(dst, c.req.Model)
	return append(dst, `,"system_fingerprint":"fp_mock","choices":`...)
}

// completionEvents appends the streamed text_completion events answering c
// to st: one per content chunk, the finish event and, if asked, the usage
// event.
func (s *Server) completionEvents(st *sseStream, c *call) {
	n := s.chunks(&c.f)
	for i := range n + 1 {
		st.event()
		st.buf.b = appendCompletionPrefix(st.buf.b, c)
		st.buf.b = append(st.buf.b, `[{"text":"`...)
		finish := `"stop"`
		if i < n {
			st.buf.b = appendChunkText(st.buf.b, i)
			finish = "null"
		}
		st.buf.b = append(st.buf.b, `","index":0,"logprobs":null,"finish_reason":`...)
		st.buf.b = append(st.buf.b, finish...)
		st.buf.b = append(st.buf.b, "}]}"...)
		if i < n {
			st.endDelta()
		} else {
			st.endEvent()
		}
	}
	if c.req.StreamOptions.IncludeUsage {
		st.event()
		st.buf.b = appendCompletionPrefix(st.buf.b, c)
		st.buf.b = append(st.buf.b, `[],"usage":`...)
		st.buf.b = appendUsage(st.buf.b, promptTokens(c.ctx.Request.Body()), n*tokensPerChunk, c.f.cached)
		st.buf.b = append(st.buf.b, '}')
		st.endEvent()
	}
}
