package mock

// Error bodies in the shape of each API family.
//
// References:
//   - OpenAI: https://platform.openai.com/docs/guides/error-codes
//   - Anthropic: https://docs.anthropic.com/en/api/errors
//   - Gemini: https://ai.google.dev/gemini-api/docs/troubleshooting and
//     https://cloud.google.com/apis/design/errors (google.rpc.Status in
//     JSON: {"error":{"code","message","status"}})

import (
	"strconv"

	"github.com/valyala/fasthttp"

	"switchboard/upstream/canon"
)

// writeErrorAs answers status with an error body carrying msg in the
// shape of API family f; id numbers Anthropic's request_id.
func writeErrorAs(ctx *fasthttp.RequestCtx, f format, id int64, status int, msg string) {
	if f == formatOpenAI {
		writeError(ctx, status, msg)
		return
	}
	b := acquireBuf()
	if f == formatAnthropic {
		b.b = appendAnthropicError(b.b, anthropicErrorType(status), msg, id)
	} else {
		b.b = appendGeminiError(b.b, status, msg)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b.b)
	releaseBuf(b)
}

// setRequestID sets Anthropic's request-id response header to
// req_mock_<id>.
func setRequestID(ctx *fasthttp.RequestCtx, id int64) {
	var a [32]byte
	b := append(a[:0], "req_mock_"...)
	b = strconv.AppendInt(b, id, 10)
	ctx.Response.Header.SetBytesV("request-id", b)
}

// appendAnthropicError appends {"type":"error","error":{"type":typ,
// "message":msg},"request_id":"req_mock_<id>"}, the body of an error
// answer; with id 0, without request_id, the data of an in-stream error
// event.
func appendAnthropicError(dst []byte, typ, msg string, id int64) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = canon.AppendString(dst, typ)
	dst = append(dst, `,"message":`...)
	dst = canon.AppendString(dst, msg)
	dst = append(dst, '}')
	if id > 0 {
		dst = append(dst, `,"request_id":`...)
		dst = appendID(dst, "req_mock_", id)
	}
	return append(dst, '}')
}

// anthropicErrorType returns Anthropic's error type for a status; other
// 4xx are invalid_request_error and other 5xx api_error, as documented.
func anthropicErrorType(status int) string {
	switch status {
	case fasthttp.StatusUnauthorized:
		return "authentication_error"
	case fasthttp.StatusPaymentRequired:
		return "billing_error"
	case fasthttp.StatusForbidden:
		return "permission_error"
	case fasthttp.StatusNotFound:
		return "not_found_error"
	case fasthttp.StatusRequestEntityTooLarge:
		return "request_too_large"
	case fasthttp.StatusTooManyRequests:
		return "rate_limit_error"
	case fasthttp.StatusGatewayTimeout:
		return "timeout_error"
	case statusOverloaded:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// statusOverloaded is Anthropic's non-standard "overloaded" status.
const statusOverloaded = 529

// appendGeminiError appends a google.rpc.Status error body.
func appendGeminiError(dst []byte, status int, msg string) []byte {
	dst = append(dst, `{"error":{"code":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `,"message":`...)
	dst = canon.AppendString(dst, msg)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, geminiErrorStatus(status)...)
	return append(dst, `"}}`...)
}

// geminiErrorStatus returns the google.rpc.Code name Google's HTTP
// mapping gives a status; other 4xx are INVALID_ARGUMENT and other 5xx
// INTERNAL.
func geminiErrorStatus(status int) string {
	switch status {
	case fasthttp.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case fasthttp.StatusForbidden:
		return "PERMISSION_DENIED"
	case fasthttp.StatusNotFound:
		return "NOT_FOUND"
	case fasthttp.StatusConflict:
		return "ABORTED"
	case fasthttp.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case fasthttp.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case fasthttp.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case fasthttp.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "INVALID_ARGUMENT"
}
