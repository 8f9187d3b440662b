package router

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a target's circuit breaker.
type BreakerState uint32

// The breaker states.
const (
	// BreakerClosed lets every call through.
	BreakerClosed BreakerState = iota
	// BreakerOpen refuses calls until its cool-down ends.
	BreakerOpen
	// BreakerHalfOpen has let one probe call through and waits for its
	// result: success closes the breaker, failure opens it again.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// BreakerConfig tunes the circuit breakers of a Router's targets. Zero
// fields take their defaults.
type BreakerConfig struct {
	// Failures in a row that open the breaker. Default 5.
	Failures int
	// ErrorPercent of the calls in one Window that opens the breaker once
	// the window holds MinCalls calls. Default 50.
	ErrorPercent int
	// MinCalls a window needs before ErrorPercent applies. Default 20.
	MinCalls int
	// Window is the length of the error-rate window. Default 30s.
	Window time.Duration
	// Cooldown is how long a breaker stays open before it lets a probe
	// through. It doubles each time a probe fails, up to MaxCooldown, and
	// starts over once a probe succeeds. Default 30s.
	Cooldown time.Duration
	// MaxCooldown caps Cooldown's growth and Health.Pause. Default 5m.
	MaxCooldown time.Duration
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	setDefault(&c.Failures, 5)
	setDefault(&c.ErrorPercent, 50)
	setDefault(&c.MinCalls, 20)
	setDefault(&c.Window, 30*time.Second)
	setDefault(&c.Cooldown, 30*time.Second)
	setDefault(&c.MaxCooldown, 5*time.Minute)
	c.MaxCooldown = max(c.MaxCooldown, c.Cooldown)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// latencyWeight is the weight 1/latencyWeight of a new sample in the
// moving averages of latency and throughput: 5 makes a sample's influence
// halve after about three newer samples.
const latencyWeight = 5

// Health is the passive circuit breaker and the moving averages of one
// provider+model target, shared by every route that uses the target. Its
// methods are safe for concurrent use, do not allocate, and take the time
// as an argument so that tests need no sleeps. A nil *Health is a target
// nobody tracks: it allows every call and records nothing.
//
// The breaker:
//
//	closed    --Failures in a row, or ErrorPercent of >= MinCalls calls
//	            in one Window-->                              open
//	open      --Cooldown over; Allow hands out the probe-->  half-open
//	half-open --probe succeeds-->                             closed
//	half-open --probe fails-->    open, Cooldown doubled up to MaxCooldown
//
// Invariants: until holds the end of the cool-down while open and the end
// of the probe's lease while half-open; a probe that never reports (the
// caller lost it) is replaced when the lease, one cool-down long, ends.
// Only the transitions take mu; Allow on a closed breaker, Ready and
// Success on a closed breaker inside its window are lock-free, since they
// are what every successful request does. The error-rate window tumbles
// rather than slides: two counters and a start time, at the price of
// forgetting failures at each window boundary. A fully lock-free state
// machine (CAS on one packed word) was rejected as harder to get right for
// no gain: failures are rare and their writes serialize on one cache line
// anyway.
type Health struct {
	cfg *BreakerConfig // shared and read-only

	state       atomic.Uint32 // BreakerState
	until       atomic.Int64  // unix ns; see the invariants above
	consecutive atomic.Int64  // failures in a row
	winStart    atomic.Int64  // unix ns
	winCalls    atomic.Int64
	winFails    atomic.Int64
	latency     atomic.Int64  // moving average of time to first byte, ns; 0 = no sample
	throughput  atomic.Uint64 // float64 bits of the moving average of tokens/s; 0 = no sample
	// firstByte are the times to first byte of streamed and buffered
	// answers (index 1 and 0), for hedged routes only: allocated by the
	// first sample, so a target no hedged route uses pays a pointer.
	firstByte atomic.Pointer[[2]FirstByteHistogram]

	mu    sync.Mutex // serializes transitions
	opens int        // opens since the breaker last closed, for cool-down growth
}

func newHealth(cfg *BreakerConfig) *Health { return &Health{cfg: cfg} }

// State returns the breaker's state.
func (h *Health) State() BreakerState {
	if h == nil {
		return BreakerClosed
	}
	return BreakerState(h.state.Load())
}

// Ready reports whether Allow would let a call through at now, without
// taking the probe: Router.Order uses it to put unready targets last.
func (h *Health) Ready(now time.Time) bool {
	return h == nil || h.readyAt(now.UnixNano())
}

func (h *Health) readyAt(t int64) bool {
	return h.state.Load() == uint32(BreakerClosed) || t >= h.until.Load()
}

// Allow reports whether to call the target at now. On an open breaker
// whose cool-down is over it hands out the single probe and moves to
// half-open. A caller that got true must report the call's outcome with
// Success or Failure, or give the probe back with Cancel.
func (h *Health) Allow(now time.Time) bool {
	if h == nil || h.state.Load() == uint32(BreakerClosed) {
		return true
	}
	t := now.UnixNano()
	if t < h.until.Load() {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state.Load() == uint32(BreakerClosed) {
		return true
	}
	if t < h.until.Load() {
		return false // another caller took the probe
	}
	h.state.Store(uint32(BreakerHalfOpen))
	h.until.Store(t + int64(h.cooldown()))
	return true
}

// Success records a call that got its first byte after firstByte: any
// answer the route does not retry counts, a 400 included, since it shows
// the target works. It closes a half-open (or open) breaker.
func (h *Health) Success(now time.Time, firstByte time.Duration) {
	if h == nil {
		return
	}
	h.observeLatency(firstByte)
	t := now.UnixNano()
	if h.state.Load() == uint32(BreakerClosed) && t-h.winStart.Load() < int64(h.cfg.Window) {
		h.winCalls.Add(1)
		if h.consecutive.Load() != 0 {
			h.consecutive.Store(0)
		}
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state.Load() != uint32(BreakerClosed) {
		h.state.Store(uint32(BreakerClosed))
		h.until.Store(0)
		h.opens = 0
		h.startWindow(t)
	}
	h.rollWindow(t)
	h.winCalls.Add(1)
	h.consecutive.Store(0)
}

// Failure records a failed call: a connection error, a timeout or an
// upstream status the route retries. It may open the breaker. Failures
// while open (stragglers, or calls made because no ready target was left)
// change nothing.
func (h *Health) Failure(now time.Time) {
	if h == nil {
		return
	}
	t := now.UnixNano()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch BreakerState(h.state.Load()) {
	case BreakerOpen:
		return
	case BreakerHalfOpen:
		h.open(t, 0)
		return
	}
	h.rollWindow(t)
	calls, fails := h.winCalls.Add(1), h.winFails.Add(1)
	n := h.consecutive.Add(1)
	if n >= int64(h.cfg.Failures) || calls >= int64(h.cfg.MinCalls) && fails*100 >= int64(h.cfg.ErrorPercent)*calls {
		h.open(t, 0)
	}
}

// Cancel gives back a probe that Allow handed out when the call was never
// made or its outcome says nothing about the target (the client went
// away). The next Allow may then probe at once.
func (h *Health) Cancel(now time.Time) {
	if h == nil || h.state.Load() != uint32(BreakerHalfOpen) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state.Load() == uint32(BreakerHalfOpen) {
		h.until.Store(now.UnixNano())
	}
}

// Pause opens the breaker until the given time (at most MaxCooldown from
// now), as a 429 or 503 with retry-after asks; the cool-down does not
// grow. A breaker already open for longer stays so.
func (h *Health) Pause(now, until time.Time) {
	if h == nil {
		return
	}
	t := now.UnixNano()
	d := min(until.Sub(now), h.cfg.MaxCooldown)
	if d <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state.Load() == uint32(BreakerOpen) && h.until.Load() >= t+int64(d) {
		return
	}
	h.open(t, d)
}

// Latency returns the moving average of the time to first byte; 0 before
// the first Success.
func (h *Health) Latency() time.Duration {
	if h == nil {
		return 0
	}
	return time.Duration(h.latency.Load())
}

// RecordThroughput records that a response produced tokens output tokens
// in d, measured from its first byte to its last.
func (h *Health) RecordThroughput(tokens int, d time.Duration) {
	if h == nil || tokens <= 0 || d <= 0 {
		return
	}
	x := float64(tokens) / d.Seconds()
	for {
		old := h.throughput.Load()
		v := x
		if old != 0 {
			avg := math.Float64frombits(old)
			v = avg + (x-avg)/latencyWeight
		}
		if h.throughput.CompareAndSwap(old, math.Float64bits(v)) {
			return
		}
	}
}

// ObserveFirstByte adds a time to first byte of a streamed (stream) or
// buffered answer to the target's histogram, which hedged routes read
// (FirstByteQuantile). The first call allocates the histograms.
func (h *Health) ObserveFirstByte(stream bool, d time.Duration) {
	if h == nil {
		return
	}
	hs := h.firstByte.Load()
	if hs == nil {
		h.firstByte.CompareAndSwap(nil, new([2]FirstByteHistogram))
		hs = h.firstByte.Load()
	}
	hs[b2i(stream)].Observe(d)
}

// FirstByteQuantile returns the q quantile of the target's times to
// first byte of streamed (stream) or buffered answers, and whether at
// least min were observed.
func (h *Health) FirstByteQuantile(stream bool, q float64, min uint64) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	hs := h.firstByte.Load()
	if hs == nil {
		return 0, false
	}
	return hs[b2i(stream)].Quantile(q, min)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Throughput returns the moving average of output tokens per second; 0
// before the first RecordThroughput.
func (h *Health) Throughput() float64 {
	if h == nil {
		return 0
	}
	return math.Float64frombits(h.throughput.Load())
}

func (h *Health) observeLatency(d time.Duration) {
	x := max(int64(d), 1) // 0 means "no sample"
	for {
		old := h.latency.Load()
		v := x
		if old != 0 {
			v = max(old+(x-old)/latencyWeight, 1)
		}
		if h.latency.CompareAndSwap(old, v) {
			return
		}
	}
}

// cooldown is the open period after h.opens opens in a row. Called with mu.
func (h *Health) cooldown() time.Duration {
	d := h.cfg.Cooldown
	for i := 1; i < h.opens && d < h.cfg.MaxCooldown; i++ {
		d *= 2
	}
	return min(d, h.cfg.MaxCooldown)
}

// open opens the breaker at t for d, or for the next grown cool-down when
// d is 0. Called with mu.
func (h *Health) open(t int64, d time.Duration) {
	if d == 0 {
		h.opens++
		d = h.cooldown()
	}
	h.until.Store(t + int64(d))
	h.state.Store(uint32(BreakerOpen))
	h.consecutive.Store(0)
	h.startWindow(t)
}

// rollWindow starts a new error-rate window when the current one is over.
// Called with mu.
func (h *Health) rollWindow(t int64) {
	if t-h.winStart.Load() >= int64(h.cfg.Window) {
		h.startWindow(t)
	}
}

func (h *Health) startWindow(t int64) {
	h.winStart.Store(t)
	h.winCalls.Store(0)
	h.winFails.Store(0)
}
