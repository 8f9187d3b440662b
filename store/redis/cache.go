package redis

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"

	"switchboard/store"
)

// The shared response cache.
//
// An entry is one Redis string, the record store.AppendCacheRecord makes
// (zstd-compressed, with its times), under
// "switchboard:cache:{cache}:<ns>:<key hex>", with Redis's own expiry
// (PX) as its TTL: a value put through one node is a hit through any
// other. A get is one GET.
//
// The size bound is explicit accounting, not Redis's maxmemory policy:
// maxmemory is one setting for the whole server, and its eviction would
// drop the rate limiters' hashes too (a dropped hash is a key whose
// window restarts). So putScript keeps, beside the entries, a sorted set
// of them by expiry and a hash of their sizes, and the total in a string;
// a put adds its entry, forgets what expired (Redis already dropped their
// values), and while the total is over the limit removes the entries
// that expire first, as the Pebble cache does. Everything is under the
// one hash tag {cache}, so the script's keys share a slot on a Redis
// Cluster too. A put is one round trip; entries over maxEntry or over the
// limit are not stored. The limit is the whole cache's, shared by every
// node: cache.responses.max_bytes.

// maxEntry is the largest record the shared cache stores (compressed):
// a bigger one would stall the connection it shares with every node's
// rate checks while it is sent.
const maxEntry = 8 << 20

// defaultCacheLimit is the cache's limit until SetCacheLimit.
const defaultCacheLimit = store.DefaultCacheLimit

const (
	cachePrefix = "switchboard:cache:{cache}:"
	cacheIndex  = cachePrefix + "index" // sorted set: entry -> expiry (Unix ms)
	cacheSizes  = cachePrefix + "sizes" // hash: entry -> bytes
	cacheTotal  = cachePrefix + "bytes" // string: the sum of sizes
)

// putScript stores ARGV[1] under KEYS[1] for ARGV[2] ms and keeps the
// cache under ARGV[3] bytes. It returns {total bytes, entries, evicted}.
var putScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[3])
local size = string.len(ARGV[1]) + string.len(KEYS[1])
local total = tonumber(redis.call('GET', KEYS[4]) or '0')
local function forget(k)
  total = total - tonumber(redis.call('HGET', KEYS[3], k) or '0')
  redis.call('HDEL', KEYS[3], k)
  redis.call('ZREM', KEYS[2], k)
end
for _, k in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 64)) do
  forget(k)
end
forget(KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), KEYS[1])
redis.call('HSET', KEYS[3], KEYS[1], size)
total = total + size
local evicted = 0
while total > limit and evicted < 1024 do
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #first == 0 then break end
  redis.call('DEL', first[1])
  forget(first[1])
  evicted = evicted + 1
