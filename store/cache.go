package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
	"github.com/klauspost/compress/zstd"
)

// The response cache.
//
// The cache keeps values (upstream answers, web search results) under a
// 32-byte key, the caller's hash of what makes two requests the same, in
// one of a few namespaces. A value is stored zstd-compressed with its
// expiry; the store keeps the total under a byte limit by removing the
// entries that expire first.
//
// Two Pebble keys per entry (see store.go for the whole layout):
//
//	c/<ns 1 B><key 32 B>                 the record: version, codec,
//	                                     created, expires, raw length,
//	                                     payload
//	e/<expires ns BE 8 B><ns 1 B><key 32 B>
//	                                     uvarint: the entry's bytes; the
//	                                     entries in expiry order
//
// Invariants:
//
//  1. Paired. A record and the index key of its expiry are written and
//     deleted in the same batch, so every record has exactly one index
//     key, and the index value is the record's bytes plus its keys. The
//     reverse fails only after damage: when a record whose header does
//     not decode is overwritten or deleted, its index key cannot be
//     found from it and is left behind (still counted). Eviction deletes
//     an index key whose record has another expiry without touching the
//     record, so such an orphan is dropped, never the live entry.
//  2. Writers take cache.mu: CachePut and CacheDelete for two point reads
//     (the old record, its index key) and one batch; eviction and
//     CacheClear for one batch of at most cacheEvictBatch or
//     cacheClearBatch entries, a point read each. CacheGet takes no cache
//     lock: a Pebble point read, then decompression into the caller's
//     buffer. Eviction never blocks a hit.
//  3. The counters are the index. Entries and bytes per namespace are the
//     count and the sum of the index values; they change under cache.mu
//     after the batch that carries the change commits, and Open rebuilds
//     them by scanning the index (about 45 bytes per entry: a million
//     entries are a 50 MB scan).
//  4. first is a lower bound of the expiries in the index. Eviction starts
//     its scan there rather than at the start of e/, so it does not walk
//     over the tombstones of the entries it deleted before (a queue in an
//     LSM tree otherwise gets slower with every pop until compaction).
//  5. Not durable. Cache batches are committed with pebble.NoSync: a crash
//     may lose the latest puts and deletes (a record together with its
//     index key, batches are atomic), which only costs a miss. They share
//     the WAL with the ledger, whose pebble.Sync commits make every cache
//     write before them durable too; the ledger never uses NoSync.
//
// Rejected alternatives:
//
//   - LRU by reads: every hit would become a write (moving its index key),
//     and hits are the path the cache exists to make cheap. Least recently
//     written is the same order as expiry for one TTL; with a short TTL for
//     web results and a long one for answers, expiry order drops the web
//     results first, which were about to expire anyway.
//   - A persisted running total: a counter key rewritten by every put is a
//     read-modify-write (or a merge operator) that a NoSync crash can leave
//     out of step with the entries; the scan at Open cannot drift.
//   - An eviction goroutine: a put already holds the lock and knows the
//     new total, and a goroutine is a lifecycle for Close to manage. Puts
//     follow upstream calls (milliseconds each), so the put path has time
//     to evict, in batches with the lock released between them.
//   - Striped per-key locks: a put reads the old record to delete its old
//     index key, and eviction must not interleave with that. One mutex,
//     held for two point reads and a NoSync commit (~15 µs on the 2-CPU
//     bench machine; compression happens before it is taken), allows
//     tens of thousands of puts a second, more than a gateway gets
//     upstream answers worth caching.
//   - A second Pebble instance for the cache would keep its churn out of
//     the ledger's compactions, at the price of a second WAL, memtables and
//     block cache; revisit if the bench shows ledger commits slowed by it.

// CacheNamespace separates the cache's users: the same key in two
// namespaces is two entries.
type CacheNamespace uint8

const (
	// CacheAll is not a namespace: CacheStats(CacheAll) sums them all.
	CacheAll CacheNamespace = 0
	// CacheResponses holds the gateway's cached upstream answers.
	CacheResponses CacheNamespace = 1
	// CacheWeb holds web search results (short TTL).
	CacheWeb CacheNamespace = 2

	// cacheNamespaces is the length of arrays indexed by a namespace.
	cacheNamespaces = 3
)

