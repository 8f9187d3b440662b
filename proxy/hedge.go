package proxy

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"switchboard/router"
	"switchboard/store/money"
	"switchboard/telemetry"
	"switchboard/upstream"
	"switchboard/upstream/canon"
)

// Hedged requests. A route with hedge: {after: ...} races its first
// attempt against the next target of the call's order when the first has
// not answered by then: after a fixed delay, or after the first target's
// observed 95th percentile time to first byte (router.FirstByteHistogram,
// of streamed or buffered answers as the call's; no hedge before
// minHedgeSamples were observed). The first of the two to answer with a
// 2xx wins: a stream at its headers, a buffered call at its whole answer,
// which providers send at once after its first byte. The other is
// cancelled (upstream.Watch.Cancel: its connection is closed, not
// pooled), the call is billed once, for the winner, and the loser's
// tokens are recorded as hedge waste in its ledger entry and
// switchboard_hedge_waste_tokens_total.
//
// How it runs. The call's goroutine sends the first attempt, as any call
// does, after arming a reusable timer (time.AfterFunc). Only when the
// timer fires does a goroutine start: the timer's, which sends the hedge
// (launch) on the hedge's own request, response and Watch. A call whose
// first attempt answers in time starts no goroutine and pays the timer's
// arm and stop, and a pooled hedge; a route without hedge pays a nil
// check. DESIGN.md rules out per-request goroutines on the hot path: a
// hedge is the one place that needs two upstream calls in flight at once
// for one request, and fasthttp's Do blocks, so the second has to have a
// goroutine; it is started for the few calls that are slow enough to be
// hedged.
//
// The race is decided by state, an atomic word: launch sets launched
// unless the first attempt already won; the first attempt claims
// firstWon unless the hedge won; the hedge claims hedgeWon unless the
// first won. Whoever claims cancels the other. The call's goroutine reads
// the hedge's results only after receiving on done, which launch sends
// exactly once each time the timer fires, so a call waits on done exactly
// when stopping the timer failed. The loser's connection is closed by its
// own goroutine: DoUntil returns ErrCanceled and fasthttp closes it, or
// an answer that came too late is Abandoned.
//
// The hedge's Watch watches the client too (it polls, since the first
// attempt's Watch holds the client's epoll registration), so a client
// that leaves ends both attempts. A winning hedge's stream moves to the
// call's own Watch (upstream.MoveWatch) before the relay reads it.
//
// Rejected alternatives: both attempts on new goroutines with the call's
// waiting on a channel (a goroutine per hedged call, hedge or not, and
// every call of the route pays the hand-over); hedging every attempt of a
// failover (max: 1 keeps the extra load of a slow provider at most one
// call per slow call).
type hedge struct {
	state atomic.Uint32
	done  chan struct{}
	timer *time.Timer

	// Set by the call's goroutine before the timer is armed, read by
	// launch.
	p     *upstream.Provider
	model string
	n     int // the hedge's attempt number
	trace *telemetry.Call
	first *upstream.Watch // the first attempt's: the call's Watch

	// The hedge attempt's; the call's goroutine reads them after done.
	req   fasthttp.Request
	resp  fasthttp.Response
	watch upstream.Watch
	sent  time.Time
	err   error

	// The call's side.
	j       int       // the hedge's index in the plan's targets
	bodies  [2][]byte // the two attempts' upstream bodies, when edited
	lens    [2]int    // their sizes, for the waste estimate
	stopped bool      // the timer was stopped before it fired
	waited  bool      // done was received
	took    bool      // its answer is the call's: it won, or it failed last
	delay   time.Duration
}

// The bits of hedge.state.
const (
	hedgeLaunched = 1 << iota
	hedgeFirstWon
	hedgeWon
)

// minHedgeSamples is how many times to first byte a target needs before
// after: p95 hedges its calls: fewer say little about its tail.
const minHedgeSamples = 20