end
if total < 0 then total = 0 end
redis.call('SET', KEYS[4], total)
return {total, redis.call('ZCARD', KEYS[2]), evicted}
`)

// cacheState is the client's view of the cache: its limit, and counters
// for /metrics (hits and misses this node's; entries and bytes as the
// last put through this node left them).
type cacheState struct {
	limit          atomic.Int64
	entries, bytes atomic.Int64
	hits, misses   [3]atomic.Int64 // by store.CacheNamespace
	evictions      atomic.Int64
}

var cacheErrors = metrics.NewCounter(`switchboard_cache_redis_errors_total`)

// cacheKey is the Redis key of (ns, key).
func cacheKey(ns store.CacheNamespace, key *[32]byte) string {
	var b [len(cachePrefix) + 2 + 64]byte
	n := copy(b[:], cachePrefix)
	b[n], b[n+1] = '0'+byte(ns), ':'
	hex.Encode(b[n+2:], key[:])
	return string(b[:])
}

// CacheGet appends the value cached under (ns, key) to dst, as
// store.Store.CacheGet does, from the cache every node shares. ok is
// false on a miss; err is for Redis itself (a failed call is a miss to
// the caller).
func (c *Client) CacheGet(dst []byte, ns store.CacheNamespace, key [32]byte, now time.Time) (value []byte, meta store.CacheMeta, ok bool, err error) {
	if ns != store.CacheResponses && ns != store.CacheWeb {
		return dst, meta, false, fmt.Errorf("unknown cache namespace %d", uint8(ns))
	}
	if !c.up() {
		return dst, meta, false, ErrDown
	}
	rec, err := c.c.Do(context.Background(), c.c.B().Get().Key(cacheKey(ns, &key)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		c.ok()
		c.cache.misses[ns].Add(1)
		return dst, meta, false, nil
	}
	if err != nil {
		cacheErrors.Inc()
		return dst, meta, false, c.failed(err)
	}
	c.ok()
	value, meta, ok, err = store.ReadCacheRecord(dst, rec, now)
	if err != nil || !ok {
		c.cache.misses[ns].Add(1)
		return dst, meta, false, nil
	}
	c.cache.hits[ns].Add(1)
	return value, meta, true, nil
}

// CachePut stores value under (ns, key) for ttl in the shared cache,
// replacing what was there, and evicts what expires first while the
// cache is over its limit. An entry over 8 MiB compressed or over the
// limit is not stored (store.ErrTooLarge).
func (c *Client) CachePut(ns store.CacheNamespace, key [32]byte, value []byte, ttl time.Duration, now time.Time) error {
	if ns != store.CacheResponses && ns != store.CacheWeb {
		return fmt.Errorf("unknown cache namespace %d", uint8(ns))
	}
	if ttl <= 0 {
		return fmt.Errorf("cache ttl %v is not positive", ttl)
	}
	if len(value) > store.MaxCacheValue {
		return fmt.Errorf("cache value of %d bytes is over %d: %w", len(value), store.MaxCacheValue, store.ErrTooLarge)
	}
	rec := store.AppendCacheRecord(nil, value, now, ttl)
	limit := c.cache.limit.Load()
	if len(rec) > maxEntry || int64(len(rec)) > limit {
		return fmt.Errorf("cache entry of %d bytes is over the shared cache's bound (%d per entry, %d in all): %w", len(rec), maxEntry, limit, store.ErrTooLarge)
	}
	if !c.up() {
		return ErrDown
	}
	ms := max(min(ttl, store.MaxCacheTTL).Milliseconds(), 1)
	vals, err := putScript.Exec(context.Background(), c.c,
		[]string{cacheKey(ns, &key), cacheIndex, cacheSizes, cacheTotal},
		[]string{rueidis.BinaryString(rec), strconv.FormatInt(ms, 10), strconv.FormatInt(limit, 10)}).AsIntSlice()
	if err != nil {
		cacheErrors.Inc()
		return c.failed(err)
	}
	c.ok()
	if len(vals) == 3 {
		c.cache.bytes.Store(vals[0])
		c.cache.entries.Store(vals[1])
		c.cache.evictions.Add(vals[2])
	}
	return nil
}

// SetCacheLimit sets the shared cache's byte limit (0 stores nothing);
// the next put evicts down to it.
func (c *Client) SetCacheLimit(bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("cache limit %d is negative", bytes)
	}
	c.cache.limit.Store(bytes)
	return nil
}

// CacheStats returns the cache's counters as this node sees them: hits
// and misses through it, entries and bytes of the whole shared cache as
// of the last put through it.
func (c *Client) CacheStats(ns store.CacheNamespace) store.CacheStats {
	st := store.CacheStats{Entries: c.cache.entries.Load(), Bytes: c.cache.bytes.Load(), Evictions: c.cache.evictions.Load()}
	for i := range c.cache.hits {
		if ns == store.CacheAll || store.CacheNamespace(i) == ns {
			st.Hits += c.cache.hits[i].Load()
			st.Misses += c.cache.misses[i].Load()
		}
	}
	return st
}

// WriteCacheMetrics writes the cache's counters in Prometheus text
// format, under the Pebble cache's names (with backend="redis"; entries
// and bytes are the shared cache's, the rest this node's).
func (c *Client) WriteCacheMetrics(w io.Writer) {
	metrics.WriteGaugeUint64(w, `switchboard_cache_limit_bytes{backend="redis"}`, uint64(c.cache.limit.Load()))
	metrics.WriteGaugeUint64(w, `switchboard_cache_entries{backend="redis"}`, uint64(c.cache.entries.Load()))
	metrics.WriteGaugeUint64(w, `switchboard_cache_bytes{backend="redis"}`, uint64(c.cache.bytes.Load()))
	metrics.WriteCounterUint64(w, `switchboard_cache_evictions_total{backend="redis"}`, uint64(c.cache.evictions.Load()))
	for _, ns := range []store.CacheNamespace{store.CacheResponses, store.CacheWeb} {
		l := `{backend="redis",ns="` + ns.String() + `"}`
		metrics.WriteCounterUint64(w, `switchboard_cache_hits_total`+l, uint64(c.cache.hits[ns].Load()))
		metrics.WriteCounterUint64(w, `switchboard_cache_misses_total`+l, uint64(c.cache.misses[ns].Load()))
	}
}
