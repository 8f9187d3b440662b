package proxy

import (
	"bytes"
	"errors"
	"strconv"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"
	"github.com/valyala/fasthttp"

	"switchboard/router"
	"switchboard/upstream"
)

const (
	headerAttempts = "x-switchboard-attempts"
	headerFallback = "x-switchboard-fallback"
)

// statusError is a provider answer with a status the route fails over on
// (429, 5xx). The answer itself is kept in the call, to pass through if
// no other target does better.
type statusError struct {
	provider string
	status   int
}

func (e *statusError) Error() string {
	return "provider " + strconv.Quote(e.provider) + " answered " + strconv.Itoa(e.status)
}

var errNoTarget = errors.New("no target could be tried")

// keepFailure records a failed answer of target t: the breaker learns of
// it (a 429 with retry-after pauses the target that long instead), and
// the answer is kept for the client in case it is the last.
func (c *call) keepFailure(t *router.Target, now time.Time) error {
	resp := &c.resp
	status := resp.StatusCode()
	body, err := upstream.Body(resp) // reading it all frees the connection
	if err != nil {
		body = nil
	}
	c.failStatus = status
	c.failBody = append(c.failBody[:0], body...)
	c.failType = append(c.failType[:0], resp.Header.ContentType()...)
	c.failRetry = append(c.failRetry[:0], resp.Header.PeekBytes(headerRetryAfter)...)
	if secs, err := strconv.Atoi(string(c.failRetry)); err == nil && status == fasthttp.StatusTooManyRequests && secs > 0 {
		t.Health.Pause(now, now.Add(time.Duration(secs)*time.Second))
	} else {
		t.Health.Failure(now)
	}
	e := &statusError{provider: t.Provider.Name, status: status}
	c.noteFailure(t, e)
	return e
}

// failed ends a call whose every attempt failed: with the last provider
// answer when there was one, else with last, the transport error.
func (c *call) failed(last error) error {
	var se *statusError
	switch {
	case last == nil:
		return &upstream.Error{Provider: c.provider(), Status: fasthttp.StatusServiceUnavailable, Err: errNoTarget}
	case !errors.As(last, &se):
		return last
	}
	ctx := c.ctx
	c.status = c.failStatus
	ctx.SetStatusCode(c.failStatus)
	ctx.Response.Header.Set(headerProvider, se.provider)
	if len(c.failType) > 0 {
		ctx.Response.Header.SetContentTypeBytes(c.failType)
	} else {
		ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	}
	if len(c.failRetry) > 0 {
		ctx.Response.Header.SetBytesKV(headerRetryAfter, c.failRetry)
	}
	ctx.Response.SetBody(c.failBody)
	c.errMsg = last.Error()
	return nil
}

// noteFailure adds "provider/model (reason)" to the call's fallback trail
// and counts the failure in the per-target metrics.
func (c *call) noteFailure(t *router.Target, err error) {
	reason := failureReason(err)
	if len(c.fallback) > 0 {
		c.fallback = append(c.fallback, ", "...)
	}
	c.fallback = appendHeaderSafe(c.fallback, t.Provider.Name)
	c.fallback = append(c.fallback, '/')
	c.fallback = appendHeaderSafe(c.fallback, t.Model)
	c.fallback = append(c.fallback, " ("...)
	c.fallback = append(c.fallback, reason...)
	c.fallback = append(c.fallback, ')')

	model := "other" // a client's "provider/anything" must not add series
	if t.Health != nil {
		model = t.Model
	}
	metrics.GetOrCreateCounter(`switchboard_upstream_failures_total{provider="` + t.Provider.Name +
		`",model="` + escapeLabel(model) + `",reason="` + reason + `"}`).Inc()
}

// failureReason names why an attempt failed, for headers and metrics.
func failureReason(err error) string {
	var se *statusError
	var te *upstream.TimeoutError
	var ue *upstream.Error
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.status)
	case errors.As(err, &te):
		return "timeout-" + string(te.Phase[:min(len(te.Phase), 5)])
	case errors.As(err, &ue) && ue.Unsent():
		return "unreachable"
	}
	return "error"
}

// appendHeaderSafe appends s keeping only printable ASCII other than ','
// (a model string comes from the client).
func appendHeaderSafe(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x20 || b > 0x7e || b == ',' {
			b = '?'
		}
		dst = append(dst, b)
	}
	return dst
}

// setRoutingHeaders tells the client how many upstream attempts the call
// took and which targets failed and why.
func (c *call) setRoutingHeaders() {
	if c.attempts == 0 {
		return
	}
	c.setIntHeader(headerAttempts, int64(c.attempts))
	if len(c.fallback) > 0 {
		c.ctx.Response.Header.SetBytesV(headerFallback, c.fallback)
	}
}

var providerKey = []byte(`"provider"`)

// providerField finds the "provider" preferences of a body (OpenRouter's
// routing controls): the span of its value, and the edit that removes the
// whole member from what goes upstream, where providers would refuse an
// unknown parameter. ok is false when there is none; a byte search spares
// bodies without one the lazy JSON search.
func providerField(body []byte, n *ast.Node) (value span, strip edit, ok bool, err error) {
	if !bytes.Contains(body, providerKey) {
		return span{}, edit{}, false, nil
	}
	src := unsafe.String(unsafe.SliceData(body), len(body))
	*n, err = sonic.GetFromString(src, "provider")
	if errors.Is(err, ast.ErrNotExist) {
		return span{}, edit{}, false, nil
	}
	if err != nil {
		return span{}, edit{}, false, fieldError("provider", err)
	}
	if value, err = spanOf(src, n); err != nil {
		return span{}, edit{}, false, err
	}
	member, err := memberSpan(body, value, providerKey)
	if err != nil {
		return span{}, edit{}, false, err
	}
	return value, edit{at: member}, true, nil
}
