package proxy

import (
	"errors"
	"strconv"
	"switchboard/upstream/canon"

	"github.com/valyala/fasthttp"

	"switchboard/router"
	"switchboard/store"
	"switchboard/upstream"
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
// one place that decides statuses.
func toAPIError(err error) apiError {
	var ue *upstream.Error
	var rl *rateLimitError
	switch {
	case errors.Is(err, errBadRequest):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "invalid_request", err.Error()}
	case errors.Is(err, errOtherFormat):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "unsupported_format", err.Error()}
	case errors.Is(err, router.ErrBadPrefs):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "invalid_provider_preferences", err.Error()}
	case errors.Is(err, router.ErrBadModel):
		return apiError{fasthttp.StatusBadRequest, "invalid_request_error", "invalid_model", err.Error()}
	case errors.Is(err, router.ErrUnknownModel):
		return apiError{fasthttp.StatusNotFound, "invalid_request_error", "model_not_found", err.Error()}
	case errors.Is(err, errNoRoute):
		return apiError{fasthttp.StatusNotFound, "invalid_request_error", "not_found", err.Error()}
	case errors.Is(err, errMethodNotAllowed):
		return apiError{fasthttp.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", err.Error()}
	case errors.Is(err, errHeadersTooLarge):
		return apiError{fasthttp.StatusRequestHeaderFieldsTooLarge, "invalid_request_error", "headers_too_large", err.Error()}
	case errors.Is(err, errRequestTimeout):
		return apiError{fasthttp.StatusRequestTimeout, "invalid_request_error", "request_timeout", err.Error()}
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
	case errors.Is(err, errBadMasterKey):
		return apiError{fasthttp.StatusUnauthorized, "authentication_error", "invalid_master_key", err.Error()}
	case errors.Is(err, errConflict):
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

// writeError answers ctx with err in the OpenAI error shape:
// {"error":{"message":...,"type":...,"param":null,"code":...}}.
func writeError(ctx *fasthttp.RequestCtx, err error) {
	e := toAPIError(err)
	ctx.Response.Reset()
	ctx.SetStatusCode(e.status)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(appendErrorJSON(nil, e))
}

func appendErrorJSON(dst []byte, e apiError) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = canon.AppendString(dst, e.message)
	dst = append(dst, `,"type":`...)
	dst = canon.AppendString(dst, e.typ)
	dst = append(dst, `,"param":null,"code":`...)
	dst = canon.AppendString(dst, e.code)
	return append(dst, "}}"...)
}

// appendStreamError appends err as an SSE data event in the OpenAI stream
// format, for failures after the stream started: the SDKs raise an
// APIError when a chunk carries an "error" object.
func appendStreamError(dst []byte, err error) []byte {
	e := toAPIError(err)
	dst = append(dst, "data: "...)
	dst = appendErrorJSON(dst, e)
	dst = dst[:len(dst)-1] // reopen the outer object to add the status
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.status), 10)
	return append(dst, "}\n\n"...)
}
