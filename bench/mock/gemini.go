package mock

// Gemini: POST /v1beta/models/{model}:generateContent,
// :streamGenerateContent (SSE with ?alt=sse, else one JSON array) and
// :countTokens.
//
// References:
//   - https://ai.google.dev/api/generate-content (GenerateContentResponse,
//     Candidate, FinishReason, UsageMetadata; streamGenerateContent returns
//     a stream of GenerateContentResponse)
//   - https://ai.google.dev/gemini-api/docs/text-generation#streaming
//     (alt=sse)
//   - https://ai.google.dev/gemini-api/docs/function-calling (functionCall
//     parts {name, args})
//   - https://ai.google.dev/gemini-api/docs/thinking (includeThoughts,
//     parts with "thought": true, thoughtsTokenCount)
//   - https://ai.google.dev/api/tokens (countTokens)
//   - https://ai.google.dev/gemini-api/docs/api-key (x-goog-api-key, ?key=)
//   - https://ai.google.dev/gemini-api/docs/troubleshooting (error codes)
//
// Not in the reference but what the API does, and what clients must
// survive: SSE events end with "\r\n\r\n", and every streamed chunk
// carries usageMetadata with the counts so far.

import (
	"strconv"

	"github.com/valyala/fasthttp"

	"switchboard/upstream/canon"
)

// The framing of streamed chunks.
const (
	geminiSSEPrefix = "data: "
	geminiSSEEnd    = "\r\n\r\n"
	geminiArraySep  = ",\r\n"
)

// appendGeminiUsage appends a UsageMetadata object. promptTokenCount
// includes the cached tokens; totalTokenCount adds the thoughts.
func appendGeminiUsage(dst []byte, prompt, cached, candidates, thoughts int) []byte {
	dst = append(dst, `{"promptTokenCount":`...)
	dst = strconv.AppendInt(dst, int64(prompt), 10)
	dst = append(dst, `,"candidatesTokenCount":`...)
	dst = strconv.AppendInt(dst, int64(candidates), 10)
	dst = append(dst, `,"totalTokenCount":`...)
	dst = strconv.AppendInt(dst, int64(prompt+candidates+thoughts), 10)
	if cached > 0 {
		dst = append(dst, `,"cachedContentTokenCount":`...)
		dst = strconv.AppendInt(dst, int64(min(cached, prompt)), 10)
	}
	if thoughts > 0 {
		dst = append(dst, `,"thoughtsTokenCount":`...)
		dst = strconv.AppendInt(dst, int64(thoughts), 10)
	}
	return append(dst, '}')
}

// geminiHead opens a GenerateContentResponse up to the first part.
const geminiHead = `{"candidates":[{"content":{"parts":[`

// appendGeminiTail closes a GenerateContentResponse opened with
// geminiHead: finish adds finishReason STOP, then usage, modelVersion and
// responseId.
func appendGeminiTail(dst []byte, c *call, finish bool, candidates, thoughts int) []byte {
	dst = append(dst, `],"role":"model"}`...)
	if finish {
		dst = append(dst, `,"finishReason":"STOP"`...)
	}
	dst = append(dst, `,"index":0}],"usageMetadata":`...)
	dst = appendGeminiUsage(dst, promptTokens(c.ctx.Request.Body()), c.f.cached, candidates, thoughts)
	dst = append(dst, `,"modelVersion":`...)
	dst = canon.AppendString(dst, c.req.Model)
	dst = append(dst, `,"responseId":`...)
	dst = appendID(dst, "mock-", c.seq)
	return append(dst, '}')
}

// geminiFunctionCall is the functionCall part of tools=N; Gemini sends a
// call whole, so N does not split it.
const geminiFunctionCall = `{"functionCall":{"name":"` + toolName + `","args":` + toolArgs + `}}`