// String returns the namespace's name, as in metric labels.
func (ns CacheNamespace) String() string {
	switch ns {
	case CacheAll:
		return "all"
	case CacheResponses:
		return "responses"
	case CacheWeb:
		return "web"
	}
	return fmt.Sprintf("CacheNamespace(%d)", uint8(ns))
}

func (ns CacheNamespace) valid() bool { return ns == CacheResponses || ns == CacheWeb }

func checkNamespace(ns CacheNamespace) error {
	if !ns.valid() {
		return fmt.Errorf("unknown cache namespace %d", uint8(ns))
	}
	return nil
}

const (
	// DefaultCacheLimit is the cache's byte limit until SetCacheLimit.
	DefaultCacheLimit = 256 << 20
	// MaxCacheValue is the largest value CachePut takes (uncompressed).
	MaxCacheValue = 64 << 20
	// MaxCacheTTL is the longest TTL; CachePut shortens longer ones.
	MaxCacheTTL = 10 * 365 * 24 * time.Hour
)

// ErrTooLarge: a value over MaxCacheValue, or an entry over the cache's
// byte limit.
var ErrTooLarge = errors.New("too large for the cache")

// CacheMeta describes a cached value.
type CacheMeta struct {
	// Created is the now of the CachePut that stored it; Expires is
	// Created plus its TTL. Both are UTC.
	Created, Expires time.Time
	// Size is the stored payload's length: compressed, or the value
	// itself when compression did not make it smaller. RawSize is the
	// value's length as put.
	Size, RawSize int
}

// CacheStats are a namespace's counters: Entries and Bytes as the cache
// holds them (recounted by Open), the others since Open.
type CacheStats struct {
	// Entries and Bytes are what the cache holds. An entry's bytes are
	// its record (header and payload) and its two keys; Pebble's own
	// overhead, compression and not yet compacted garbage are not counted.
	Entries, Bytes int64
	// Hits and Misses count CacheGet results; a miss includes an expired
	// or corrupt entry.
	Hits, Misses int64
	// Evictions are entries removed to stay under the limit, Expirations
	// entries removed after they expired.
	Evictions, Expirations int64
	// Corrupt counts records that did not decode (each also a miss).
	Corrupt int64
}

type cacheCounters struct {
	entries, bytes         atomic.Int64 // written under cache.mu
	hits, misses           atomic.Int64
	evictions, expirations atomic.Int64
	corrupt                atomic.Int64
}

// cache is the Store's cache state besides Pebble.
type cache struct {
	mu    sync.Mutex   // held by writers: put, delete, clear, evict
	limit atomic.Int64 // bytes; changed under mu
	first int64        // under mu: no index key expires before it (Unix ns)
	ns    [cacheNamespaces]cacheCounters
}

// bytes is the total over the namespaces.
func (c *cache) bytes() int64 {
	var n int64
	for i := range c.ns {
		n += c.ns[i].bytes.Load()
	}
	return n
}

const (
	cacheRecordV1 = 1

	cacheCodecRaw  = 0
	cacheCodecZstd = 1

	cacheKeyLen   = 2 + 1 + 32
	cacheIndexLen = 2 + 8 + 1 + 32
	// cacheEntryKeys is what an entry's keys add to its record's bytes.
	cacheEntryKeys = cacheKeyLen + cacheIndexLen

	// cacheEvictBatch is the most entries one eviction batch removes, and
	// so what one CachePut may sweep of expired entries.
	cacheEvictBatch = 256
	// cacheSlack: eviction over the limit goes down to limit - limit/32,
	// so that a full cache evicts in batches, not one entry per put.
	cacheSlack = 32
	// cacheClearBatch is the most entries one CacheClear batch removes.
	cacheClearBatch = 1024
)

var (
	cacheRecordPrefix = []byte("c/")
	cacheIndexPrefix  = []byte("e/")
	cacheIndexEnd     = []byte("e0") // prefixEnd(cacheIndexPrefix)
)

func cacheRecordKey(dst *[cacheKeyLen]byte, ns CacheNamespace, key *[32]byte) {
	copy(dst[:], cacheRecordPrefix)
	dst[2] = byte(ns)
	copy(dst[3:], key[:])
}

