package proxy

import (
	"errors"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"switchboard/store/redis"
)

// errLimitsDown answers a call whose key has limits while Redis cannot
// check them and store.when_down.limits is fail_closed (503).
var errLimitsDown = errors.New("the gateway key's rate limits cannot be checked: Redis (store.redis_url) is unreachable and store.when_down.limits is fail_closed; retry shortly")

var (
	// limitsUnchecked counts calls served without their limits while
	// Redis was unreachable (fail_open); limitsDownRefused those refused
	// for it (fail_closed).
	limitsUnchecked   = metrics.NewCounter(`switchboard_ratelimit_unchecked_total`)
	limitsDownRefused = metrics.NewCounter(`switchboard_ratelimit_unavailable_refused_total`)
)

// sharedLimits are a key's limits in Redis, one set for every gateway on
// the same Redis (store/redis: a GCRA like keyLimits', one Lua script per
// check). While Redis does not answer, failClosed decides: false
// (fail_open, the default) serves the call without limits, true
// (fail_closed) answers errLimitsDown.
type sharedLimits struct {
	l          *redis.Limiter
	rpm, tpm   int64
	failClosed bool
}

// sharedLimiter makes the limiters of c, with fail_closed or not.
func sharedLimiter(c *redis.Client, failClosed bool) limiterFunc {
	return func(id string, rpm, tpm int) rateLimiter {
		return &sharedLimits{l: c.Limiter(id, rpm, tpm), rpm: int64(rpm), tpm: int64(tpm), failClosed: failClosed}
	}
}

func (sl *sharedLimits) is(rpm, tpm int) bool { return sl.l.Is(rpm, tpm) }

func (sl *sharedLimits) admit(time.Time) (limitState, bool, error) {
	lim, err := sl.l.Admit()
	if err != nil {
		if sl.failClosed {
			limitsDownRefused.Inc()
			return limitState{}, false, errLimitsDown
		}
		limitsUnchecked.Inc()
		return limitState{}, true, nil // no x-ratelimit-* headers: nothing was checked
	}
	st := limitState{
		limitRequests: sl.rpm, remainingRequests: lim.RemainingRequests,
		limitTokens: sl.tpm, remainingTokens: lim.RemainingTokens,
		resetRequests: lim.ResetRequests, resetTokens: lim.ResetTokens,
	}
	if !lim.Allowed {
		st.retryAfter = max(lim.RetryAfter, time.Millisecond)
	}
	return st, lim.Allowed, nil
}

func (sl *sharedLimits) chargeTokens(_ time.Time, n int64) { sl.l.Charge(n) }
