package proxy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/router"
	"switchboard/store"
	"switchboard/store/redis"
	"switchboard/upstream/canon"
)

// The response cache: an exact-match cache of whole answers in the store
// (store.CacheResponses, zstd-compressed, with a TTL and a byte limit).
// Its key is a hash of the canonical request (package canon: the same
// question asked in any wire format), the route's model included, the
// key, request id, stream flag and user left out. Only the chat surfaces
// are cached, and only deterministic requests (temperature 0) unless the
// config or the request says otherwise. A hit is answered by the gateway
// in the client's format, as a stream when it asked for one, billed $0
// and recorded in the ledger as a cache hit.

const (
	// headerCache: a request's on, off or refresh (call the provider and
	// store its answer); an answer's hit or miss.
	headerCache = "x-switchboard-cache"
	// headerCacheTTL: how long to keep this request's answer (a Go
	// duration such as 10m, or seconds).
	headerCacheTTL = "x-switchboard-cache-ttl"
	// headerCacheAge: how old a hit's answer is, in seconds.
	headerCacheAge = "x-switchboard-cache-age"
)

// maxCacheTTL bounds a request's own TTL.
const maxCacheTTL = 30 * 24 * time.Hour

// responseCache is the response cache's config.
type responseCache struct {
	enabled, anyTemperature bool
	ttl                     time.Duration
}

func newResponseCache(c configs.ResponseCache) responseCache {
	return responseCache{enabled: c.Enabled, anyTemperature: c.AnyTemperature, ttl: c.TTL.D()}
}

// cacheState is a call's use of the response cache.
type cacheState struct {
	key   [32]byte
	store bool   // store the answer
	raw   bool   // the answer as the provider sent it (embeddings)
	buf   []byte // a hit's stored answer
	hit   bool   // answered from the cache
	ttl   time.Duration
	build responseBuilder // a streamed answer, gathered to store
}

func (cs *cacheState) reset() {
	cs.key, cs.store, cs.raw, cs.hit, cs.ttl = [32]byte{}, false, false, false, 0
	cs.buf = reuse(cs.buf)
	cs.build.reset()
}

// useCache decides the call's use of the response cache, and answers it
// from the cache on a hit (served). It runs once the route is resolved,
// before billing admits the call.
func (s *Server) useCache(c *call, body []byte) (served bool, err error) {
	embeddings := c.surface == surfaceEmbeddings
	if !c.surface.chat && !embeddings || c.rewritten() { // fresh web results are not an answer to keep
		return false, nil
	}
	on := c.rt.respCache.enabled
	if p := c.plan.Route.Policy.Cache; p != nil {
		on = *p
	}
	forced, lookup := false, true
	switch string(c.ctx.Request.Header.Peek(headerCache)) {
	case "off":
		return false, nil
	case "on":
		on, forced = true, true
	case "refresh":
		on, forced, lookup = true, true, false
	}
	if !on {
		return false, nil
	}
	cs := &c.cache
	if embeddings { // deterministic, and not translated: the bytes are the request
		cs.key, cs.raw = rawCacheKey(c.plan.Route.Model, body), true
	} else {
		if err := c.decodeRequest(body); err != nil {
			return false, nil // not cacheable; a translation names the error
		}
		r := &c.translation().req
		if !forced && !c.rt.respCache.anyTemperature && (r.Temperature == nil || *r.Temperature != 0) {
			return false, nil // not deterministic enough
		}
		cs.key = cacheKey(c.plan.Route.Model, r)
	}
	cs.store, cs.ttl = true, c.rt.respCache.ttl
	if v := c.ctx.Request.Header.Peek(headerCacheTTL); len(v) > 0 {
		if cs.ttl, err = parseCacheTTL(string(v)); err != nil {
			return false, err
		}
	}
	c.ctx.Response.Header.Set(headerCache, "miss")
	if !lookup {
		return false, nil
	}
	return s.serveCached(c)
}