func cacheIndexKey(dst *[cacheIndexLen]byte, expires int64, ns CacheNamespace, key *[32]byte) {
	copy(dst[:], cacheIndexPrefix)
	binary.BigEndian.PutUint64(dst[2:], uint64(expires))
	dst[10] = byte(ns)
	copy(dst[11:], key[:])
}

// parseCacheIndex decodes an index key and value; ok is false for one this
// file did not write, which eviction deletes and nothing counts.
func parseCacheIndex(k, v []byte) (expires int64, ns CacheNamespace, key *[32]byte, size int64, ok bool) {
	if len(k) != cacheIndexLen || string(k[:2]) != string(cacheIndexPrefix) {
		return 0, 0, nil, 0, false
	}
	u := binary.BigEndian.Uint64(k[2:])
	ns = CacheNamespace(k[10])
	n, w := binary.Uvarint(v)
	if u > math.MaxInt64 || !ns.valid() || w <= 0 || w != len(v) || n > math.MaxInt64 {
		return 0, 0, nil, 0, false
	}
	return int64(u), ns, (*[32]byte)(k[11:]), int64(n), true
}

// cacheKeyID is the first 8 bytes of a key, to name it in errors. A value,
// so that formatting an error does not move the caller's key to the heap.
func cacheKeyID(key *[32]byte) uint64 { return binary.BigEndian.Uint64(key[:8]) }

// cacheKeys are the keys one call reads, pooled: Pebble's Get keeps the
// key slice in its pooled iterator, so a key on the stack would escape to
// the heap on every call.
type cacheKeys struct {
	rec [cacheKeyLen]byte
	idx [cacheIndexLen]byte
}

var cacheKeysPool = sync.Pool{New: func() any { return new(cacheKeys) }}

// cacheHeader is a record's header.
type cacheHeader struct {
	codec            byte
	created, expires int64
	rawSize          int
}

// parseCacheRecord splits a record into its header and payload.
func parseCacheRecord(v []byte) (h cacheHeader, payload []byte, err error) {
	if len(v) < 2 {
		return h, nil, errShortRecord
	}
	if v[0] != cacheRecordV1 {
		return h, nil, fmt.Errorf("cache record has unknown version %d", v[0])
	}
	h.codec = v[1]
	v = v[2:]
	var n int
	if h.created, n = binary.Varint(v); n <= 0 {
		return h, nil, errShortRecord
	}
	v = v[n:]
	if h.expires, n = binary.Varint(v); n <= 0 {
		return h, nil, errShortRecord
	}
	v = v[n:]
	raw, n := binary.Uvarint(v)
	if n <= 0 {
		return h, nil, errShortRecord
	}
	if raw > MaxCacheValue {
		return h, nil, fmt.Errorf("cache record claims %d bytes, over MaxCacheValue", raw)
	}
	h.rawSize = int(raw)
	switch h.codec {
	case cacheCodecRaw:
		if len(v)-n != h.rawSize {
			return h, nil, fmt.Errorf("raw cache record has %d bytes, header says %d", len(v)-n, h.rawSize)
		}
	case cacheCodecZstd:
	default:
		return h, nil, fmt.Errorf("cache record has unknown codec %d", h.codec)
	}
	return h, v[n:], nil
}

// appendCacheRecord appends the record of value. The payload is value
// compressed, or value itself when compression does not make it smaller.
func appendCacheRecord(dst, value []byte, created, expires int64) []byte {
	dst = append(dst, cacheRecordV1, cacheCodecZstd)
	dst = binary.AppendVarint(dst, created)
	dst = binary.AppendVarint(dst, expires)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	start := len(dst)
	dst = cacheCodec().enc.EncodeAll(value, dst)
	if len(dst)-start >= len(value) {
		dst = append(dst[:start], value...)
		dst[1] = cacheCodecRaw
	}
	return dst
}

