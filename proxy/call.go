package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"switchboard/proxy/compress"
	"switchboard/router"
	"switchboard/store"
	"switchboard/telemetry"
	"switchboard/upstream"
	"switchboard/upstream/canon"
	"switchboard/upstream/websearch"
)

// call is the state of one proxied request, pooled. A non-streaming call
// is released when its handler returns; a streaming one when fasthttp
// closes its relay (after the last byte or when the client goes away). Do
// not use a call after finish.
//
// The state of each feature is a sub-struct with its own reset; routing
// and metering, which the whole path reads, are embedded.
type call struct {
	srv       *Server
	rt        *runtimeState // the config the call runs on, from start to finish
	ctx       *fasthttp.RequestCtx
	start     time.Time
	surface   *surface
	format    *wireFormat // the client's: surface.format's row
	key       *Key
	fields    requestFields
	requestID []byte
	path      []byte
	req       fasthttp.Request  // to the provider
	resp      fasthttp.Response // from the provider
	status    int
	errMsg    string
	streaming bool
	sent      time.Time     // upstream request sent, of the current attempt; zero after it failed
	received  time.Time     // upstream response read (non-streaming) or headers (streaming)
	waited    time.Duration // on the providers of the failed attempts before it
	backoff   time.Duration // asleep between attempts to the same provider

	routing  // failover.go
	metering // billing.go

	cache       cacheState       // respcache.go
	web         webState         // web.go
	compression compressionState // compression.go
	sticky      stickyState      // sticky.go
	relay       relay            // sse.go
	tr          *translation     // translate.go; nil until c.translation()
	trace       telemetry.Call   // tracing.go
	hedge       *hedge           // hedge.go; nil unless the call hedged its first attempt

	body    []byte // the upstream body when it had to be edited, then the answer
	scratch []byte // a header value or answer being assembled
	// watch ends the upstream call at once when the client leaves while
	// the call waits on its provider; stopped in finish, before the
	// client's connection may close.
	watch upstream.Watch
}

// routing is a call's way through its targets: the plan, the target
// being tried, and what the failed attempts left.
type routing struct {
	plan     router.Plan
	target   router.Target
	prefs    router.ProviderPrefs
	strips   []edit // remove the gateway's own fields from the upstream body
	edits    []edit
	attempts int
	trail    []byte // "provider/model (reason), ..." of failed attempts
	failure  keptFailure
}

func (r *routing) reset() {
	r.plan.Release()
	r.target, r.prefs, r.attempts = router.Target{}, router.ProviderPrefs{}, 0
	r.strips, r.edits, r.trail = reuse(r.strips), reuse(r.edits), reuse(r.trail)
	r.failure.reset()
}

// keptFailure is the last failed provider answer, passed to the client
// when no other target does better.
type keptFailure struct {
	status      int
	body        []byte
	contentType []byte
	retryAfter  []byte
}

func (f *keptFailure) reset() {
	f.status = 0
	f.body, f.contentType, f.retryAfter = reuse(f.body), reuse(f.contentType), reuse(f.retryAfter)
}

// metering is a call's billing: its reservation, usage and cost.
type metering struct {
	resv     *store.Reservation // held from admit until settle
	reached  bool               // the provider may have served the call
	canceled bool               // the client went away while the provider worked
	price    router.Price
	usage    canon.Usage
	// reported: the provider reported the usage; estimated: it did not,
	// and the gateway estimated it.
	reported, estimated bool
	cost                router.Cost
	costed              bool
	limits              limitState
	hasLimits           bool
	waste               hedgeWasteState // hedge.go
}

func (m *metering) reset() { *m = metering{} }

var callPool = sync.Pool{New: func() any {
	c := &call{}
	c.relay.c = c
	return c
}}

// maxPooledBuffer caps the bytes a pooled call's buffer keeps, so that
// one huge request does not pin its memory in the pool for good.
const maxPooledBuffer = 1 << 20

// reuse returns b emptied for the next call, or nil when it grew past
// maxPooledBuffer bytes. Every buffer a pooled call keeps goes through
// it on release.
func reuse[T any](b []T) []T {
	var zero T
	if uintptr(cap(b))*unsafe.Sizeof(zero) > maxPooledBuffer {
		return nil
	}
	return b[:0]
}

func (s *Server) acquireCall(ctx *fasthttp.RequestCtx, rt *runtimeState, surface *surface) *call {
	s.calls.Add(1)
	c := callPool.Get().(*call)
	c.srv, c.rt, c.ctx, c.surface, c.format = s, rt, ctx, surface, formatOf(surface.format)
	c.start = time.Now()
	c.watch.Start(ctx.Conn())
	c.key = anonymous
	c.path = append(c.path[:0], ctx.Path()...)
	// Always the gateway's own id, never the client's x-request-id: it
	// keys the ledger entry, and a replayed id would not be billed.
	c.requestID = s.appendRequestID(c.requestID[:0])
	ctx.Response.Header.SetBytesV(headerRequestID, c.requestID)
	s.tel.Start(&c.trace, &ctx.Request.Header, surface.name, c.start)
	return c
}

