// Package redis keeps what several gateways behind a load balancer share
// in Redis (or Valkey, which speaks the same protocol): each gateway
// key's RPM/TPM limiters (ratelimit.go) and the response cache
// (cache.go). Keys, accounts and the ledger are PostgreSQL's.
//
// The client is rueidis: it pipelines the commands of concurrent callers
// onto a few shared connections by itself (auto-pipelining), so a rate
// check from each of a thousand concurrent requests is one round trip
// each without a connection each, and its command builders and replies
// are pooled. go-redis/v9 pipelines only when asked for a batch, and
// takes a pooled connection per command otherwise.
package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"
)

// ErrDown is returned by the client's calls while Redis has just failed
// to answer: for downFor after an error, calls fail at once instead of
// each waiting for a connection that is not there.
var ErrDown = errors.New("redis is unreachable")

// errReply is an answer that is not what the script returns.
var errReply = errors.New("redis answered in an unexpected shape")

const (
	// timeout bounds a command's wait for its answer, and a dial.
	timeout = time.Second
	// downFor is how long calls fail fast after an error; then the next
	// call tries Redis again.
	downFor = 250 * time.Millisecond
)

var redisErrors = metrics.NewCounter(`switchboard_redis_errors_total`)

// Client is a connection to Redis shared by the limiters and the cache.
// It is safe for concurrent use; Close it once.
type Client struct {
	c         rueidis.Client
	downUntil atomic.Int64 // Unix ns: calls fail fast with ErrDown until then

	charges charges // the token charges waiting to be written
	cache   cacheState

	stop chan struct{}
	done sync.WaitGroup
}

// Open connects to url: redis://[user:password@]host:port[/db],
// rediss:// (TLS) or unix:///path/to/redis.sock. Redis must answer now:
// a gateway configured for a shared Redis does not start without one.
func Open(url string) (*Client, error) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("store.redis_url: %w", err)
	}
	opt.ForceSingleClient = true // one Redis or Valkey server, or a proxy in front of several
	opt.DisableCache = true      // no client-side caching: nothing here is read twice
	opt.Dialer.Timeout = timeout
	opt.ConnWriteTimeout = timeout
	opt.ClientName = "switchboard"
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Redis at store.redis_url: %w", err)
	}
	cl := &Client{c: c, stop: make(chan struct{})}
	cl.charges.pending = map[*Limiter]int64{}
	cl.cache.limit.Store(defaultCacheLimit)
	cl.done.Add(1)
	go cl.flushCharges()
	return cl, nil
}

// Close writes the token charges still waiting and closes the
// connections.
func (c *Client) Close() {
	close(c.stop)
	c.done.Wait()
	c.c.Close()
}

// Degraded reports why Redis does not answer a PING within pingTimeout
// now, or nil when it does, for a readiness probe; an answer ends the
// fail-fast period of an earlier error.
func (c *Client) Degraded() error {
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	// Twice: after a Redis restart, the first write on each of the
	// client's connections fails (broken pipe) and reconnects it.
	var err error
	for range 2 {
		if err = c.c.Do(ctx, c.c.B().Ping().Build()).Error(); err == nil {
			c.ok()
			return nil
		}
	}
	return fmt.Errorf("redis (store.redis_url) is unreachable: %v", err)
}

// pingTimeout bounds Degraded's wait.
const pingTimeout = 500 * time.Millisecond

// up reports whether calls may go to Redis, or should fail fast.
func (c *Client) up() bool {
	until := c.downUntil.Load()
	return until == 0 || time.Now().UnixNano() >= until
}

// failed notes err from Redis: a network error (not a Redis error reply)
// makes calls fail fast for downFor. It returns err.
func (c *Client) failed(err error) error {
	if _, isReply := rueidis.IsRedisErr(err); isReply || err == nil {
		return err
	}
	redisErrors.Inc()
	c.downUntil.Store(time.Now().Add(downFor).UnixNano())
	return fmt.Errorf("%w: %v", ErrDown, err)
}

// ok notes a call that Redis answered.
func (c *Client) ok() {
	if c.downUntil.Load() != 0 {
		c.downUntil.Store(0)
	}
}