// decodeCachePayload appends the value of a parsed record to dst; on an
// error it returns dst as it was.
func decodeCachePayload(dst []byte, h *cacheHeader, payload []byte) ([]byte, error) {
	if h.codec == cacheCodecRaw {
		return append(dst, payload...), nil
	}
	// The decoder decodes into the spare capacity only (cap limit): a
	// corrupt frame cannot make it allocate more than the header says.
	out, err := cacheCodec().dec.DecodeAll(payload, slices.Grow(dst, h.rawSize))
	if err != nil {
		return dst, err
	}
	if len(out)-len(dst) != h.rawSize {
		return dst, fmt.Errorf("cache value decodes to %d bytes, header says %d", len(out)-len(dst), h.rawSize)
	}
	return out, nil
}

type zstdCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// cacheCodec is the process's one encoder and decoder: EncodeAll and
// DecodeAll are safe for concurrent use, each call taking one of
// GOMAXPROCS internal coders. Made on first use.
//
// SpeedFastest: on the ~4 KB JSON answer of the benchmarks it stores 6%
// more than SpeedDefault (1445 against 1359 bytes, of 4096); it encodes
// in 18 against 21 µs alone, and in 23 against 40 µs inside
// BenchmarkCachePut, where Pebble's compactions share the CPU caches with
// SpeedDefault's larger tables (2-CPU bench machine).
var cacheCodec = sync.OnceValue(func() zstdCodec {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(0), // GOMAXPROCS
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(fmt.Sprintf("BUG: zstd encoder options: %v", err))
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0), // GOMAXPROCS: the default (4) would queue hits on a larger machine
		zstd.WithDecoderMaxMemory(MaxCacheValue),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(fmt.Sprintf("BUG: zstd decoder options: %v", err))
	}
	return zstdCodec{enc: enc, dec: dec}
})

// cacheBufPool holds the record buffers of CachePut.
var cacheBufPool sync.Pool

// maxPooledCacheBuf: a larger record buffer is left to the GC.
const maxPooledCacheBuf = 256 << 10

func acquireCacheBuf() *[]byte {
	if v := cacheBufPool.Get(); v != nil {
		return v.(*[]byte)
	}
	b := make([]byte, 0, 8<<10)
	return &b
}

func releaseCacheBuf(b *[]byte) {
	if cap(*b) > maxPooledCacheBuf {
		return
	}
	*b = (*b)[:0]
	cacheBufPool.Put(b)
}

// AppendCacheRecord appends value as the cache stores it, compressed with
// zstd (as is when that does not make it smaller) behind its created and
// expiry times, for a cache kept outside Pebble (Redis) in the same
// format. A ttl over MaxCacheTTL is shortened to it.
func AppendCacheRecord(dst, value []byte, now time.Time, ttl time.Duration) []byte {
	created := cacheNanos(now)
	expires := created + int64(min(ttl, MaxCacheTTL))
	if expires < created { // past year 2262
		expires = math.MaxInt64
	}
	return appendCacheRecord(dst, value, created, expires)
}

// ReadCacheRecord appends the value of rec, a record AppendCacheRecord
// made, to dst, and returns it with its meta. ok is false when the entry
// expired at or before now; err when rec does not decode (dst is then
// returned as passed).
func ReadCacheRecord(dst, rec []byte, now time.Time) (value []byte, meta CacheMeta, ok bool, err error) {
	return readCacheRecord(dst, rec, cacheNanos(now))
}

func readCacheRecord(dst, rec []byte, now int64) ([]byte, CacheMeta, bool, error) {
	var meta CacheMeta
	h, payload, err := parseCacheRecord(rec)
	if err != nil {
		return dst, meta, false, err
	}
	if h.expires <= now {
		return dst, meta, false, nil
	}
	if dst, err = decodeCachePayload(dst, &h, payload); err != nil {
		return dst, meta, false, err
	}
	meta = CacheMeta{
		Created: time.Unix(0, h.created).UTC(),
		Expires: time.Unix(0, h.expires).UTC(),
		Size:    len(payload),
		RawSize: h.rawSize,
	}
	return dst, meta, true, nil
}