var hedgePool = sync.Pool{New: func() any {
	h := &hedge{done: make(chan struct{}, 1)}
	h.timer = time.AfterFunc(time.Hour, h.launch)
	h.timer.Stop()
	return h
}}

// claim sets bit unless unless is set, and reports whether it did.
func (h *hedge) claim(bit, unless uint32) bool {
	for {
		s := h.state.Load()
		if s&unless != 0 {
			return false
		}
		if h.state.CompareAndSwap(s, s|bit) {
			return true
		}
	}
}

func (h *hedge) launched() bool { return h.state.Load()&hedgeLaunched != 0 }

// launch sends the hedge; it runs on the timer's goroutine.
func (h *hedge) launch() {
	defer func() { h.done <- struct{}{} }()
	if !h.claim(hedgeLaunched, hedgeFirstWon) {
		return
	}
	h.sent = time.Now()
	h.trace.StartHedge(&h.req, h.p.Name, h.model, h.n)
	h.err = h.p.DoUntil(&h.req, &h.resp, &h.watch)
	if h.err != nil || !is2xx(h.resp.StatusCode()) {
		return
	}
	if h.claim(hedgeWon, hedgeFirstWon) {
		h.first.Cancel()
		return
	}
	upstream.Abandon(&h.resp, &h.watch) // the first answered first
}

// stop stops the hedge's timer and reports whether that was in time:
// launch will not run.
func (h *hedge) stop() bool {
	if !h.stopped && h.timer.Stop() {
		h.stopped = true
	}
	return h.stopped
}

// wait waits for launch to be done with the hedge, unless it was
// stopped before it ran.
func (h *hedge) wait() {
	if h.waited || h.stop() {
		return
	}
	<-h.done
	h.waited = true
}

func is2xx(status int) bool { return status >= 200 && status < 300 }

// prepareHedge returns the hedge of the call's first attempt, to target
// i, whose upstream body is out, or nil when the call does not hedge: the
// route does not, this is not the call's first attempt, no next target
// has a closed breaker, or after: p95 has too few samples. It builds the
// hedge's request now, on the call's goroutine, for the target after i.
func (s *Server) prepareHedge(c *call, ep upstream.Endpoint, body, out []byte, i int) *hedge {
	hp := c.plan.Route.Policy.Hedge
	if hp == nil || c.attempts != 1 || c.plan.Route.Policy.Attempts < 2 {
		return nil
	}
	j := i + 1
	for ; j < len(c.plan.Targets); j++ {
		if c.plan.Targets[j].Health.State() == router.BreakerClosed {
			break
		}
	}
	if j == len(c.plan.Targets) {
		return nil
	}
	delay := hp.After.D()
	if hp.After.P95() {
		var ok bool
		if delay, ok = c.plan.Targets[i].Health.FirstByteQuantile(c.fields.stream, 0.95, minHedgeSamples); !ok {
			return nil
		}
	}
	h := hedgePool.Get().(*hedge)
	h.j, h.delay, h.lens[0] = j, delay, len(out)
	kept := aliases(out, c.body) // the first attempt's body, held by the hedge
	if kept {                    // while the hedge's may be built in c.body
		c.body, h.bodies[0] = h.bodies[0][:0], c.body
	}
	t := &c.plan.Targets[j]
	first := c.target
	c.target = *t // upstreamBody edits for c.target
	hout := body
	var err error
	if !c.translating(t.Provider) {
		hout = s.upstreamBody(c, body)
	} else {
		hout, ep, err = s.translatedBody(c, body, t)
	}
	c.target = first
	if c.tr != nil && c.tr.decoded {
		c.tr.req.Model = first.Model // as translatedBody left it for the first
	}
	if err != nil { // a request the hedge's format cannot express: no hedge
		if kept { // the first attempt's request still points into it
			c.body, h.bodies[0] = h.bodies[0], c.body
		}
		h.release()
		return nil
	}
	if aliases(hout, c.body) {
		c.body, h.bodies[1] = h.bodies[1][:0], c.body
	}
	h.lens[1] = len(hout)
	p := t.Provider
	p.SetRequest(&h.req, ep, t.Model, hout)
	if fwd := formatOf(p.Format).forwardHeaders; fwd != nil {
		fwd(&h.req, &c.ctx.Request.Header)
	}
	h.resp.StreamBody = c.fields.stream
	h.p, h.model, h.n, h.trace, h.first = p, t.Model, c.attempts+1, &c.trace, &c.watch
	h.watch.StartPolled(c.ctx.Conn())
	c.hedge = h
	return h
}

