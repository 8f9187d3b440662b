package proxy

import (
	"bytes"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"switchboard/upstream"
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
func (s *Server) passThrough(ctx *fasthttp.RequestCtx, surface string, ep upstream.Endpoint) {
	c := s.acquireCall(ctx, surface)
	if err := s.forward(c, ep); err != nil {
		c.setError(err)
		writeError(ctx, err)
		ctx.Response.Header.SetBytesV(headerRequestID, c.requestID)
	}
	c.setLimitHeaders()
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
	key, err := s.keys.authenticate(&ctx.Request.Header, c.start)
	if err != nil {
		return err
	}
	c.key = key
	body := ctx.PostBody()
	out, err := s.prepare(c, body)
	if err != nil {
		return err
	}
	if err := s.billing.admit(c, body); err != nil {
		return err
	}
	p := c.target.Provider
	p.SetRequest(&c.req, ep, out)
	c.resp.StreamBody = c.fields.stream

	c.sent = time.Now()
	err = p.Do(&c.req, &c.resp)
	if err != nil {
		c.reached = reachedProvider(err)
		return err
	}
	c.reached = true
	resp := &c.resp
	ctx.Response.Header.Set(headerProvider, p.Name)
	if c.fields.stream && resp.StatusCode() == fasthttp.StatusOK &&
		bytes.HasPrefix(resp.Header.ContentType(), contentTypeSSE) {
		return s.startRelay(c)
	}

	// Buffered answer (or an upstream error for a stream request): pass it
	// through with its status.
	respBody, err := upstream.Body(resp)
	c.received = time.Now()
	if err != nil {
		return &upstream.Error{Provider: p.Name, Status: fasthttp.StatusBadGateway, Err: err}
	}
	c.status = resp.StatusCode()
	if c.status == fasthttp.StatusOK && readUsage(respBody, &c.usage, &c.fields.node) {
		c.computeCost()
		c.scratch = appendWithCost(c.scratch[:0], respBody, c.cost.Total, &c.fields.node)
		respBody = c.scratch
	}
	ctx.SetStatusCode(c.status)
	if ct := resp.Header.ContentType(); len(ct) > 0 {
		ctx.Response.Header.SetContentTypeBytes(ct)
	} else {
		ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	}
	if ra := resp.Header.PeekBytes(headerRetryAfter); len(ra) > 0 {
		ctx.Response.Header.SetBytesKV(headerRetryAfter, ra)
	}
	ctx.Response.SetBody(respBody)
	return nil
}

// prepare reads the fields the gateway needs from a pass-through body,
// resolves the route, and returns the body to send upstream: the client's
// own bytes when nothing changes, else a copy in c.body with the model
// (when the provider's id differs) and the usage option spliced in.
func (s *Server) prepare(c *call, body []byte) ([]byte, error) {
	if err := parseFields(body, &c.fields); err != nil {
		return nil, err
	}
	if err := s.router.Resolve(c.fields.model, &c.route); err != nil {
		return nil, err
	}
	c.target = c.route.Targets[0]
	var edits [2]edit
	n := 0
	if c.target.Model != c.fields.model {
		c.scratch = appendJSONString(c.scratch[:0], c.target.Model)
		edits[n] = edit{at: c.fields.modelSpan, text: unsafe.String(unsafe.SliceData(c.scratch), len(c.scratch))}
		n++
	}
	if c.fields.usageEdit.text != "" {
		edits[n] = c.fields.usageEdit
		if n == 1 && edits[1].at.start < edits[0].at.start {
			edits[0], edits[1] = edits[1], edits[0]
		}
		n++
	}
	if n == 0 {
		return body, nil
	}
	c.body = appendEdited(c.body[:0], body, edits[:n]...)
	return c.body, nil
}

// startRelay hands a streaming upstream response to the relay.
func (s *Server) startRelay(c *call) error {
	c.received = time.Now()
	if err := c.relay.stream.Open(c.target.Provider.Name, &c.resp, s.keepalive); err != nil {
		return err
	}
	c.streaming = true
	c.status = fasthttp.StatusOK
	c.relay.dropUsage = !c.fields.wantsUsage
	openStreams.Inc()
	h := &c.ctx.Response.Header
	h.SetContentTypeBytes(contentTypeSSE)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.ctx.SetBodyStream(&c.relay, -1)
	return nil
}