// CacheGet appends the value cached under (ns, key) to dst and returns it
// with its meta. ok is false on a miss: no entry, an entry that expired at
// or before now, or one that does not decode (counted as corrupt; the next
// CachePut of the key replaces it). err is for the store itself (closed,
// a read error), never for the cached bytes.
//
// Pass nil for a new slice, or a pooled buffer: on a miss value is dst
// as passed. CacheGet is safe for concurrent use and never waits for
// cache writers or eviction. An expired entry stays on disk until a
// sweep removes it (see CachePut).
func (s *Store) CacheGet(dst []byte, ns CacheNamespace, key [32]byte, now time.Time) (value []byte, meta CacheMeta, ok bool, err error) {
	if err := checkNamespace(ns); err != nil {
		return dst, meta, false, err
	}
	cn := &s.cache.ns[ns]
	value, meta, ok, err = s.cacheGet(dst, ns, &key, cacheNanos(now))
	switch {
	case err != nil:
	case ok:
		cn.hits.Add(1)
	default:
		cn.misses.Add(1)
	}
	return value, meta, ok, err
}

func (s *Store) cacheGet(dst []byte, ns CacheNamespace, key *[32]byte, now int64) ([]byte, CacheMeta, bool, error) {
	var meta CacheMeta
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return dst, meta, false, ErrClosed
	}
	ks := cacheKeysPool.Get().(*cacheKeys)
	defer cacheKeysPool.Put(ks)
	cacheRecordKey(&ks.rec, ns, key)
	v, closer, err := s.db.Get(ks.rec[:])
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return dst, meta, false, nil
		}
		return dst, meta, false, fmt.Errorf("cannot read cache entry %s/%016x: %w", ns, cacheKeyID(key), err)
	}
	defer closer.Close()
	dst, meta, ok, err := readCacheRecord(dst, v, now)
	if err != nil {
		s.cache.ns[ns].corrupt.Add(1)
		return dst, meta, false, nil
	}
	return dst, meta, ok, nil
}

// CachePut stores value under (ns, key) for ttl from now, replacing what
// was there. The value is compressed with zstd (stored as is when that
// does not make it smaller); CachePut copies it and does not keep it.
// A ttl over MaxCacheTTL is shortened to it; a value over MaxCacheValue,
// or an entry over the cache's limit, is not stored (ErrTooLarge).
//
// The write is not fsynced: a crash may lose the latest puts (misses
// afterwards), which the ledger's writes never are. When the cache is
// then over its limit, CachePut evicts the entries that expire first, in
// batches of 256 with the lock released between them, until it is under;
// it also sweeps at most one batch of expired entries. It is safe for
// concurrent use and serializes with other puts only around its Pebble
// write, not its compression.
func (s *Store) CachePut(ns CacheNamespace, key [32]byte, value []byte, ttl time.Duration, now time.Time) error {
	if err := checkNamespace(ns); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("cache ttl %v is not positive", ttl)
	}
	if len(value) > MaxCacheValue {
		return fmt.Errorf("cache value of %d bytes is over %d: %w", len(value), MaxCacheValue, ErrTooLarge)
	}
	created := cacheNanos(now)
	expires := created + int64(min(ttl, MaxCacheTTL))
	if expires < created { // past year 2262
		expires = math.MaxInt64
	}
	bp := acquireCacheBuf()
	defer releaseCacheBuf(bp)
	*bp = appendCacheRecord((*bp)[:0], value, created, expires)
	size := int64(len(*bp)) + cacheEntryKeys
	if limit := s.cache.limit.Load(); size > limit {
		return fmt.Errorf("cache entry of %d bytes is over the cache's limit of %d: %w", size, limit, ErrTooLarge)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	trim, err := s.cachePut(ns, &key, *bp, size, expires, created)
	if err != nil || !trim {
		return err
	}
	return s.trimCache(created, 1)
}

// cachePut writes a record and its index key, replacing the old entry's,
// and reports whether the cache needs trimming.
func (s *Store) cachePut(ns CacheNamespace, key *[32]byte, rec []byte, size, expires, now int64) (trim bool, err error) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	var rk [cacheKeyLen]byte
	var ik [cacheIndexLen]byte
	cacheRecordKey(&rk, ns, key)
	cacheIndexKey(&ik, expires, ns, key)
	b := s.db.NewBatch()
	defer b.Close()
	_, oldSize, counted, err := s.stageUnindex(b, ns, key, &ik)
	if err != nil {
		return false, err
	}
	var sv [binary.MaxVarintLen64]byte
	_ = b.Set(rk[:], rec, nil)
	_ = b.Set(ik[:], sv[:binary.PutUvarint(sv[:], uint64(size))], nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return false, fmt.Errorf("cannot write cache entry %s/%016x: %w", ns, cacheKeyID(key), err)
	}
	cn := &c.ns[ns]
	if counted {
		cn.entries.Add(-1)
		cn.bytes.Add(-oldSize)
	}
	cn.entries.Add(1)
	cn.bytes.Add(size)
	c.first = min(c.first, expires)
	return c.needsTrim(now), nil
}