// aliases reports whether b is a part of buf's memory.
func aliases(b, buf []byte) bool {
	return len(b) > 0 && cap(buf) > 0 && &b[0] == &buf[:1][0]
}

// arm starts the hedge's timer as the first attempt is sent.
func (h *hedge) arm() {
	h.state.Store(0) // publishes the fields above to launch
	h.timer.Reset(h.delay)
}

// settleRace decides a hedged first attempt, to target i, whose DoUntil
// returned err: the call goes on with the first attempt's answer, or the
// hedge's, or, when both failed, with the failover (done false). It
// returns what try returns.
func (s *Server) settleRace(c *call, h *hedge, i int, err error) (done bool, _ error) {
	status := 0
	if err == nil {
		status = c.resp.StatusCode()
	}
	cut := errors.Is(err, upstream.ErrCanceled) && !c.watch.Gone() // the hedge won and cancelled it
	// An answer the client is to get, or a client that left, ends the
	// race for the first attempt, unless the hedge won already.
	final := err == nil && (is2xx(status) || status != fasthttp.StatusBadRequest && !c.plan.Route.Policy.RetryOn(status)) ||
		errors.Is(err, upstream.ErrCanceled) && !cut
	if final && h.claim(hedgeFirstWon, hedgeWon) {
		if !h.stop() {
			h.watch.Cancel() // launched, or about to see firstWon; endHedge waits
		}
		if h.launched() { // final now: launch cannot set it any more
			c.countHedge(h)
		}
		return s.outcome(c, i, err, &c.resp, c.sent)
	}
	h.wait()
	if !h.launched() { // stopped in time: a plain failed attempt
		return s.outcome(c, i, err, &c.resp, c.sent)
	}
	c.countHedge(h)
	if h.state.Load()&hedgeWon == 0 { // both failed: the first, then the hedge
		if done, err := s.outcome(c, i, err, &c.resp, c.sent); done {
			return done, err
		}
		c.trace.TakeHedge()
		s.setTarget(c, h.j)
		h.took = true // its failure is the answer outcome may pass on
		upstream.MoveWatch(&h.resp, &h.watch, &c.watch)
		return s.outcome(c, h.j, h.err, &h.resp, h.sent)
	}
	// The hedge won: the first attempt lost, cancelled or beaten.
	t, now := &c.plan.Targets[i], time.Now()
	switch {
	case cut:
		t.Health.ObserveFirstByte(c.fields.stream, now.Sub(c.sent)) // a lower bound of its time
		t.Health.Cancel(now)
		c.hedgeWaste(t, h.lens[0], nil)
	case err != nil:
		t.Health.Failure(now)
		c.noteFailure(t, err)
	case is2xx(status): // beaten by a hair
		c.hedgeWaste(t, h.lens[0], &c.resp)
		upstream.Abandon(&c.resp, &c.watch)
	default:
		err := &statusError{provider: t.Provider.Name, status: status}
		t.Health.Failure(now)
		c.noteFailure(t, err)
		upstream.Abandon(&c.resp, &c.watch)
	}
	c.watch.Resume()
	c.trace.TakeHedge()
	h.took = true
	upstream.MoveWatch(&h.resp, &h.watch, &c.watch)
	s.setTarget(c, h.j)
	return s.outcome(c, h.j, nil, &h.resp, h.sent)
}

