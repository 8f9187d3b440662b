package proxy

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/router"
	"switchboard/upstream"
	"switchboard/upstream/canon"
)

// The request path every API surface shares, read top to bottom: serve
// authenticates the call, prepare reads the few body fields the gateway
// needs and plans the targets (routing, the response cache, web search,
// compression, billing's reservation), and failover (failover.go) tries
// the targets until one answers. A target of the client's own wire
// format gets the client's bytes with at most a few fields spliced
// (upstreamBody); any other goes through the codecs (translate.go).

const headerProvider = "x-switchboard-provider"

var (
	contentTypeJSON  = []byte("application/json")
	contentTypeSSE   = []byte("text/event-stream")
	headerRetryAfter = []byte("retry-after")
)

// serve answers one call of API surface sf on runtime rt.
func (s *Server) serve(ctx *fasthttp.RequestCtx, rt *runtimeState, sf *surface) {
	c := s.acquireCall(ctx, rt, sf)
	if err := s.forward(c, sf.endpoint); err != nil {
		c.setError(err)
		writeErrorIn(ctx, c.format, err)
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

// forward runs one call. It returns an error only before anything was
// written to the client.
func (s *Server) forward(c *call, ep upstream.Endpoint) error {
	ctx := c.ctx
	if !ctx.IsPost() {
		return errMethodNotAllowed
	}
	if c.format.modelInPath {
		keyFromQuery(&ctx.Request)
	}
	key, err := c.rt.keys.authenticate(&ctx.Request.Header, c.start)
	if err != nil {
		return err
	}
	c.key = key
	if err := checkAttribution(&ctx.Request.Header); err != nil {
		return err
	}
	body := ctx.PostBody()
	if err := checkJSONBody(ctx.Request.Header.ContentType(), body, c.format.notJSON); err != nil {
		return err
	}
	if answered, err := s.prepare(c, body); answered || err != nil {
		return err
	}
	return s.failover(c, ep, body)
}

// prepare does what an authenticated call does before its first
// upstream attempt: it plans the targets, reads the compression options,
// runs a web search, answers from the response cache, compresses, and
// admits the call to billing. answered is true when the call needs no
// provider (a cache hit, a local token count).
func (s *Server) prepare(c *call, body []byte) (answered bool, err error) {
	if err := s.plan(c, body); err != nil {
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
	return false, c.rt.billing.admit(c, body)
}

// plan reads the fields the gateway needs from the body and has the
// router plan the call's targets (c.plan): the model's route ordered by
// strategy, health and the body's "provider" preferences, then its
// fallback models' routes. Only targets the surface can reach are kept.
func (s *Server) plan(c *call, body []byte) error {
	if c.format.modelInPath {
		if err := parseGeminiFields(body, c.path, c.surface, &c.fields); err != nil {
			return err
		}
	} else if err := parseFields(body, &c.fields, c.surface.usageOption); err != nil {
		return err
	}
	if err := checkModelLength(c.fields.model); err != nil {
		return err
	}
	if err := checkNumbers(body, c.format.format, &c.fields.node); err != nil {
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
	fallbacks, err := c.fallbackModels(body)
	if err != nil {
		return err
	}
	if err := c.rt.router.Plan(&c.plan, c.fields.model, fallbacks, prefs, c.start, nil); err != nil {
		var fe *router.FallbackError
		if errors.As(err, &fe) {
			return fmt.Errorf("%w: %w", errBadRequest, err)
		}
		return err
	}
	for _, err := range c.plan.Skipped {
		s.errLog.Printf("route %s: %v", c.plan.Route.Model, err)
	}
	// A call goes to providers of the client's own format, or of any
	// other through translation.
	sf := c.surface
	if c.plan.Keep(func(t *router.Target, _ string) bool { return translatable(sf, t.Provider.Format) }) == 0 {
		return otherFormatError(c.surface, c.fields.model)
	}
	if c.plan.Route.Varies(prefs) {
		s.stick(c, body)
	}
	c.target = c.plan.Targets[0]
	return nil
}

// maxFallbackModels bounds a request's own fallback list.
const maxFallbackModels = 8

// fallbackModels reads a body's "models" (OpenRouter) or
// "fallback_models" (Apertis) list: model names to try, in order, after
// the requested one. Their removal from the upstream body is added to
// c.strips.
func (c *call) fallbackModels(body []byte) ([]string, error) {
	var all []string
	for _, k := range [...]extensionKey{extModels, extFallbackModels} {
		key := extensionKeys[k]
		value, strip, ok, err := c.extension(body, k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		c.strips = append(c.strips, strip)
		var names []string
		if err := sonic.Unmarshal(body[value.start:value.end], &names); err != nil {
			return nil, fmt.Errorf("%w: %s must be a list of model names", errBadRequest, key)
		}
		if len(names) > maxFallbackModels {
			return nil, fmt.Errorf("%w: %s lists %d models, at most %d", errBadRequest, key, len(names), maxFallbackModels)
		}
		all = append(all, names...)
	}
	return all, nil
}

// upstreamBody returns the body to send c.target, a provider of the
// client's format: the client's own bytes when nothing changes, else a
// copy in c.body with the target's model id (when it differs), the usage
// option, cache breakpoints spliced in and the gateway's own fields
// removed.
func (s *Server) upstreamBody(c *call, body []byte) []byte {
	var edits [2]edit
	n := 0
	if c.target.Model != c.fields.model && !c.format.modelInPath {
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
		if withCache, err := cacheEdits(es, body, c.rt.promptCache.wire, &c.fields.node); err == nil && len(withCache) > len(es) {
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
