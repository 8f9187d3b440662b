package proxy

import (
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"

	"switchboard/proxy/api"
	"switchboard/proxy/console"
	"switchboard/router"
	"switchboard/store"
	"switchboard/upstream"
	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
)

// apiError is an error answer: its HTTP status, OpenAI error type and code,
// and a message that is safe to show the client.
type apiError struct {
	status  int
	typ     string
	code    string
	message string
}

// toAPIError maps any error of the request path to its answer. It is the
// one place that decides statuses; the functions below are the only
// writers of error answers and events.
func toAPIError(err error) apiError {
	var ue *upstream.Error
	var rl *rateLimitError
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, api.ErrBadRequest):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "invalid_request", err.Error()}
	case errors.Is(err, errNotJSON):
		return apiError{fasthttp.StatusUnsupportedMediaType, "invalid_request_error", "unsupported_media_type", err.Error()}
	case errors.Is(err, errOtherFormat):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "unsupported_format", err.Error()}
	case errors.Is(err, router.ErrBadPrefs):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "invalid_provider_preferences", err.Error()}
	case errors.Is(err, router.ErrBadModel):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "invalid_model", err.Error()}
	case errors.Is(err, router.ErrUnknownModel):
		return apiError{fasthttp.StatusNotFound, "invalid_request_error", "model_not_found", err.Error()}
	case errors.Is(err, errNoRoute), errors.Is(err, api.ErrNotFound):
		return apiError{fasthttp.StatusNotFound, "invalid_request_error", "not_found", err.Error()}
	case errors.Is(err, errMethodNotAllowed), errors.Is(err, api.ErrMethodNotAllowed):
		return apiError{fasthttp.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", err.Error()}
	case errors.Is(err, errHeadersTooLarge):
		return apiError{fasthttp.StatusRequestHeaderFieldsTooLarge, "invalid_request_error", "headers_too_large", err.Error()}
	case errors.Is(err, errRequestTimeout):
		return apiError{fasthttp.StatusRequestTimeout, "invalid_request_error", "request_timeout", err.Error()}
	case errors.Is(err, errLimitsDown):
		return apiError{fasthttp.StatusServiceUnavailable, "server_error", "rate_limits_unavailable", err.Error()}
	case errors.Is(err, errServerBusy):
		return apiError{fasthttp.StatusServiceUnavailable, "server_error", "server_busy", err.Error()}
	case errors.Is(err, errUnauthorized):
		return apiError{fasthttp.StatusUnauthorized, "authentication_error", "invalid_api_key", err.Error()}
	case errors.Is(err, errClientGone):
		return apiError{499, "invalid_request_error", "client_closed_request", err.Error()}
	case errors.Is(err, errKeyRevoked), errors.Is(err, errKeyExpired):
		return apiError{fasthttp.StatusUnauthorized, "authentication_error", "key_disabled", err.Error()}
	case errors.Is(err, errModelNotAllowed), errors.Is(err, errUnpricedModel):
		return apiError{fasthttp.StatusForbidden, "permission_error", "model_not_allowed", err.Error()}
	case errors.As(err, &rl):
		return apiError{fasthttp.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded", err.Error()}
	case errors.Is(err, errBudget):
		return apiError{fasthttp.StatusPaymentRequired, "insufficient_quota", "budget_exceeded", err.Error()}
	case errors.Is(err, errNoCredit):
		return apiError{fasthttp.StatusPaymentRequired, "insufficient_quota", "insufficient_credits", err.Error()}
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return apiError{fasthttp.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", "request body is larger than the gateway's limit (server.max_body_bytes)"}
	case errors.Is(err, api.ErrBadMasterKey):
		return apiError{fasthttp.StatusUnauthorized, "authentication_error", "invalid_master_key", err.Error()}
	case errors.Is(err, console.ErrSessionEnded):
		return apiError{fasthttp.StatusUnauthorized, "authentication_error", "session_ended", err.Error()}
	case errors.Is(err, console.ErrCSRF):
		return apiError{fasthttp.StatusForbidden, "permission_error", "csrf_token_missing", err.Error()}
	case errors.Is(err, api.ErrReadOnly):
		return apiError{fasthttp.StatusForbidden, "permission_error", "read_only_key", err.Error()}
	case errors.Is(err, api.ErrConflict):
		return apiError{fasthttp.StatusConflict, "invalid_request_error", "conflict", err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return apiError{fasthttp.StatusNotFound, "invalid_request_error", "not_found", err.Error()}
	case errors.Is(err, store.ErrBadCursor):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "invalid_cursor", err.Error()}
	case errors.As(err, &ue):
		typ, code := "upstream_error", "upstream_unreachable"
		if ue.Status == fasthttp.StatusGatewayTimeout {
			code = "upstream_timeout"
		}
		return apiError{ue.Status, typ, code, ue.Public()}
	}
	return apiError{fasthttp.StatusInternalServerError, "server_error", "internal_error", "internal gateway error"}
}

// canon is e as a canonical error, for the formats whose shape the
// codecs write.
func (e apiError) canon() *canon.Error { return &canon.Error{Status: e.status, Message: e.message} }

// writeError answers ctx with err in the OpenAI error shape, the
// gateway's own for every path that is not a wire format's.
func writeError(ctx *fasthttp.RequestCtx, err error) {
	writeErrorIn(ctx, formatOf(upstream.FormatOpenAI), err)
}

// writeErrorIn answers ctx with err in the error shape of format f.
func writeErrorIn(ctx *fasthttp.RequestCtx, f *wireFormat, err error) {
	e := toAPIError(err)
	ctx.Response.Reset()
	ctx.SetStatusCode(e.status)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(f.appendAPIError(nil, e))
}

// appendOpenAIError appends e in the OpenAI error shape (Responses' too):
// {"error":{"message":...,"type":...,"param":null,"code":...}}.
func appendOpenAIError(dst []byte, e apiError) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = canon.AppendString(dst, e.message)
	dst = append(dst, `,"type":`...)
	dst = canon.AppendString(dst, e.typ)
	dst = append(dst, `,"param":null,"code":`...)
	dst = canon.AppendString(dst, e.code)
	return append(dst, "}}"...)
}

