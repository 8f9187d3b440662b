package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
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

var (
	errNoTarget      = errors.New("no target could be tried")
	errContextLength = errors.New("prompt too long for the model")
	errClientGone    = errors.New("the client closed the connection")
)

// failover sends the call to the targets of its plan in order until one
// answers: a connection failure, a timeout before the first byte or a
// status the route retries on (429, 5xx) moves on to the next target,
// within the route's attempt and time budget. Targets whose circuit
// breaker is open are tried only after every other one failed. Once a
// target answered, nothing is retried. When every attempt failed, the
// client gets the last provider error (its status and body) or a
// 502/504.
func (s *Server) failover(c *call, ep upstream.Endpoint, body []byte) error {
	pol := c.plan.Route.Policy
	deadline := c.start.Add(pol.Budget)
	targets := c.plan.Targets
	var last error
	var skipped uint64 // targets passed over for their breaker, by index
	from := 0          // a context-length failure skips to the next route
	for pass := 0; pass < 2; pass++ {
		for i := range targets {
			if i < from {
				continue
			}
			t := &targets[i]
			now := time.Now()
			if pass == 0 && !t.Health.Allow(now) && i < 64 {
				skipped |= 1 << i
				continue
			}
			if pass == 1 && (i >= 64 || skipped&(1<<i) == 0) {
				continue
			}
			if c.hedge != nil && c.hedge.j == i && c.hedge.launched() {
				continue // the hedge tried it
			}
			if c.attempts == pol.Attempts || c.attempts > 0 && now.After(deadline) {
				return c.failed(last)
			}
			if c.attempts > 0 && c.clientHungUp() {
				return errClientGone // nobody to answer: stop spending attempts
			}
			if last != nil && c.target.Provider == t.Provider {
				slept := time.Now()
				time.Sleep(pol.Backoff(c.attempts)) // the same host again: back off
				c.backoff += time.Since(slept)
			}
			done, err := s.try(c, ep, body, i)
			if done {
				return err
			}
			c.waited += time.Since(c.sent) // the failed attempt's, its answer read
			c.sent = time.Time{}
			last = err
			if errors.Is(err, errContextLength) {
				from = c.plan.NextRoute(i)
			}
		}
	}
	return c.failed(last)
}

// try makes one attempt at target c.plan.Targets[i] and decides what its
// outcome means. done is false when the attempt failed in a way the next
// target may fix; err is then why. An answer the client gets is finished
// by finishAnswer or, for a stream, handed to the relay. The first
// attempt of a hedged route may race the next target (hedge.go).
func (s *Server) try(c *call, ep upstream.Endpoint, body []byte, i int) (done bool, err error) {
	t := &c.plan.Targets[i]
	c.attempts++
	c.rt.targets.attempt(t)
	s.setTarget(c, i)
	p := t.Provider
	c.req.Reset()
	c.resp.Reset()
	out, cep := body, ep
	if !c.translating(p) {
		out = s.upstreamBody(c, body)
	} else if out, cep, err = s.translatedBody(c, body, t); err != nil {
		return true, err
	}
	p.SetRequest(&c.req, cep, t.Model, out)
	if fwd := formatOf(p.Format).forwardHeaders; fwd != nil {
		fwd(&c.req, &c.ctx.Request.Header)
	}
	c.resp.StreamBody = c.fields.stream
	c.trace.StartAttempt(&c.req, p.Name, t.Model, c.attempts)
	c.sent = time.Now()
	if ws := websocketTurn(c, p); ws != nil {
		// A turn passed through on the provider's WebSocket is not hedged.
		err = ws.up.do(c, p, out) // websocket_upstream.go
		return s.outcome(c, i, err, &c.resp, c.sent)
	}
	var h *hedge
	if c.plan.Route.Policy.Hedge != nil {
		h = s.prepareHedge(c, ep, body, out, i)
	}
	if h != nil {
		c.sent = time.Now()
		h.arm()
	}
	err = p.DoUntil(&c.req, &c.resp, &c.watch)
	if h != nil {
		return s.settleRace(c, h, i, err)
	}
	return s.outcome(c, i, err, &c.resp, c.sent)
}

