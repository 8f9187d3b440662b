package proxy

import (
	"time"

	"switchboard/telemetry"
)

// A call's trace (package telemetry) is begun in acquireCall, gets a
// span per upstream attempt from try and noteFailure (failover.go), and
// ends in finish. With telemetry off (Server.tel nil) c.trace stays off
// and each of these is a branch.

// endTrace ends the call's trace with what the call came to, at now.
func (c *call) endTrace(now time.Time) {
	r := telemetry.Result{
		RequestModel: c.fields.model,
		InputTokens:  c.usage.Prompt(),
		CacheRead:    c.usage.CacheRead,
		CacheWrite:   c.usage.CacheWrite,
		OutputTokens: c.usage.Output,
		Cost:         c.cost.Total,
		Costed:       c.costed,
		CacheHit:     c.cache.hit,
		Stream:       c.fields.stream,
		Attempts:     c.attempts,
		Fallbacks:    c.trail,
		Status:       c.status,
		Error:        c.errMsg,
		RequestID:    c.requestID,
	}
	if c.reached && c.target.Provider != nil {
		r.Provider, r.ResponseModel = c.target.Provider.Name, c.target.Model
	}
	if r.Status == 0 {
		r.Status = c.ctx.Response.StatusCode()
	}
	c.trace.End(&r, now)
}