// needsTrim reports whether the cache is over its limit or may hold
// entries expired at now. The caller holds c.mu.
func (c *cache) needsTrim(now int64) bool {
	return c.bytes() > c.limit.Load() || c.first <= now
}

// trimCache evicts entries in batches of cacheEvictBatch, each batch under
// cache.mu, until the cache is under its limit; of the expired entries it
// sweeps at most sweeps batches (a negative sweeps: all). now is Unix ns;
// 0 treats nothing as expired. The caller holds s.mu for reading.
func (s *Store) trimCache(now int64, sweeps int) error {
	c := &s.cache
	for i := 0; ; i++ {
		c.mu.Lock()
		if sweeps >= 0 && i >= sweeps {
			now = 0 // only the limit is left to enforce
		}
		if !c.needsTrim(now) {
			c.mu.Unlock()
			return nil
		}
		more, err := s.evict(now, cacheEvictBatch)
		c.mu.Unlock()
		if err != nil || !more {
			return err
		}
	}
}

// evict removes up to batch entries in expiry order: those expired at now,
// then, while the cache is over its limit, the next ones to expire, until
// it is at limit - limit/cacheSlack. more reports that it stopped at batch
// with work left. The caller holds c.mu (and s.mu for reading).
func (s *Store) evict(now int64, batch int) (more bool, err error) {
	c := &s.cache
	limit := c.limit.Load()
	total := c.bytes()
	low := limit - limit/cacheSlack
	evicting := total > limit

	var lower [cacheIndexLen]byte
	copy(lower[:], cacheIndexPrefix)
	binary.BigEndian.PutUint64(lower[2:], uint64(max(c.first, 0)))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower[:10], UpperBound: cacheIndexEnd})
	if err != nil {
		return false, fmt.Errorf("cannot scan the cache index: %w", err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	var gone [cacheNamespaces]struct{ entries, bytes, evicted, expired int64 }
	first, n := int64(math.MaxInt64), 0
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return false, fmt.Errorf("cannot scan the cache index: %w", err)
		}
		exp, ns, key, size, valid := parseCacheIndex(it.Key(), v)
		expired := valid && exp <= now
		if valid && !expired && (!evicting || total <= low) {
			first = exp
			break
		}
		if n == batch {
			first, more = exp, true
			if !valid {
				first = c.first // unknown: keep the old bound
			}
			break
		}
		n++
		_ = b.Delete(it.Key(), nil)
		if !valid {
			continue
		}
		if err := s.stageRecordDelete(b, ns, key, exp); err != nil {
			_ = it.Close()
			return false, err
		}
		g := &gone[ns]
		g.entries++
		g.bytes += size
		total -= size
		if expired {
			g.expired++
		} else {
			g.evicted++
		}
	}
	if err := it.Close(); err != nil {
		return false, fmt.Errorf("cannot scan the cache index: %w", err)
	}
	if !b.Empty() {
		if err := b.Commit(pebble.NoSync); err != nil {
			return false, fmt.Errorf("cannot evict %d cache entries: %w", n, err)
		}
	}
	c.first = first
	for i := range gone {
		g, cn := &gone[i], &c.ns[i]
		cn.entries.Add(-g.entries)
		cn.bytes.Add(-g.bytes)
		cn.evictions.Add(g.evicted)
		cn.expirations.Add(g.expired)
	}
	return more, nil
}