// parseCacheTTL reads x-switchboard-cache-ttl: a Go duration or seconds.
func parseCacheTTL(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseInt(v, 10, 64)
		if nerr != nil {
			return 0, errBadHeader(headerCacheTTL, "want a duration such as 10m, or seconds")
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > maxCacheTTL {
		return 0, errBadHeader(headerCacheTTL, "want more than 0 and at most 720h")
	}
	return d, nil
}

func errBadHeader(name, want string) error {
	return fmt.Errorf("%w: %s: %s", errBadRequest, name, want)
}

// cacheKey hashes what makes two requests the same question: the route's
// model and the canonical request but for the fields that do not change
// the answer (stream, usage reporting, user, cache markers).
func cacheKey(model string, r *canon.Request) [32]byte {
	q := *r
	q.Model, q.Stream, q.IncludeUsage, q.User, q.Cache, q.Ignored = "", false, false, "", canon.CacheControl{}, nil
	b, err := sonic.Marshal(&q)
	if err != nil { // cannot happen for these plain types; never share a key then
		b = []byte(err.Error())
	}
	h := sha256.New()
	h.Write([]byte(model))
	h.Write([]byte{0})
	h.Write(b)
	var key [32]byte
	h.Sum(key[:0])
	return key
}

// rawCacheKey hashes a request the gateway passes through untranslated
// (embeddings): the route's model and the body's bytes.
func rawCacheKey(model string, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(model))
	h.Write([]byte{1}) // not a canonical request's key
	h.Write(body)
	var key [32]byte
	h.Sum(key[:0])
	return key
}

// serveCached answers the call from the cache, if it holds the answer.
func (s *Server) serveCached(c *call) (bool, error) {
	// Its own buffer: the answer's strings point into it while the
	// headers are written with c.scratch.
	val, meta, ok, err := s.cache.CacheGet(c.cache.buf[:0], store.CacheResponses, c.cache.key, c.start)
	if err != nil || !ok {
		return false, nil // a broken cache is a miss, never a failed call
	}
	c.cache.buf = val
	if c.cache.raw {
		return true, s.serveRaw(c, val, meta)
	}
	var resp canon.Response
	if err := sonic.Unmarshal(val, &resp); err != nil {
		return false, nil
	}
	if err := c.rt.billing.admitFree(c); err != nil {
		return true, err
	}
	c.usage, c.reported = resp.Usage, true
	c.markHit(meta)
	ctx := c.ctx
	h := &ctx.Response.Header
	f := c.format
	tr := c.translation()
	if c.fields.stream {
		tr.oaEnc.IncludeUsage = c.fields.wantsUsage
		tr.events = canon.AppendEvents(tr.events[:0], &resp)
		out := tr.out[:0]
		enc := tr.encoder(f)
		for i := range tr.events {
			if out, err = enc.Append(out, &tr.events[i]); err != nil {
				return true, err
			}
		}
		out = c.relay.costInto(out, 0) // "cost":0 in the usage event
		tr.out = out
		h.SetContentTypeBytes(contentTypeSSE)
		h.Set("Cache-Control", "no-cache")
		ctx.SetBody(out)
		return true, nil
	}
	out, err := f.encodeResponse(tr.out[:0], &resp)
	if err != nil {
		return true, err
	}
	tr.out = out
	h.SetContentTypeBytes(contentTypeJSON)
	c.scratch = appendWithCost(c.scratch[:0], out, f.answerUsage, 0, &c.fields.node)
	ctx.SetBody(c.scratch)
	return true, nil
}

// markHit records that the cache answered the call, whose tokens the
// caller set: billed $0, the cache's headers.
func (c *call) markHit(meta store.CacheMeta) {
	c.cost, c.costed = router.Cost{}, true
	c.cache.hit, c.cache.store, c.reached, c.status = true, false, true, fasthttp.StatusOK
	c.target = c.plan.Targets[0]
	c.ctx.Response.Header.Set(headerCache, "hit")
	c.setIntHeader(headerCacheAge, int64(c.start.Sub(meta.Created)/time.Second))
}

// serveRaw answers the call with a stored answer as it came from the
// provider (embeddings), its usage.cost 0.
func (s *Server) serveRaw(c *call, val []byte, meta store.CacheMeta) error {
	if err := c.rt.billing.admitFree(c); err != nil {
		return err
	}
	c.readUsage(val)
	c.usage.Input, c.usage.CacheWrite, c.usage.CacheWrite1h = c.usage.Input+c.usage.CacheWrite, 0, 0 // the hit writes no cache
	c.markHit(meta)
	c.ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	c.body = appendWithCost(c.body[:0], val, c.format.answerUsage, 0, &c.fields.node)
	c.ctx.SetBody(c.body)
	return nil
}