// appendOpenAIStreamError appends e as an SSE data event in the OpenAI
// stream format: the SDKs raise an APIError when a chunk carries an
// "error" object.
func appendOpenAIStreamError(dst []byte, _ int64, e apiError) []byte {
	dst = append(dst, "data: "...)
	dst = appendOpenAIError(dst, e)
	dst = dst[:len(dst)-1] // reopen the outer object to add the status
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.status), 10)
	return append(dst, "}\n\n"...)
}

// appendAnthropicStreamError appends e as Anthropic's in-band stream
// error event.
func appendAnthropicStreamError(dst []byte, _ int64, e apiError) []byte {
	dst = append(dst, "event: error\ndata: "...)
	dst = anthropic.AppendError(dst, e.canon())
	return append(dst, "\n\n"...)
}

// appendStreamError appends err as the in-band error event that ends
// the call's stream, for failures after the stream started: from the
// client's stream encoder when translating (it knows what the client was
// sent), else the client format's error event.
func (r *relay) appendStreamError(dst []byte, err error) []byte {
	c := r.c
	e := toAPIError(err)
	if r.translate {
		ev := canon.Event{Type: canon.EventError, Error: *e.canon()}
		dst, _ = c.format.encoder(c.translation()).Append(dst, &ev)
		return dst
	}
	return c.format.appendStreamError(dst, r.events, e)
}

// appendProviderError appends a provider's error answer (body, with
// status), in the format from, in the error shape of the format to.
func appendProviderError(dst, body []byte, status int, from, to *wireFormat) []byte {
	e := from.decodeError(body, status)
	return to.appendError(dst, &e)
}

// appendUntranslatable appends, in the error shape of to, the 502 of an
// answer the codecs could not translate.
func appendUntranslatable(dst []byte, to *wireFormat, err error) []byte {
	e := canon.Error{Status: fasthttp.StatusBadGateway, Message: "the provider's answer could not be translated: " + err.Error()}
	return to.appendError(dst, &e)
}

// appendRawErrorResponse appends err as a whole HTTP/1.1 response in the
// OpenAI error shape, with extra header lines, that closes the
// connection: for a connection the server answers without serving it.
func appendRawErrorResponse(dst []byte, err error, extra string) []byte {
	e := toAPIError(err)
	body := appendOpenAIError(nil, e)
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.status), 10)
	dst = append(dst, ' ')
	dst = append(dst, fasthttp.StatusMessage(e.status)...)
	dst = append(dst, "\r\nServer: switchboard\r\nContent-Type: application/json\r\n"...)
	dst = append(dst, extra...)
	dst = append(dst, "Connection: close\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}