// stageRecordDelete deletes the record of an index key that expires at exp
// when the record is still the one that key was written with: an index
// key left behind by a corrupt record must not take the live entry along
// (invariant 1). A record that does not decode is garbage and goes too.
// The caller holds c.mu.
func (s *Store) stageRecordDelete(b *pebble.Batch, ns CacheNamespace, key *[32]byte, exp int64) error {
	ks := cacheKeysPool.Get().(*cacheKeys)
	defer cacheKeysPool.Put(ks)
	cacheRecordKey(&ks.rec, ns, key)
	v, closer, err := s.db.Get(ks.rec[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read cache entry %s/%016x: %w", ns, cacheKeyID(key), err)
	}
	h, _, perr := parseCacheRecord(v)
	_ = closer.Close()
	if perr != nil || h.expires == exp {
		return b.Delete(ks.rec[:], nil)
	}
	return nil
}

// CacheDelete removes the entry under (ns, key), if any. It is safe for
// concurrent use; like CachePut it is not fsynced.
func (s *Store) CacheDelete(ns CacheNamespace, key [32]byte) error {
	if err := checkNamespace(ns); err != nil {
		return err
	}
	return s.read(func() error {
		c := &s.cache
		c.mu.Lock()
		defer c.mu.Unlock()
		b := s.db.NewBatch()
		defer b.Close()
		exists, size, counted, err := s.stageUnindex(b, ns, &key, nil)
		if err != nil || !exists {
			return err
		}
		var rk [cacheKeyLen]byte
		cacheRecordKey(&rk, ns, &key)
		_ = b.Delete(rk[:], nil)
		if err := b.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("cannot delete cache entry %s/%016x: %w", ns, cacheKeyID(&key), err)
		}
		if counted {
			c.ns[ns].entries.Add(-1)
			c.ns[ns].bytes.Add(-size)
		}
		return nil
	})
}

