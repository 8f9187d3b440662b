package mock

import (
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"

	"switchboard/upstream/canon"
)

// created is the creation time in every response, fixed so that bodies are
// deterministic (2025-01-01T00:00:00Z).
const created = "1735689600"

// buffer is a pooled response buffer; do not use it after releaseBuf.
type buffer struct{ b []byte }

var bufPool = sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, 1024)} }}

// maxPooledBuf caps the buffers kept in bufPool.
const maxPooledBuf = 1 << 20

func acquireBuf() *buffer { return bufPool.Get().(*buffer) }

func releaseBuf(b *buffer) {
	if cap(b.b) > maxPooledBuf {
		return
	}
	b.b = b.b[:0]
	bufPool.Put(b)
}

// writeBody answers 200 with the JSON in b, compressed with encoding ("",
// "gzip" or "zstd").
func writeBody(ctx *fasthttp.RequestCtx, b *buffer, encoding string) error {
	ctx.SetContentType("application/json")
	if encoding == "" {
		ctx.SetBody(b.b)
		return nil
	}
	compressed, err := compress(b.b, encoding)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, encoding)
	ctx.SetBody(compressed)
	return nil
}

// writeError answers status with an OpenAI error body carrying msg.
func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	typ, code := errorKind(status)
	b := acquireBuf()
	b.b = appendOpenAIError(b.b, msg, typ, code)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b.b)
	releaseBuf(b)
}

// appendOpenAIError appends an OpenAI error object; an empty code is null.
func appendOpenAIError(dst []byte, msg, typ, code string) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = canon.AppendString(dst, msg)
	dst = append(dst, `,"type":`...)
	dst = canon.AppendString(dst, typ)
	dst = append(dst, `,"param":null,"code":`...)
	if code == "" {
		dst = append(dst, "null"...)
	} else {
		dst = canon.AppendString(dst, code)
	}
	return append(dst, "}}"...)
}

// errorKind returns the OpenAI error type and code for a status.
func errorKind(status int) (typ, code string) {
	switch {
	case status == fasthttp.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key"
	case status == fasthttp.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", ""
	}
	return "invalid_request_error", ""
}

// promptTokens estimates the prompt tokens of a request body, about four
// bytes a token, at least one.
func promptTokens(body []byte) int {
	return max(1, len(body)/4)
}

// tokensPerChunk is the completion tokens counted for each content chunk.
const tokensPerChunk = 2

func appendUsage(dst []byte, prompt, completion, cached int) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(prompt), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(completion), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(prompt+completion), 10)
	if cached > 0 {
		dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
		dst = strconv.AppendInt(dst, int64(min(cached, prompt)), 10)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendChunkText appends the deterministic content of chunk i, "chunk i ".
func appendChunkText(dst []byte, i int) []byte {
	dst = append(dst, "chunk "...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, ' ')
}

// appendID appends `"prefix-seq"` as a JSON string.
func appendID(dst []byte, prefix string, seq int64) []byte {
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	dst = strconv.AppendInt(dst, seq, 10)
	return append(dst, '"')
}