// countHedge counts a hedge that was sent as one of the call's attempts.
func (c *call) countHedge(h *hedge) {
	c.attempts++
	c.rt.targets.attempt(&c.plan.Targets[h.j])
	c.ctx.Response.Header.Set(headerHedged, "1")
}

// setTarget makes target i the one the call is served by.
func (s *Server) setTarget(c *call, i int) {
	t := &c.plan.Targets[i]
	c.target = *t
	c.price = router.Price{}
	if t.Entry != nil {
		c.price = t.Entry.Price
	}
}

// answer is the provider answer the call passes on: its own response, or
// the hedge's that won.
func (c *call) answer() *fasthttp.Response {
	if c.hedge != nil && c.hedge.took {
		return &c.hedge.resp
	}
	return &c.resp
}

// headerHedged is set on the answer of a call that started a hedge.
const headerHedged = "x-switchboard-hedged"

// hedgeWaste adds to the call's hedge waste the tokens of a losing
// attempt to target t with a body of n bytes: the usage of resp, its
// answer, when it has a whole one that reports it, else the prompt
// estimated from n.
func (c *call) hedgeWaste(t *router.Target, n int, resp *fasthttp.Response) {
	var u canon.Usage
	reported := false
	if resp != nil && resp.BodyStream() == nil {
		reported = formatOf(t.Provider.Format).readUsage(resp.Body(), &u, &c.fields.node)
	}
	if !reported {
		u = canon.Usage{Input: router.EstimateTokens(n)}
	}
	c.waste.tokens += u.Prompt() + u.Output
	if t.Entry != nil {
		c.waste.cost += t.Entry.Price.Cost(u).Total
	}
}

// endHedge ends the call's hedge, if any, before the call settles: it
// waits for the hedge's goroutine, records a losing hedge's waste, the
// race in the metrics and its span, and releases the hedge.
func (c *call) endHedge() {
	h := c.hedge
	if h == nil {
		return
	}
	h.wait()
	if h.launched() {
		result := "won_first"
		if state := h.state.Load(); state&hedgeWon != 0 {
			result = "won_hedge"
		} else if state&hedgeFirstWon == 0 {
			result = "failed"
		}
		t := &c.plan.Targets[h.j]
		if result == "won_first" {
			switch {
			case h.err == nil && is2xx(h.resp.StatusCode()), errors.Is(h.err, upstream.ErrCanceled):
				c.hedgeWaste(t, h.lens[1], &h.resp)
			case h.err == nil && !c.plan.Route.Policy.RetryOn(h.resp.StatusCode()):
				// The provider's answer, not its fault.
			default: // it failed before the first answered: its breaker learns of it
				t.Health.Failure(time.Now())
			}
		}
		route := escapeLabel(c.plan.Route.Model)
		metrics.GetOrCreateCounter(`switchboard_hedges_total{route="` + route + `",result="` + result + `"}`).Inc()
		if c.waste.tokens > 0 {
			metrics.GetOrCreateCounter(`switchboard_hedge_waste_tokens_total{route="` + route + `"}`).Add(int(c.waste.tokens))
		}
		c.trace.HedgeLost()
	}
	if h.took {
		return // the relay may still hold its response: released with the call
	}
	c.hedge = nil
	h.release()
}

// release returns h to the pool. Its goroutine is done with it.
func (h *hedge) release() {
	upstream.Abandon(&h.resp, nil)
	h.watch.Stop()
	h.req.Reset()
	h.resp.Reset()
	h.state.Store(0)
	h.p, h.model, h.trace, h.first, h.err = nil, "", nil, nil, nil
	h.stopped, h.waited, h.took = false, false, false
	h.bodies[0], h.bodies[1] = reuse(h.bodies[0]), reuse(h.bodies[1])
	hedgePool.Put(h)
}

// hedgeWasteState is what a hedged call's losing attempt used, for its
// ledger entry.
type hedgeWasteState struct {
	tokens int64
	cost   money.Money
}