// appendGenerate appends a non-streamed GenerateContentResponse answering
// c: a thought part if asked and the request includes thoughts, then a
// text part or a get_weather functionCall part.
func (s *Server) appendGenerate(dst []byte, c *call) []byte {
	dst = append(dst, geminiHead...)
	thoughts := c.f.thinking * tokensPerChunk
	if c.thoughts && c.f.thinking > 0 {
		dst = append(dst, `{"text":"`...)
		dst = appendThoughts(dst, c.f.thinking)
		dst = append(dst, `","thought":true},`...)
	}
	candidates := toolTokens
	if c.f.tools > 0 {
		dst = append(dst, geminiFunctionCall...)
	} else {
		n := s.chunks(&c.f)
		dst = append(dst, `{"text":"`...)
		dst = appendChunks(dst, n)
		dst = append(dst, `"}`...)
		candidates = n * tokensPerChunk
	}
	return appendGeminiTail(dst, c, true, candidates, thoughts)
}

// appendGeminiCountTokens appends the countTokens answer for c's body.
func appendGeminiCountTokens(dst []byte, c *call) []byte {
	n := int64(promptTokens(c.ctx.Request.Body()))
	dst = append(dst, `{"totalTokens":`...)
	dst = strconv.AppendInt(dst, n, 10)
	dst = append(dst, `,"promptTokensDetails":[{"modality":"TEXT","tokenCount":`...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "}]}"...)
}

// geminiEvents appends the streamed GenerateContentResponse chunks
// answering c to st: one per thought piece if the request includes
// thoughts, then one per content chunk (the last with finishReason STOP)
// or one functionCall chunk. With alt=sse each is an SSE event; without,
// the chunks are the elements of one JSON array, as the API sends them.
func (s *Server) geminiEvents(st *sseStream, c *call) {
	// open frames the start of a chunk.
	open := func() {
		switch {
		case c.sse:
			st.buf.b = append(st.buf.b, geminiSSEPrefix...)
		case len(st.events) == 0:
			st.buf.b = append(st.buf.b, '[')
		default:
			st.buf.b = append(st.buf.b, geminiArraySep...)
		}
	}
	begin := func() {
		open()
		st.buf.b = append(st.buf.b, geminiHead...)
	}
	end := func() {
		if c.sse {
			st.buf.b = append(st.buf.b, geminiSSEEnd...)
		}
		st.markDelta()
	}

	thoughts := 0
	if c.thoughts {
		for i := range c.f.thinking {
			begin()
			st.buf.b = append(st.buf.b, `{"text":"`...)
			st.buf.b = appendThoughtText(st.buf.b, i)
			st.buf.b = append(st.buf.b, `","thought":true}`...)
			thoughts += tokensPerChunk
			st.buf.b = appendGeminiTail(st.buf.b, c, false, 0, thoughts)
			end()
		}
	}
	thoughts = c.f.thinking * tokensPerChunk
	if c.f.tools > 0 {
		begin()
		st.buf.b = append(st.buf.b, geminiFunctionCall...)
		st.buf.b = appendGeminiTail(st.buf.b, c, true, toolTokens, thoughts)
		end()
	} else if n := s.chunks(&c.f); n == 0 {
		begin()
		st.buf.b = append(st.buf.b, `{"text":""}`...)
		st.buf.b = appendGeminiTail(st.buf.b, c, true, 0, thoughts)
		end()
	} else {
		for i := range n {
			begin()
			st.buf.b = append(st.buf.b, `{"text":"`...)
			st.buf.b = appendChunkText(st.buf.b, i)
			st.buf.b = append(st.buf.b, `"}`...)
			st.buf.b = appendGeminiTail(st.buf.b, c, i == n-1, (i+1)*tokensPerChunk, thoughts)
			end()
		}
	}

	if st.failing() {
		open()
		st.buf.b = appendGeminiError(st.buf.b, fasthttp.StatusServiceUnavailable, "The model is overloaded. Please try again later.")
		if c.sse {
			st.buf.b = append(st.buf.b, geminiSSEEnd...)
		}
		st.mark()
	}
	if !c.sse {
		st.buf.b = append(st.buf.b, ']')
		st.mark()
	}
}
