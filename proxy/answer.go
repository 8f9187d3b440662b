package proxy

import (
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/upstream"
)

// finishAnswer passes a buffered provider answer (or a provider's error
// for a stream request) to the client with its status: translated into
// the client's format when the target speaks another, stored in the
// response cache, and with OpenRouter's additions, the provider that
// served it and the cost in its usage (and the web sources, for :web).
func (s *Server) finishAnswer(c *call, status int) error {
	resp, ctx, p := c.answer(), c.ctx, c.target.Provider
	respBody, err := upstream.Body(resp)
	c.received = time.Now()
	if err != nil {
		return &upstream.Error{Provider: p.Name, Status: fasthttp.StatusBadGateway, Err: err}
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
		return nil
	}
	if c.cache.store {
		s.storeAnswer(c, respBody)
	}
	// Written straight into a buffer the response then takes over (no
	// last copy).
	if c.readUsage(respBody) {
		c.computeCost()
		c.scratch = appendWithCost(c.scratch[:0], respBody, c.format.answerUsage, c.cost.Total, &c.fields.node)
		respBody = c.scratch
	}
	c.body = appendWithProvider(c.body[:0], respBody, p.Name)
	if len(c.web.results) > 0 {
		c.scratch = c.appendWebSources(c.scratch[:0], c.body)
		c.body, c.scratch = c.scratch, c.body
	}
	c.body = ctx.Response.SwapBody(c.body)[:0]
	return nil
}

// readUsage reads the usage of a whole answer in the client's format
// into c.usage and reports whether it had one.
func (c *call) readUsage(doc []byte) bool {
	if !c.format.readUsage(doc, &c.usage, &c.fields.node) {
		return false
	}
	c.reported = true
	return true
}

// startRelay hands a streaming upstream response to the relay.
func (s *Server) startRelay(c *call) error {
	c.received = time.Now()
	if err := c.relay.stream.Open(c.target.Provider.Name, c.answer(), c.rt.keepalive); err != nil {
		return err
	}
	c.streaming = true
	c.status = fasthttp.StatusOK
	c.relay.dropUsage = !c.fields.wantsUsage
	c.relay.translate = c.translating(c.target.Provider)
	c.translation().oaEnc.IncludeUsage = c.fields.wantsUsage
	openStreams.Inc()
	h := &c.ctx.Response.Header
	h.SetContentTypeBytes(contentTypeSSE)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.ctx.SetBodyStream(&c.relay, -1)
	return nil
}