// finish records the call in metrics and the access log and returns it to
// the pool.
func (c *call) finish() {
	c.endHedge()
	c.watch.Stop()
	now := time.Now()
	s := c.srv
	s.metrics.record(labels{surface: c.surface.name, model: c.plan.Route.Model, provider: c.provider(), status: c.status},
		now.Sub(c.start), c.upstreamTime(now), c.usage.Prompt(), c.usage.Output)
	if c.cache.store {
		s.finishCache(c)
	}
	c.rt.billing.settle(c, now)
	if kl := c.key.limits; kl != nil {
		kl.chargeTokens(now, c.usage.Prompt()+c.usage.Output)
	}
	if s.log != nil {
		s.log.write(c, now)
	}
	if c.trace.On() {
		c.endTrace(now)
	}
	s.calls.Add(-1)
	if s.trim != nil {
		n := len(c.ctx.PostBody())
		if !c.streaming { // Body would read a stream's body stream
			n = max(n, len(c.ctx.Response.Body()))
		}
		s.trim.noteBody(n)
	}
	c.release()
}

func (c *call) release() {
	c.req.Reset()
	c.resp.Reset()
	c.srv, c.rt, c.ctx, c.key, c.surface, c.format = nil, nil, nil, nil, nil, nil
	c.fields = requestFields{}
	c.status, c.errMsg, c.streaming = 0, "", false
	c.sent, c.received, c.waited, c.backoff = time.Time{}, time.Time{}, 0, 0
	c.routing.reset()
	c.metering.reset()
	c.cache.reset()
	c.web.reset()
	c.compression.reset()
	c.sticky.reset()
	c.relay.reset()
	if c.hedge != nil { // the hedge that won: the relay is done with its answer
		c.hedge.release()
		c.hedge = nil
	}
	if c.tr != nil {
		c.tr.reset()
		translationPool.Put(c.tr)
		c.tr = nil
	}
	c.trace.Reset()
	c.path, c.requestID = reuse(c.path), reuse(c.requestID)
	c.body, c.scratch = reuse(c.body), reuse(c.scratch)
	callPool.Put(c)
}

// provider names the provider that served the call, or "-".
func (c *call) provider() string {
	if c.target.Provider == nil {
		return "-"
	}
	return c.target.Provider.Name
}

// upstreamTime is the time spent waiting on providers: every failed
// attempt's, and the last attempt's until the whole response for a
// buffered call, until now for a stream.
func (c *call) upstreamTime(now time.Time) time.Duration {
	switch {
	case c.sent.IsZero():
		return c.waited
	case c.streaming || c.received.IsZero():
		return c.waited + now.Sub(c.sent)
	}
	return c.waited + c.received.Sub(c.sent)
}

// overhead is the time the call spent in the gateway itself: neither
// waiting on a provider nor backing off between attempts.
func (c *call) overhead(now time.Time) time.Duration {
	return now.Sub(c.start) - c.upstreamTime(now) - c.backoff
}

// clientHungUp reports whether the client closed its connection.
func (c *call) clientHungUp() bool {
	return c.watch.Gone() || upstream.PeerClosed(c.ctx.Conn())
}

// setError keeps a loggable description of err and the status it maps to.
func (c *call) setError(err error) {
	c.errMsg = err.Error()
	if c.status == 0 || c.status == fasthttp.StatusOK {
		c.status = toAPIError(err).status
	}
}

// extendWriteDeadline gives the client writeTimeout to take the next
// chunk of a stream; a client that stops reading is cut off.
func (c *call) extendWriteDeadline() {
	if c.rt.writeTimeout > 0 {
		_ = c.ctx.Conn().SetWriteDeadline(time.Now().Add(c.rt.writeTimeout))
	}
}

const headerRequestID = "x-request-id"

// appendRequestID appends a new unique request id: "req_" followed by a
// per-process random prefix and a counter, in hex.
func (s *Server) appendRequestID(dst []byte) []byte {
	dst = append(dst, "req_"...)
	dst = append(dst, s.idPrefix...)
	n := atomic.AddUint64(&s.idCounter, 1)
	const hex = "0123456789abcdef"
	var buf [16]byte
	for i := len(buf) - 1; i >= 0; i-- {
		buf[i] = hex[n&0xf]
		n >>= 4
	}
	return append(dst, buf[:]...)
}

// setOverheadHeader sets on the response the time the gateway itself
// took (x-switchboard-overhead-us), the time spent waiting on providers
// (x-switchboard-upstream-us) and, after a failed attempt, backing off
// before the next (x-switchboard-retry-wait-ms).
func (c *call) setOverheadHeader(now time.Time) {
	c.setIntHeader("x-switchboard-overhead-us", c.overhead(now).Microseconds())
	if c.attempts > 0 {
		c.setIntHeader("x-switchboard-upstream-us", c.upstreamTime(now).Microseconds())
	}
	if c.backoff > 0 {
		c.setIntHeader("x-switchboard-retry-wait-ms", c.backoff.Milliseconds())
	}
}

// setIntHeader sets the response header name to v.
func (c *call) setIntHeader(name string, v int64) {
	c.scratch = strconv.AppendInt(c.scratch[:0], v, 10)
	c.ctx.Response.Header.SetBytesV(name, c.scratch)
}

// webState is a call's web search (web.go): the results the model was
// given.
type webState struct {
	results []websearch.Result
}

func (w *webState) reset() { w.results = nil }

// compressionState is a call's context compression (compression.go):
// the options, zero when off, and the prompt tokens it saved.
type compressionState struct {
	opts  compress.Options
	saved int64
}

func (s *compressionState) reset() { *s = compressionState{} }

// stickyState is a call's sticky routing (sticky.go): the conversation's
// key, when the call is to remember the target that serves it.
type stickyState struct {
	key uint64
	on  bool
}

func (s *stickyState) reset() { *s = stickyState{} }
