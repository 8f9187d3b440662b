package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"switchboard/router"
	"switchboard/upstream"
	"switchboard/upstream/canon"
)

const headerProvider = "x-switchboard-provider"

var (
	contentTypeJSON  = []byte("application/json")
	contentTypeSSE   = []byte("text/event-stream")
	headerRetryAfter = []byte("retry-after")
)

// passThrough serves the OpenAI surfaces whose providers speak the same
// wire format (chat completions, completions, embeddings): the body goes
// upstream as bytes with only "model" rewritten (and, for streams,
// stream_options.include_usage set so usage is always known), and the
// answer comes back unchanged but for the hidden usage chunk.
func (s *Server) passThrough(ctx *fasthttp.RequestCtx, sf *surface) {
	c := s.acquireCall(ctx, sf)
	if err := s.forward(c, sf.endpoint); err != nil {
		c.setError(err)
		writeErrorIn(ctx, sf.format, err)
		ctx.Response.Header.SetBytesV(headerRequestID, c.requestID)
	}
	c.setLimitHeaders()
	c.setRoutingHeaders()
	if c.streaming {
		return // the relay finishes the call when the stream ends
	}
	c.setOverheadHeader(time.Now())
	c.finish()
}

// forward runs one pass-through call. It returns an error only before
// anything was written to the client.
func (s *Server) forward(c *call, ep upstream.Endpoint) error {
	ctx := c.ctx
	if !ctx.IsPost() {
		return errMethodNotAllowed
	}
	if c.surface.format == upstream.FormatGemini {
		keyFromQuery(&ctx.Request)
	}
	key, err := s.keys.authenticate(&ctx.Request.Header, c.start)
	if err != nil {
		return err
	}
	c.key = key
	body := ctx.PostBody()
	if answered, err := s.prepare(c, body); answered || err != nil {
		return err
	}
	return s.failover(c, ep, body)
}

// prepare does what an authenticated call does before its first
// upstream attempt: it resolves the model and orders the targets, reads
// the compression options, runs a web search, answers from the response
// cache, compresses, and admits the call to billing. answered is true
// when the call needs no provider (a cache hit, a local token count).
func (s *Server) prepare(c *call, body []byte) (answered bool, err error) {
	if err := s.resolve(c, body); err != nil {
		if c.surface.counts && errors.Is(err, errOtherFormat) {
			return true, c.countTokensLocally(body) // no provider of the format to ask
		}
		return false, err
	}
	if err := s.readCompression(c, body); err != nil {
		return false, err
	}
	if err := s.searchWeb(c, body); err != nil {
		return false, err
	}
	if served, err := s.useCache(c, body); served || err != nil {
		return served, err
	}
	if err := s.applyCompression(c, body); err != nil {
		return false, err
	}
	if c.surface.counts { // counting tokens is free
		return false, nil
	}
	return false, s.billing.admit(c, body)
}

// resolve reads the fields the gateway needs from a pass-through body,
// resolves the model to its route and puts the targets in the order this
// request tries them (strategy, health and the body's "provider"
// preferences) in c.order.
func (s *Server) resolve(c *call, body []byte) error {
	if c.surface.format == upstream.FormatGemini {
		if err := parseGeminiFields(body, c.path, c.surface, &c.fields); err != nil {
			return err
		}
	} else {
		openAIStream := c.surface == surfaceChat || c.surface == surfaceCompletions
		if err := parseFields(body, &c.fields, openAIStream); err != nil {
			return err
		}
	}
	if err := s.router.Resolve(c.fields.model, &c.route); err != nil {
		return err
	}
	var prefs *router.ProviderPrefs
	value, strip, ok, err := c.extension(body, extProvider)
	if err != nil {
		return err
	}
	if ok {
		if c.prefs, err = router.ParseProviderPrefs(body[value.start:value.end]); err != nil {
			return err
		}
		prefs = &c.prefs
		c.strips = append(c.strips, strip)
	}
	order, err := s.router.Order(c.order[:0], &c.route, prefs, c.start, nil)
	if err != nil {
		return err
	}
	c.order = order
	for range order {
		c.orderModel = append(c.orderModel, c.route.Model)
	}
	c.routeStarts = append(c.routeStarts, 0)
	if err := s.addFallbackModels(c, body, prefs); err != nil {
		return err
	}
	for _, model := range c.route.Policy.Fallbacks {
		if err := s.addRoute(c, model, prefs); err != nil {
			s.errLog.Printf("route %s: fallback %s: %v", c.route.Model, model, err)
		}
	}
	// A call goes to providers of the client's own format, or of the
	// other chat format through translation.
	sf := c.surface
	if c.keepTargets(func(t *router.Target, _ string) bool { return translatable(sf, t.Provider.Format) }) == 0 {
		return otherFormatError(c.surface, c.fields.model)
	}
	if c.route.Varies(prefs) {
		s.stick(c, body)
	}
	c.target = c.order[0]
	return nil
}

