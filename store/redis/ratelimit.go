package redis

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// The rate limiters.
//
// A gateway key's RPM and TPM limits are two GCRA limiters, the same
// algorithm as the gateway's in-process ones (proxy/ratelimit.go): each
// keeps one time, its tat, the moment it would be empty again; a unit
// moves tat forward by 60s/limit, and a call is allowed while tat stays
// at most 60s ahead of now. Both tats of a key live in one Redis hash,
// {r, t}, in microseconds, which expires once both are in the past (an
// idle key costs nothing).
//
// One check is one EVALSHA of admitScript: Redis runs a script alone, so
// the read, the decision and the write are atomic across every node, and
// the time is Redis's own (TIME), so the nodes' clocks do not matter.
// Tokens are known only after a call: Limiter.Charge adds them to a
// per-client sum that one goroutine writes every chargeEvery with
// chargeScript, one command per key, off the requests' path. A TPM limit
// can so be overrun by what the calls of the last chargeEvery used, on
// every node, as it is by each call's own tokens in process.
//
// Rejected: INCR on a per-minute key (a fixed window lets 2x the limit
// through around its edge), a sorted set of timestamps (memory and work
// grow with the limit), and a Redis-side leaky bucket module (not in
// Redis or Valkey as shipped).

// window is the span limits are stated over, in microseconds.
const window = 60_000_000

// chargeEvery is how often the token charges are written.
const chargeEvery = 20 * time.Millisecond

// admitScript takes one request from KEYS[1]'s limiters if both allow it:
// ARGV[1] requests and ARGV[2] tokens per minute (0: none). The token
// limiter is only checked (a call's tokens come later): it refuses while
// it is a whole window in debt. It returns {allowed 0/1, requests
// remaining, tokens remaining, requests reset µs, tokens reset µs, retry
// after µs}.
var admitScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = 60000000
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'r', 't')
local rt = math.max(tonumber(v[1]) or 0, now)
local tt = math.max(tonumber(v[2]) or 0, now)
local ri, ti = 0, 0
if rpm > 0 then ri = window / rpm end
if tpm > 0 then ti = window / tpm end
local ok = 1
if tpm > 0 and tt - now >= window then ok = 0 end
if ok == 1 and rpm > 0 then
  if rt + ri - now > window then
    ok = 0
  else
    rt = rt + ri
    redis.call('HSET', KEYS[1], 'r', string.format('%.17g', rt))
    redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(rt, tt) - now) / 1000) + 1)
  end
end
local remr, remt, retry = 0, 0, 0
if rpm > 0 then remr = math.max(math.floor((window - (rt - now)) / ri), 0) end
if tpm > 0 then remt = math.max(math.floor((window - (tt - now)) / ti), 0) end
if ok == 0 then
  if rpm > 0 then retry = math.max(rt - now + ri - window, 0) end
  if tpm > 0 then retry = math.max(retry, tt - now - window) end
end
return {ok, remr, remt, rt - now, tt - now, retry}
`)

// chargeScript adds ARGV[2] tokens to KEYS[1]'s token limiter of ARGV[1]
// tokens per minute, whether or not they fit.
var chargeScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 'r', 't')
local rt = math.max(tonumber(v[1]) or 0, now)
local tt = math.max(tonumber(v[2]) or 0, now) + tonumber(ARGV[2]) * 60000000 / tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tt))
redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(rt, tt) - now) / 1000) + 1)
return 1
`)

// Limiter is one gateway key's RPM/TPM limits in Redis, shared by every
// gateway that uses the same Redis. Make it with Client.Limiter; it is
// safe for concurrent use and holds no state of its own.
type Limiter struct {
	c        *Client
	rpm, tpm int
	keys     []string // the hash's name: "switchboard:ratelimit:{<key id>}"
	args     []string // rpm, tpm
	tpmArg   string
}