// outcome decides what an attempt at target c.plan.Targets[i], sent at
// sent, means: its DoUntil returned err and read resp. try returns it.
func (s *Server) outcome(c *call, i int, err error, resp *fasthttp.Response, sent time.Time) (done bool, _ error) {
	t := &c.plan.Targets[i]
	p := t.Provider
	now := time.Now()
	if errors.Is(err, upstream.ErrCanceled) {
		// The provider had the request: what it charges for the prompt
		// is billed from an estimate.
		c.reached, c.canceled = true, true
		t.Health.Cancel(now)
		return true, errClientGone
	}
	if err != nil {
		c.reached = c.reached || reachedProvider(err)
		t.Health.Failure(now)
		c.noteFailure(t, err)
		return false, err
	}
	c.reached = true
	status := resp.StatusCode()
	if status != fasthttp.StatusOK && c.plan.Route.Policy.RetryOn(status) {
		err := c.keepFailure(t, resp, sent, now, true)
		c.noteFailure(t, err)
		return false, err
	}
	if status == fasthttp.StatusBadRequest && c.plan.NextRoute(i) < len(c.plan.Targets) {
		// A prompt too long for this model may fit the next route's.
		err := c.keepFailure(t, resp, sent, now, false)
		if !isContextLengthError(c.failure.body) {
			return true, c.failed(err)
		}
		err = fmt.Errorf("%w: %w", errContextLength, err)
		c.noteFailure(t, err)
		return false, err
	}
	t.Health.Success(now, now.Sub(sent))
	if c.plan.Route.Policy.Hedge != nil {
		t.Health.ObserveFirstByte(c.fields.stream, now.Sub(sent))
	}
	if c.sticky.on && status == fasthttp.StatusOK {
		s.affinity.Remember(c.sticky.key, t, now)
	}
	ctx := c.ctx
	ctx.Response.Header.Set(headerProvider, p.Name)
	if c.surface.counts {
		ctx.Response.Header.Set(headerTokenCount, "provider")
	}
	if c.fields.stream && status == fasthttp.StatusOK && bytes.HasPrefix(resp.Header.ContentType(), contentTypeSSE) {
		return true, s.startRelay(c)
	}
	return true, s.finishAnswer(c, status)
}

// keepFailure records a failed answer resp of target t, sent at sent:
// when the target is at fault, the breaker learns of it (a 429 with
// retry-after pauses the target that long instead), and the answer is
// kept for the client in case it is the last.
func (c *call) keepFailure(t *router.Target, resp *fasthttp.Response, sent, now time.Time, targetFault bool) error {
	status := resp.StatusCode()
	body, err := upstream.Body(resp) // reading it all frees the connection
	if err != nil {
		body = nil
	}
	f := &c.failure
	f.status = status
	f.body = append(f.body[:0], body...)
	f.contentType = append(f.contentType[:0], resp.Header.ContentType()...)
	f.retryAfter = append(f.retryAfter[:0], resp.Header.PeekBytes(headerRetryAfter)...)
	switch secs, err := strconv.Atoi(string(f.retryAfter)); {
	case !targetFault:
		t.Health.Success(now, now.Sub(sent))
	case err == nil && status == fasthttp.StatusTooManyRequests && secs > 0:
		t.Health.Pause(now, now.Add(time.Duration(secs)*time.Second))
	default:
		t.Health.Failure(now)
	}
	return &statusError{provider: t.Provider.Name, status: status}
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
	f := &c.failure
	c.status = f.status
	ctx.SetStatusCode(f.status)
	ctx.Response.Header.Set(headerProvider, se.provider)
	if c.translating(c.target.Provider) { // the client's error shape
		f.body = append(f.body[:0], c.translateAnswer(f.body, f.status)...)
		f.contentType = append(f.contentType[:0], contentTypeJSON...)
	}
	if len(f.contentType) > 0 {
		ctx.Response.Header.SetContentTypeBytes(f.contentType)
	} else {
		ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	}
	if len(f.retryAfter) > 0 {
		ctx.Response.Header.SetBytesKV(headerRetryAfter, f.retryAfter)
	}
	ctx.Response.SetBody(f.body)
	c.errMsg = last.Error()
	return nil
}

// noteFailure adds "provider/model (reason)" to the call's trail
// and counts the failure in the per-target metrics.
func (c *call) noteFailure(t *router.Target, err error) {
	reason := failureReason(err)
	c.trace.FailAttempt(reason)
	if len(c.trail) > 0 {
		c.trail = append(c.trail, ", "...)
	}
	c.trail = appendHeaderSafe(c.trail, t.Provider.Name)
	c.trail = append(c.trail, '/')
	c.trail = appendHeaderSafe(c.trail, t.Model)
	c.trail = append(c.trail, " ("...)
	c.trail = append(c.trail, reason...)
	c.trail = append(c.trail, ')')

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
	case errors.Is(err, errContextLength):
		return "context-length"
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
	if len(c.trail) > 0 {
		c.ctx.Response.Header.SetBytesV(headerFallback, c.trail)
	}
}

var contextTooLong = [][]byte{
	[]byte("context_length_exceeded"),
	[]byte("maximum context length"),
	[]byte("prompt is too long"),
	[]byte("too many tokens"),
}

// isContextLengthError reports whether a provider's 400 answer says the
// prompt does not fit the model's context window.
func isContextLengthError(body []byte) bool {
	for _, m := range contextTooLong {
		if bytes.Contains(body, m) {
			return true
		}
	}
	return false
}
