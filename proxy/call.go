package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/proxy/compress"
	"switchboard/router"
	"switchboard/store"
	"switchboard/upstream"
	"switchboard/upstream/websearch"
)

// call is the state of one proxied request, pooled. A non-streaming call
// is released when its handler returns; a streaming one when fasthttp
// closes its relay (after the last byte or when the client goes away). Do
// not use a call after finish.
type call struct {
	srv        *Server
	ctx        *fasthttp.RequestCtx
	start      time.Time
	surface    *surface
	key        *Key
	fields     requestFields
	route      router.Route
	target     router.Target
	requestID  []byte
	path       []byte
	body       []byte // the upstream body when it had to be edited
	scratch    []byte
	req        fasthttp.Request
	resp       fasthttp.Response
	sent       time.Time // upstream request sent
	received   time.Time // upstream response read (non-streaming) or headers (streaming)
	firstEvent time.Time
	streaming  bool
	status     int
	usage      usage
	errMsg     string

	// Routing (failover.go).
	order       []router.Target // targets in the order to try, fallback routes' after
	orderModel  []string        // the model name each target serves, for key model lists
	routeStarts []int           // where each route's targets start in order
	fbRoute     router.Route    // a fallback model's route, being added
	fbOrder     []router.Target
	prefs       router.ProviderPrefs
	strips      []edit // remove the gateway's own fields from the upstream body
	edits       []edit
	attempts    int
	fallback    []byte // "provider/model (reason), ..." of failed attempts
	failStatus  int
	failBody    []byte
	failType    []byte
	failRetry   []byte

	// Billing (billing.go).
	resv      *store.Reservation // held from admit until settle
	reached   bool               // the provider may have served the call
	canceled  bool               // the client went away while the provider worked
	price     router.Price
	tokens    router.Usage
	cost      router.Cost
	costed    bool
	limits    limitState
	hasLimits bool

	cache cacheState // the response cache (respcache.go)

	// The canonical request was rewritten (web.go): it goes to every
	// target through the codecs. web holds the results it was given.
	rewritten bool
	web       []websearch.Result
	clean     []byte // the body without the gateway's own fields, decoded

	// Context compression (compression.go): the options, zero when off,
	// and the prompt tokens it saved.
	compression compress.Options
	compressed  int64

	// Sticky routing (sticky.go).
	stickyKey uint64
	sticky    bool

	relay      relay
	clientGone func() bool // c.clientHungUp, made once
	tr         translation
}

var callPool = sync.Pool{New: func() any {
	c := &call{}
	c.clientGone = c.clientHungUp
	c.relay.c = c
	c.relay.in = make([]byte, 0, 8<<10)
	return c
}}

// maxPooledBuffer caps the buffers a pooled call keeps, so one huge
// request does not pin its memory for good.
const maxPooledBuffer = 1 << 20

func (s *Server) acquireCall(ctx *fasthttp.RequestCtx, surface *surface) *call {
	c := callPool.Get().(*call)
	c.srv, c.ctx, c.surface = s, ctx, surface
	c.start = time.Now()
	c.key = anonymous
	c.path = append(c.path[:0], ctx.Path()...)
	// Always the gateway's own id, never the client's x-request-id: it
	// keys the ledger entry, and a replayed id would not be billed.
	c.requestID = s.appendRequestID(c.requestID[:0])
	ctx.Response.Header.SetBytesV(headerRequestID, c.requestID)
	return c
}

// finish records the call in metrics and the access log and returns it to
// the pool.
func (c *call) finish() {
	now := time.Now()
	s := c.srv
	s.metrics.record(labels{surface: c.surface.name, model: c.route.Model, provider: c.provider(), status: c.status},
		now.Sub(c.start), c.upstreamTime(now), c.usage.prompt, c.usage.completion)
	if c.cache.store {
		s.finishCache(c)
	}
	s.billing.settle(c, now)
	if kl := c.key.limits; kl != nil {
		kl.chargeTokens(now, c.usage.prompt+c.usage.completion)
	}
	if s.log != nil {
		s.log.write(c, now)
	}
	c.release()
}

func (c *call) release() {
	c.req.Reset()
	c.resp.Reset()
	c.srv, c.ctx, c.key = nil, nil, nil
	c.fields = requestFields{}
	c.route = router.Route{}
	c.target = router.Target{}
	c.sent, c.received, c.firstEvent = time.Time{}, time.Time{}, time.Time{}
	c.status, c.usage, c.errMsg, c.streaming = 0, usage{}, "", false
	c.resv, c.reached, c.costed, c.hasLimits, c.canceled = nil, false, false, false, false
	c.stickyKey, c.sticky = 0, false
	c.rewritten, c.web, c.clean = false, nil, c.clean[:0]
	c.compression, c.compressed = compress.Options{}, 0
	c.cache.key, c.cache.store, c.cache.hit, c.cache.raw, c.cache.ttl = [32]byte{}, false, false, false, 0
	c.cache.build.reset()
	if c.cache.buf = c.cache.buf[:0]; cap(c.cache.buf) > maxPooledBuffer {
		c.cache.buf = nil
	}
	c.order, c.orderModel, c.routeStarts, c.fbRoute = c.order[:0], c.orderModel[:0], c.routeStarts[:0], router.Route{}
	c.prefs, c.strips, c.attempts, c.failStatus = router.ProviderPrefs{}, c.strips[:0], 0, 0
	c.fallback, c.failBody, c.failType, c.failRetry = c.fallback[:0], c.failBody[:0], c.failType[:0], c.failRetry[:0]
	if cap(c.failBody) > maxPooledBuffer {
		c.failBody = nil
	}
	c.price, c.tokens, c.cost, c.limits = router.Price{}, router.Usage{}, router.Cost{}, limitState{}
	if cap(c.body) > maxPooledBuffer {
		c.body = nil
	}
	r := &c.relay
	if cap(r.in) > maxPooledBuffer {
		r.in = make([]byte, 0, 8<<10)
	}
	r.in, r.head, r.pending, r.scratch = r.in[:0], 0, nil, r.scratch[:0]
	r.dropUsage, r.done, r.sawFirst, r.events, r.translate = false, false, false, 0, false
	c.tr.reset()
	callPool.Put(c)
}

// provider names the provider that served the call, or "-".
func (c *call) provider() string {
	if c.target.Provider == nil {
		return "-"
	}
	return c.target.Provider.Name
}

// upstreamTime is the time spent waiting on the provider: until the whole
// response for a buffered call, until now for a stream.
func (c *call) upstreamTime(now time.Time) time.Duration {
	switch {
	case c.sent.IsZero():
		return 0
	case c.streaming || c.received.IsZero():
		return now.Sub(c.sent)
	}
	return c.received.Sub(c.sent)
}

// overhead is the time the call spent in the gateway itself.
func (c *call) overhead(now time.Time) time.Duration {
	return now.Sub(c.start) - c.upstreamTime(now)
}

// clientHungUp reports whether the client closed its connection.
func (c *call) clientHungUp() bool { return upstream.PeerClosed(c.ctx.Conn()) }

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
	if c.srv.writeTimeout > 0 {
		_ = c.ctx.Conn().SetWriteDeadline(time.Now().Add(c.srv.writeTimeout))
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

// setOverheadHeader sets x-switchboard-overhead-us on the response.
func (c *call) setOverheadHeader(now time.Time) {
	c.scratch = strconv.AppendInt(c.scratch[:0], c.overhead(now).Microseconds(), 10)
	c.ctx.Response.Header.SetBytesV("x-switchboard-overhead-us", c.scratch)
}