// stageUnindex stages the delete of the index key of the record under
// (ns, key), unless that key is keep (the caller overwrites it), and
// returns the bytes the index counted for it. exists reports a record;
// counted is false when there is none, its header does not decode or its
// index key is missing: then its index key, if any, stays counted until
// eviction drops it (invariant 1). The caller holds c.mu.
func (s *Store) stageUnindex(b *pebble.Batch, ns CacheNamespace, key *[32]byte, keep *[cacheIndexLen]byte) (exists bool, size int64, counted bool, err error) {
	ks := cacheKeysPool.Get().(*cacheKeys)
	defer cacheKeysPool.Put(ks)
	cacheRecordKey(&ks.rec, ns, key)
	v, closer, err := s.db.Get(ks.rec[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return false, 0, false, nil
	}
	if err != nil {
		return false, 0, false, fmt.Errorf("cannot read cache entry %s/%016x: %w", ns, cacheKeyID(key), err)
	}
	h, _, perr := parseCacheRecord(v)
	_ = closer.Close()
	if perr != nil {
		return true, 0, false, nil
	}
	ik := &ks.idx
	cacheIndexKey(ik, h.expires, ns, key)
	iv, closer, err := s.db.Get(ik[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return true, 0, false, nil
	}
	if err != nil {
		return true, 0, false, fmt.Errorf("cannot read cache index of %s/%016x: %w", ns, cacheKeyID(key), err)
	}
	_, _, _, size, counted = parseCacheIndex(ik[:], iv)
	_ = closer.Close()
	if keep == nil || *ik != *keep {
		_ = b.Delete(ik[:], nil)
	}
	return true, size, counted, nil
}

// CacheClear removes every entry of namespace ns, in batches with the
// cache unlocked between them; entries put meanwhile may stay. It scans
// the whole index, so it is for admin calls, not the request path.
func (s *Store) CacheClear(ns CacheNamespace) error {
	if err := checkNamespace(ns); err != nil {
		return err
	}
	from := append([]byte(nil), cacheIndexPrefix...)
	for from != nil {
		err := s.read(func() error {
			var err error
			from, err = s.clearBatch(ns, from)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// clearBatch removes up to cacheClearBatch entries of ns with index keys
// from from on, and returns the key to continue from, nil at the end.
func (s *Store) clearBatch(ns CacheNamespace, from []byte) (next []byte, err error) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: cacheIndexEnd})
	if err != nil {
		return nil, fmt.Errorf("cannot scan the cache index: %w", err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	var entries, bytes int64
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n == cacheClearBatch {
			next = append([]byte(nil), it.Key()...)
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("cannot scan the cache index: %w", err)
		}
		exp, kns, key, size, valid := parseCacheIndex(it.Key(), v)
		if !valid || kns != ns {
			continue
		}
		n++
		_ = b.Delete(it.Key(), nil)
		if err := s.stageRecordDelete(b, ns, key, exp); err != nil {
			_ = it.Close()
			return nil, err
		}
		entries++
		bytes += size
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("cannot scan the cache index: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return nil, fmt.Errorf("cannot clear %d cache entries of %s: %w", n, ns, err)
	}
	c.ns[ns].entries.Add(-entries)
	c.ns[ns].bytes.Add(-bytes)
	return next, nil
}

// SetCacheLimit sets the cache's byte limit (DefaultCacheLimit until
// called; 0 stores nothing) and evicts down to it before it returns.
func (s *Store) SetCacheLimit(bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("cache limit %d is negative", bytes)
	}
	s.cache.mu.Lock()
	s.cache.limit.Store(bytes)
	s.cache.mu.Unlock()
	return s.read(func() error { return s.trimCache(0, 0) })
}

// CacheSweep removes every entry expired at now, and evicts down to the
// limit. CachePut sweeps as it goes; a caller with few puts and many
// expired entries may call CacheSweep now and then to free their disk.
func (s *Store) CacheSweep(now time.Time) error {
	return s.read(func() error { return s.trimCache(cacheNanos(now), -1) })
}

// CacheLimit returns the cache's byte limit.
func (s *Store) CacheLimit() int64 { return s.cache.limit.Load() }

// CacheStats returns namespace ns's counters, or with CacheAll their sums.
// The counters are read one by one, not as a snapshot.
func (s *Store) CacheStats(ns CacheNamespace) CacheStats {
	var st CacheStats
	for i := range s.cache.ns {
		if ns != CacheAll && CacheNamespace(i) != ns {
			continue
		}
		cn := &s.cache.ns[i]
		st.Entries += cn.entries.Load()
		st.Bytes += cn.bytes.Load()
		st.Hits += cn.hits.Load()
		st.Misses += cn.misses.Load()
		st.Evictions += cn.evictions.Load()
		st.Expirations += cn.expirations.Load()
		st.Corrupt += cn.corrupt.Load()
	}
	return st
}

// WriteCacheMetrics writes the cache's counters in Prometheus text format,
// one series per namespace; register it once with
// metrics.RegisterMetricsWriter to serve them on /metrics.
func (s *Store) WriteCacheMetrics(w io.Writer) {
	metrics.WriteGaugeUint64(w, `switchboard_cache_limit_bytes`, uint64(s.CacheLimit()))
	for _, ns := range []CacheNamespace{CacheResponses, CacheWeb} {
		st := s.CacheStats(ns)
		l := `{ns="` + ns.String() + `"}`
		metrics.WriteGaugeUint64(w, `switchboard_cache_entries`+l, uint64(st.Entries))
		metrics.WriteGaugeUint64(w, `switchboard_cache_bytes`+l, uint64(st.Bytes))
		metrics.WriteCounterUint64(w, `switchboard_cache_hits_total`+l, uint64(st.Hits))
		metrics.WriteCounterUint64(w, `switchboard_cache_misses_total`+l, uint64(st.Misses))
		metrics.WriteCounterUint64(w, `switchboard_cache_evictions_total`+l, uint64(st.Evictions))
		metrics.WriteCounterUint64(w, `switchboard_cache_expirations_total`+l, uint64(st.Expirations))
		metrics.WriteCounterUint64(w, `switchboard_cache_corrupt_total`+l, uint64(st.Corrupt))
	}
}

// cacheNanos is t in Unix ns; times before 1970 are 0.
func cacheNanos(t time.Time) int64 {
	return max(t.UnixNano(), 0)
}

// loadCache counts the entries of the index; Open calls it.
func (s *Store) loadCache() error {
	c := &s.cache
	c.limit.Store(DefaultCacheLimit)
	c.first = math.MaxInt64
	return s.scan(cacheIndexPrefix, func(k, v []byte) error {
		exp, ns, _, size, ok := parseCacheIndex(k, v)
		if !ok {
			return nil // eviction drops it
		}
		c.first = min(c.first, exp)
		c.ns[ns].entries.Add(1)
		c.ns[ns].bytes.Add(size)
		return nil
	})
}