// failover sends the call to its targets in order until one answers: a
// connection failure, a timeout before the first byte or a status the
// route retries on (429, 5xx) moves on to the next target, within the
// route's attempt and time budget. Targets whose circuit breaker is open
// are tried only after every other one failed. Once a target answered,
// nothing is retried. When every attempt failed, the client gets the
// last provider error (its status and body) or a 502/504.
func (s *Server) failover(c *call, ep upstream.Endpoint, body []byte) error {
	pol := c.route.Policy
	deadline := c.start.Add(pol.Budget)
	var last error
	var skipped uint64 // targets passed over for their breaker, by index
	from := 0          // a context-length failure skips to the next route
	for pass := 0; pass < 2; pass++ {
		for i := range c.order {
			if i < from {
				continue
			}
			t := &c.order[i]
			now := time.Now()
			if pass == 0 && !t.Health.Allow(now) && i < 64 {
				skipped |= 1 << i
				continue
			}
			if pass == 1 && (i >= 64 || skipped&(1<<i) == 0) {
				continue
			}
			if c.attempts == pol.Attempts || c.attempts > 0 && now.After(deadline) {
				return c.failed(last)
			}
			if c.attempts > 0 && c.clientHungUp() {
				return errClientGone // nobody to answer: stop spending attempts
			}
			if last != nil && c.target.Provider == t.Provider {
				time.Sleep(pol.Backoff(c.attempts)) // the same host again: back off
			}
			done, err := s.try(c, ep, body, i)
			if done {
				return err
			}
			last = err
			if errors.Is(err, errContextLength) {
				from = c.nextRoute(i)
			}
		}
	}
	return c.failed(last)
}

// try makes one attempt at target c.order[i]. done is false when the
// attempt failed in a way the next target may fix; err is then why.
func (s *Server) try(c *call, ep upstream.Endpoint, body []byte, i int) (done bool, err error) {
	t := &c.order[i]
	c.attempts++
	s.targets.attempt(t)
	c.target = *t
	c.price = router.Price{}
	if t.Entry != nil {
		c.price = t.Entry.Price
	}
	p := t.Provider
	c.req.Reset()
	c.resp.Reset()
	out := body
	if !c.translating(p) {
		out = s.upstreamBody(c, body)
	} else if out, ep, err = s.translatedBody(c, body, t); err != nil {
		return true, err
	}
	p.SetRequest(&c.req, ep, t.Model, out)
	if p.Format == upstream.FormatAnthropic {
		setAnthropicHeaders(&c.req, &c.ctx.Request.Header)
	}
	c.resp.StreamBody = c.fields.stream

	c.sent = time.Now()
	err = p.DoUntil(&c.req, &c.resp, c.clientGone)
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
	resp := &c.resp
	status := resp.StatusCode()
	if status != fasthttp.StatusOK && c.route.Policy.RetryOn(status) {
		err := c.keepFailure(t, now, true)
		c.noteFailure(t, err)
		return false, err
	}
	if status == fasthttp.StatusBadRequest && c.nextRoute(i) < len(c.order) {
		// A prompt too long for this model may fit the next route's.
		err := c.keepFailure(t, now, false)
		if !isContextLengthError(c.failBody) {
			return true, c.failed(err)
		}
		err = fmt.Errorf("%w: %w", errContextLength, err)
		c.noteFailure(t, err)
		return false, err
	}
	t.Health.Success(now, now.Sub(c.sent))
	if c.sticky && status == fasthttp.StatusOK {
		s.affinity.Remember(c.stickyKey, t, now)
	}
	ctx := c.ctx
	ctx.Response.Header.Set(headerProvider, p.Name)
	if c.surface.counts {
		ctx.Response.Header.Set(headerTokenCount, "provider")
	}
	if c.fields.stream && status == fasthttp.StatusOK && bytes.HasPrefix(resp.Header.ContentType(), contentTypeSSE) {
		return true, s.startRelay(c)
	}

	// Buffered answer (or an upstream error for a stream request): pass it
	// through with its status.
	respBody, err := upstream.Body(resp)
	c.received = time.Now()
	if err != nil {
		return true, &upstream.Error{Provider: p.Name, Status: fasthttp.StatusBadGateway, Err: err}
	}
	c.status = status
	if c.translating(p) {
		respBody = c.translateAnswer(respBody, status)
		status = c.status
	}
	ctx.SetStatusCode(status)
	if ct := resp.Header.ContentType(); len(ct) > 0 {
		ctx.Response.Header.SetContentTypeBytes(ct)
	} else {
		ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	}
	if ra := resp.Header.PeekBytes(headerRetryAfter); len(ra) > 0 {
		ctx.Response.Header.SetBytesKV(headerRetryAfter, ra)
	}
	if status != fasthttp.StatusOK {
		ctx.Response.SetBody(respBody)
		return true, nil
	}
	if c.cache.store {
		s.storeAnswer(c, respBody)
	}
	// OpenRouter's additions, which provider served and the cost, written
	// straight into a buffer the response then takes over (no last copy).
	if c.readUsage(respBody) {
		c.computeCost()
		c.scratch = appendWithCost(c.scratch[:0], respBody, answerUsagePaths[c.surface.format], c.cost.Total, &c.fields.node)
		respBody = c.scratch
	}
	c.body = appendWithProvider(c.body[:0], respBody, p.Name)
	if len(c.web) > 0 {
		c.scratch = c.appendWebSources(c.scratch[:0], c.body)
		c.body, c.scratch = c.scratch, c.body
	}
	c.body = ctx.Response.SwapBody(c.body)[:0]
	return true, nil
}