// storeAnswer keeps a whole answer in the client's format (body) in the
// cache.
func (s *Server) storeAnswer(c *call, body []byte) {
	if c.cache.raw {
		if err := s.cache.CachePut(store.CacheResponses, c.cache.key, body, c.cache.ttl, time.Now()); logCachePut(err) {
			s.errLog.Printf("response cache: %v", err)
		}
		return
	}
	var resp canon.Response
	if err := c.format.decodeResponse(body, &resp); err != nil {
		return
	}
	s.putCached(c, &resp)
}

// putCached stores resp under the call's key; a failure only logs.
func (s *Server) putCached(c *call, resp *canon.Response) {
	if resp.StopReason == "" {
		return // cut short: not an answer to keep
	}
	v, err := sonic.Marshal(resp)
	if err == nil {
		err = s.cache.CachePut(store.CacheResponses, c.cache.key, v, c.cache.ttl, time.Now())
	}
	if logCachePut(err) {
		s.errLog.Printf("response cache: %v", err)
	}
}

// logCachePut reports whether a put's error is worth a log line: not a
// value too large to keep, nor a Redis that is down (counted in
// switchboard_redis_errors_total; it would be a line per miss).
func logCachePut(err error) bool {
	return err != nil && !errors.Is(err, store.ErrTooLarge) && !errors.Is(err, redis.ErrDown)
}

// responseBuilder gathers a streamed answer's canonical events into a
// whole canon.Response, copying their strings (an event's strings live
// only until the next).
type responseBuilder struct {
	resp canon.Response
	buf  []strings.Builder // per block: its text, signature, or arguments
	sig  []strings.Builder
	done bool
}

func (b *responseBuilder) reset() {
	*b = responseBuilder{buf: b.buf[:0], sig: b.sig[:0]}
}

// add takes one event.
func (b *responseBuilder) add(ev *canon.Event) {
	r := &b.resp
	switch ev.Type {
	case canon.EventMessageStart:
		r.ID, r.Model, r.Created = strings.Clone(ev.ID), strings.Clone(ev.Model), ev.Created
	case canon.EventBlockStart:
		for len(r.Content) <= ev.Index {
			r.Content = append(r.Content, canon.Block{})
			b.buf = append(b.buf, strings.Builder{})
			b.sig = append(b.sig, strings.Builder{})
		}
		blk := &r.Content[ev.Index]
		blk.Kind, blk.ID, blk.Name = ev.Kind, strings.Clone(ev.ID), strings.Clone(ev.Name)
		if ev.Kind == canon.BlockRedactedThinking {
			blk.Data = strings.Clone(ev.Text)
		}
	case canon.EventTextDelta, canon.EventThinkingDelta, canon.EventToolArgsDelta:
		if ev.Index < len(b.buf) {
			b.buf[ev.Index].WriteString(ev.Text)
		}
	case canon.EventSignatureDelta:
		if ev.Index < len(b.sig) {
			b.sig[ev.Index].WriteString(ev.Text)
		}
	case canon.EventMessageDelta:
		r.StopReason = canon.StopReason(strings.Clone(string(ev.StopReason)))
		r.StopSequence, r.Usage = strings.Clone(ev.StopSequence), ev.Usage
	case canon.EventMessageStop:
		b.done = true
	}
}

// response returns the gathered answer, or nil when the stream did not
// end normally.
func (b *responseBuilder) response() *canon.Response {
	if !b.done {
		return nil
	}
	r := &b.resp
	for i := range r.Content {
		blk := &r.Content[i]
		switch blk.Kind {
		case canon.BlockToolUse:
			blk.Input = b.buf[i].String()
		default:
			blk.Text = b.buf[i].String()
		}
		blk.Signature = b.sig[i].String()
	}
	return r
}

// cacheEvent feeds a pass-through stream's event to the builder,
// decoding it with the client format's decoder (the translation's, idle
// on a pass-through call).
func (r *relay) cacheEvent(data []byte) {
	c := r.c
	tr := c.translation()
	var err error
	if tr.events, err = tr.decoder(c.format).Decode(tr.events[:0], data); err != nil {
		c.cache.store = false
		return
	}
	for i := range tr.events {
		c.cache.build.add(&tr.events[i])
	}
}

// finishCache stores a streamed answer that ended normally.
func (s *Server) finishCache(c *call) {
	if !c.cache.store || !c.streaming || c.errMsg != "" || c.status != fasthttp.StatusOK {
		return
	}
	if r := c.cache.build.response(); r != nil {
		s.putCached(c, r)
	}
}
