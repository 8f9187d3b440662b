package proxy

import (
	"sync"
	"time"
)

// rateWindow is the window limits are stated over: requests and tokens
// per minute.
const rateWindow = time.Minute

// gcra is a per-minute rate limit by the generic cell rate algorithm: it
// keeps one time, tat, the moment the limiter would be empty again if
// nothing more arrived. Each unit moves tat forward by window/limit; a
// call is allowed while tat is at most one window ahead of now, which
// allows a burst of the whole per-minute limit and then the steady rate.
// Unlike a fixed per-minute counter it has no edge where 2x the limit
// passes in a second, and unlike a log of timestamps it is one integer.
// A gcra is not safe for concurrent use; keyLimits guards it.
type gcra struct {
	limit    int64         // units per window; 0 = unlimited
	interval time.Duration // window / limit
	tat      time.Time
}

// maxPerMinute caps a limit: one unit per 60 ns. A larger limit is
// treated as this one (its interval would round to zero).
const maxPerMinute = int(rateWindow / 60)

func newGCRA(perMinute int) gcra {
	perMinute = min(perMinute, maxPerMinute)
	g := gcra{limit: int64(perMinute)}
	if perMinute > 0 {
		g.interval = rateWindow / time.Duration(perMinute)
	}
	return g
}

// allow reports whether n more units fit now, and takes them if so.
func (g *gcra) allow(now time.Time, n int64) bool {
	if g.limit == 0 {
		return true
	}
	tat := g.tat
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(time.Duration(n) * g.interval)
	if next.Sub(now) > rateWindow {
		return false
	}
	g.tat = next
	return true
}

// charge takes n units whether or not they fit: tokens are known only
// after a call, and a call that overran the limit delays the next ones.
func (g *gcra) charge(now time.Time, n int64) {
	if g.limit == 0 || n <= 0 {
		return
	}
	if g.tat.Before(now) {
		g.tat = now
	}
	g.tat = g.tat.Add(time.Duration(n) * g.interval)
}

// open reports whether the limiter is not in debt: a token budget is
// checked this way before a call whose token count is not known yet.
func (g *gcra) open(now time.Time) bool {
	return g.limit == 0 || g.tat.Sub(now) < rateWindow
}

// ahead is how far tat is ahead of now, never negative.
func (g *gcra) ahead(now time.Time) time.Duration {
	if g.tat.Before(now) {
		return 0
	}
	return g.tat.Sub(now)
}

// remaining is how many units would be allowed now.
func (g *gcra) remaining(now time.Time) int64 {
	if g.limit == 0 {
		return 0
	}
	return max(int64((rateWindow-g.ahead(now))/g.interval), 0)
}

// resetIn is how long until the limiter is full again.
func (g *gcra) resetIn(now time.Time) time.Duration { return g.ahead(now) }

// retryIn is how long until one more unit fits.
func (g *gcra) retryIn(now time.Time) time.Duration {
	return max(g.ahead(now)+g.interval-rateWindow, 0)
}

// rateLimiter is one key's RPM/TPM limits: keyLimits in this process
// (the default), or sharedLimits in Redis when store.redis_url is set,
// one set of limits for every gateway on that Redis. It is safe for
// concurrent use.
type rateLimiter interface {
	// admit takes one request if the limits allow it now. err is a
	// refusal that is not the key's doing (its limits could not be
	// checked); the call is answered with it.
	admit(now time.Time) (st limitState, ok bool, err error)
	// chargeTokens records the tokens a finished call used.
	chargeTokens(now time.Time, n int64)
	// is reports whether the limiter enforces these limits.
	is(rpm, tpm int) bool
}

// limiterFunc makes the limiter of key id with these limits.
type limiterFunc func(id string, rpm, tpm int) rateLimiter

// localLimits makes in-process limiters.
func localLimits(_ string, rpm, tpm int) rateLimiter { return newKeyLimits(rpm, tpm) }

// keyLimits are one key's request and token limits, in this process.
type keyLimits struct {
	mu       sync.Mutex
	requests gcra
	tokens   gcra
}

func newKeyLimits(rpm, tpm int) *keyLimits {
	return &keyLimits{requests: newGCRA(rpm), tokens: newGCRA(tpm)}
}

// limitState is a snapshot for the x-ratelimit-* headers.
type limitState struct {
	limitRequests, remainingRequests int64
	limitTokens, remainingTokens     int64
	resetRequests, resetTokens       time.Duration
	retryAfter                       time.Duration // set when refused
}

func (kl *keyLimits) is(rpm, tpm int) bool {
	return kl.requests.limit == int64(min(rpm, maxPerMinute)) && kl.tokens.limit == int64(min(tpm, maxPerMinute))
}

// admit takes one request if the key's limits allow it now.
func (kl *keyLimits) admit(now time.Time) (limitState, bool, error) {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	tokensOpen := kl.tokens.open(now)
	ok := tokensOpen && kl.requests.allow(now, 1)
	st := limitState{
		limitRequests: kl.requests.limit, remainingRequests: kl.requests.remaining(now),
		limitTokens: kl.tokens.limit, remainingTokens: kl.tokens.remaining(now),
		resetRequests: kl.requests.resetIn(now), resetTokens: kl.tokens.resetIn(now),
	}
	if !ok {
		st.retryAfter = kl.requests.retryIn(now)
		if !tokensOpen {
			st.retryAfter = max(st.retryAfter, kl.tokens.ahead(now)-rateWindow)
		}
	}
	return st, ok, nil
}

// chargeTokens records the tokens a finished call used.
func (kl *keyLimits) chargeTokens(now time.Time, n int64) {
	kl.mu.Lock()
	kl.tokens.charge(now, n)
	kl.mu.Unlock()
}