// Limits is what one check found, for the x-ratelimit-* headers.
type Limits struct {
	Allowed                            bool
	RemainingRequests, RemainingTokens int64
	ResetRequests, ResetTokens         time.Duration // until the limiter is full again
	RetryAfter                         time.Duration // set when not allowed
}

// Limiter returns the limiter of the gateway key id with rpm requests and
// tpm tokens per minute (0: no limit of that kind). Two Limiters of the
// same id and limits, on any node, are the same limits.
func (c *Client) Limiter(id string, rpm, tpm int) *Limiter {
	return &Limiter{
		c: c, rpm: rpm, tpm: tpm,
		keys:   []string{"switchboard:ratelimit:{" + id + "}"},
		args:   []string{strconv.Itoa(rpm), strconv.Itoa(tpm)},
		tpmArg: strconv.Itoa(tpm),
	}
}

// Is reports whether l has these limits.
func (l *Limiter) Is(rpm, tpm int) bool { return l.rpm == rpm && l.tpm == tpm }

// Admit takes one request if the key's limits allow it now: one round
// trip, pipelined with the concurrent checks of other requests. An error
// (wrapping ErrDown for an unreachable Redis) means Redis did not decide.
func (l *Limiter) Admit() (Limits, error) {
	var lim Limits
	c := l.c
	if !c.up() {
		return lim, ErrDown
	}
	vals, err := admitScript.Exec(context.Background(), c.c, l.keys, l.args).ToArray()
	if err != nil {
		return lim, c.failed(err)
	}
	c.ok()
	if len(vals) != 6 {
		return lim, errReply
	}
	var n [6]int64
	for i := range vals {
		if n[i], err = vals[i].AsInt64(); err != nil {
			return lim, errReply
		}
	}
	lim.Allowed = n[0] == 1
	lim.RemainingRequests, lim.RemainingTokens = n[1], n[2]
	lim.ResetRequests, lim.ResetTokens = time.Duration(n[3])*time.Microsecond, time.Duration(n[4])*time.Microsecond
	lim.RetryAfter = time.Duration(n[5]) * time.Microsecond
	return lim, nil
}

// Charge adds n tokens to the key's token limit, whether or not they fit.
// It does not wait: the charges of every key are written within
// chargeEvery, and dropped while Redis is unreachable.
func (l *Limiter) Charge(n int64) {
	if l.tpm == 0 || n <= 0 {
		return
	}
	ch := &l.c.charges
	ch.mu.Lock()
	ch.pending[l] += n
	ch.mu.Unlock()
}

// charges are the token charges not yet written, by limiter.
type charges struct {
	mu      sync.Mutex
	pending map[*Limiter]int64
	flush   map[*Limiter]int64 // the batch being written; swapped with pending
}

// flushCharges writes the pending charges every chargeEvery until Close,
// and once more then.
func (c *Client) flushCharges() {
	defer c.done.Done()
	tick := time.NewTicker(chargeEvery)
	defer tick.Stop()
	ch := &c.charges
	ch.flush = map[*Limiter]int64{}
	for {
		select {
		case <-tick.C:
		case <-c.stop:
			c.writeCharges()
			return
		}
		c.writeCharges()
	}
}

func (c *Client) writeCharges() {
	ch := &c.charges
	ch.mu.Lock()
	ch.pending, ch.flush = ch.flush, ch.pending
	ch.mu.Unlock()
	if len(ch.flush) == 0 {
		return
	}
	if c.up() {
		execs := make([]rueidis.LuaExec, 0, len(ch.flush))
		for l, n := range ch.flush {
			execs = append(execs, rueidis.LuaExec{Keys: l.keys, Args: []string{l.tpmArg, strconv.FormatInt(n, 10)}})
		}
		// SCRIPT LOAD, then every charge in one pipeline.
		for _, r := range chargeScript.ExecMulti(context.Background(), c.c, execs...) {
			if err := r.Error(); err != nil {
				_ = c.failed(err)
				break
			}
		}
	}
	clear(ch.flush)
}