// upstreamBody returns the body to send c.target: the client's own bytes
// when nothing changes, else a copy in c.body with the target's model id
// (when it differs) and the usage option spliced in.
func (s *Server) upstreamBody(c *call, body []byte) []byte {
	var edits [2]edit
	n := 0
	if c.target.Model != c.fields.model && c.surface.format != upstream.FormatGemini { // Gemini's is in the URL
		c.scratch = canon.AppendString(c.scratch[:0], c.target.Model)
		edits[n] = edit{at: c.fields.modelSpan, text: unsafe.String(unsafe.SliceData(c.scratch), len(c.scratch))}
		n++
	}
	if c.fields.usageEdit.text != "" {
		edits[n] = c.fields.usageEdit
		n++
	}
	es := append(c.edits[:0], edits[:n]...)
	es = append(es, c.strips...)
	if s.autoCache(c, &c.target, body) {
		if withCache, err := cacheEdits(es, body, s.promptCache.wire, &c.fields.node); err == nil && len(withCache) > len(es) {
			es = withCache
			c.ctx.Response.Header.Set(headerPromptCache, "auto")
		}
	}
	c.edits = es
	if len(es) == 0 {
		return body
	}
	sortEdits(es)
	c.body = appendEdited(c.body[:0], body, es...)
	return c.body
}

// sortEdits sorts a few edits by position, an insertion before a removal
// that starts where it inserts.
func sortEdits(es []edit) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0; j-- {
			a, b := es[j-1].at, es[j].at
			if a.start < b.start || a.start == b.start && a.end <= b.end {
				break
			}
			es[j-1], es[j] = es[j], es[j-1]
		}
	}
}

// startRelay hands a streaming upstream response to the relay.
func (s *Server) startRelay(c *call) error {
	c.received = time.Now()
	if err := c.relay.stream.Open(c.target.Provider.Name, &c.resp, s.keepalive); err != nil {
		return err
	}
	c.streaming = true
	c.status = fasthttp.StatusOK
	c.relay.dropUsage = c.surface.format == upstream.FormatOpenAI && !c.fields.wantsUsage
	c.relay.translate = c.translating(c.target.Provider)
	c.tr.oaEnc.IncludeUsage = c.fields.wantsUsage
	openStreams.Inc()
	h := &c.ctx.Response.Header
	h.SetContentTypeBytes(contentTypeSSE)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.ctx.SetBodyStream(&c.relay, -1)
	return nil
}
