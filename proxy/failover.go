package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
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

var (
	errNoTarget      = errors.New("no target could be tried")
	errContextLength = errors.New("prompt too long for the model")
	errClientGone    = errors.New("the client closed the connection")
)

// keepFailure records a failed answer of target t: when the target is
// at fault, the breaker learns of it (a 429 with retry-after pauses the
// target that long instead), and the answer is kept for the client in
// case it is the last.
func (c *call) keepFailure(t *router.Target, now time.Time, targetFault bool) error {
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
	switch secs, err := strconv.Atoi(string(c.failRetry)); {
	case !targetFault:
		t.Health.Success(now, now.Sub(c.sent))
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
	c.status = c.failStatus
	ctx.SetStatusCode(c.failStatus)
	ctx.Response.Header.Set(headerProvider, se.provider)
	if c.translating(c.target.Provider) { // the client's error shape
		c.failBody = append(c.failBody[:0], c.translateAnswer(c.failBody, c.failStatus)...)
		c.failType = append(c.failType[:0], contentTypeJSON...)
	}
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
	if len(c.fallback) > 0 {
		c.ctx.Response.Header.SetBytesV(headerFallback, c.fallback)
	}
}

// extensionKey names a top-level field of OpenRouter's (and Apertis')
// request extensions, or of the gateway's own, that the gateway acts on
// and removes from what goes upstream, where providers refuse parameters
// they do not know.
type extensionKey uint8

// The extension fields.
const (
	extProvider extensionKey = iota
	extModels
	extFallbackModels
	extCompression
	extTransforms
	extPlugins
	extWebResultsCount
	extWebContentLength
	numExtensions
)

// extensionKeys are their keys as they appear in a body, quotes included.
var extensionKeys = [numExtensions][]byte{
	extProvider:         []byte(`"provider"`),
	extModels:           []byte(`"models"`),
	extFallbackModels:   []byte(`"fallback_models"`),
	extCompression:      []byte(`"compression"`),
	extTransforms:       []byte(`"transforms"`),
	extPlugins:          []byte(`"plugins"`),
	extWebResultsCount:  []byte(`"web_results_count"`),
	extWebContentLength: []byte(`"web_content_length"`),
}

// presentExtensions scans body once for the extension keys: a bit per
// key that occurs as a string somewhere in it (the JSON search that
// follows makes sure it is a top-level member). One pass over the
// quotes costs less than a byte search per key, which JSON's many
// quotes make slow.
func presentExtensions(body []byte) uint16 {
	var set uint16
	for i := 0; i < len(body); {
		j := bytes.IndexByte(body[i:], '"')
		if j < 0 {
			break
		}
		at := body[i+j:]
		i += j + 1
		if len(at) < 2 || !extensionStarts[at[1]] {
			continue
		}
		for k, key := range extensionKeys {
			if bytes.HasPrefix(at, key) {
				set |= 1 << k
			}
		}
	}
	return set
}

// extensionStarts marks the first letters of the extension keys.
var extensionStarts = func() (t [256]bool) {
	for _, key := range extensionKeys {
		t[key[1]] = true
	}
	return t
}()

// extensionField finds the top-level member key (quotes included) of a
// body: the span of its value and the edit that removes the whole member.
// ok is false when there is none; a byte search spares bodies without
// one the lazy JSON search.
func extensionField(body, key []byte, n *ast.Node) (value span, strip edit, ok bool, err error) {
	if !bytes.Contains(body, key) {
		return span{}, edit{}, false, nil
	}
	return findMember(body, key, n)
}

// extension is extensionField for the gateway's own fields, whose
// presence one scan of the body found (requestFields.present).
func (c *call) extension(body []byte, k extensionKey) (value span, strip edit, ok bool, err error) {
	if c.fields.present&(1<<k) == 0 {
		return span{}, edit{}, false, nil
	}
	return findMember(body, extensionKeys[k], &c.fields.node)
}

// findMember is extensionField without its byte search.
func findMember(body, key []byte, n *ast.Node) (value span, strip edit, ok bool, err error) {
	name := unsafe.String(unsafe.SliceData(key[1:]), len(key)-2)
	src := unsafe.String(unsafe.SliceData(body), len(body))
	*n, err = sonic.GetFromString(src, name)
	if errors.Is(err, ast.ErrNotExist) {
		return span{}, edit{}, false, nil
	}
	if err != nil {
		return span{}, edit{}, false, fieldError(name, err)
	}
	if value, err = spanOf(src, n); err != nil {
		return span{}, edit{}, false, err
	}
	member, err := memberSpan(body, value, key)
	if err != nil {
		return span{}, edit{}, false, err
	}
	return value, edit{at: member}, true, nil
}

// maxFallbackModels bounds a request's own fallback list.
const maxFallbackModels = 8

// addFallbackModels reads a body's "models" (OpenRouter) or
// "fallback_models" (Apertis) list: model names to try, in order, after
// the requested one. Each is resolved and its targets appended to c.order
// after those already there; their removal from the upstream body is
// added to c.strips.
func (s *Server) addFallbackModels(c *call, body []byte, prefs *router.ProviderPrefs) error {
	for _, k := range [...]extensionKey{extModels, extFallbackModels} {
		key := extensionKeys[k]
		value, strip, ok, err := c.extension(body, k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		c.strips = append(c.strips, strip)
		var names []string
		if err := sonic.Unmarshal(body[value.start:value.end], &names); err != nil {
			return fmt.Errorf("%w: %s must be a list of model names", errBadRequest, key)
		}
		if len(names) > maxFallbackModels {
			return fmt.Errorf("%w: %s lists %d models, at most %d", errBadRequest, key, len(names), maxFallbackModels)
		}
		for _, name := range names {
			if name == c.fields.model {
				continue // OpenRouter lists the primary model too
			}
			if err := s.addRoute(c, name, prefs); err != nil {
				return fmt.Errorf("%w: %s: %w", errBadRequest, key, err)
			}
		}
	}
	return nil
}

// addRoute resolves model and appends its targets, in the order this
// request tries them, to c.order; a target already there is not added
// twice. The targets' first index marks a route start, where a
// context-length failure skips to.
func (s *Server) addRoute(c *call, model string, prefs *router.ProviderPrefs) error {
	if err := s.router.Resolve(model, &c.fbRoute); err != nil {
		return err
	}
	order, err := s.router.Order(c.fbOrder[:0], &c.fbRoute, prefs, c.start, nil)
	c.fbOrder = order
	if err != nil {
		return nil // the preferences leave this fallback nothing: skip it
	}
	start := len(c.order)
	for _, t := range order {
		if !slices.ContainsFunc(c.order, func(o router.Target) bool { return o.Provider == t.Provider && o.Model == t.Model }) {
			c.order = append(c.order, t)
			c.orderModel = append(c.orderModel, c.fbRoute.Model)
		}
	}
	if len(c.order) > start {
		c.routeStarts = append(c.routeStarts, start)
	}
	return nil
}

// keepTargets keeps the targets of c.order that keep says yes to (given
// the target and the model name it serves), in order, keeping c.orderModel
// and c.routeStarts in step, and returns how many are left.
func (c *call) keepTargets(keep func(t *router.Target, model string) bool) int {
	// starts is rewritten over c.routeStarts and never gets ahead of the
	// reading.
	kept := 0
	starts, next, route, lastRoute := c.routeStarts[:0], 0, -1, -1
	for i := range c.order {
		if next < len(c.routeStarts) && c.routeStarts[next] == i {
			route, next = route+1, next+1
		}
		if !keep(&c.order[i], c.orderModel[i]) {
			continue
		}
		if route != lastRoute {
			starts, lastRoute = append(starts, kept), route
		}
		c.order[kept], c.orderModel[kept] = c.order[i], c.orderModel[i]
		kept++
	}
	c.order, c.orderModel, c.routeStarts = c.order[:kept], c.orderModel[:kept], starts
	return kept
}

// nextRoute returns the index in c.order where the route after the one
// holding index i starts, or len(c.order).
func (c *call) nextRoute(i int) int {
	for _, at := range c.routeStarts {
		if at > i {
			return at
		}
	}
	return len(c.order)
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
