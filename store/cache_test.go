package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// cacheKeyOf is a test key: the hash of a name.
func cacheKeyOf(name string) [32]byte { return sha256.Sum256([]byte(name)) }

// chatAnswer is a chat completion of about n bytes of JSON, compressible
// the way a real answer is (words, repeated field names), different per
// seed.
func chatAnswer(seed uint64, n int) []byte {
	words := strings.Fields(`the gateway forwards each request to the provider and relays
		its answer to the client while counting tokens for the ledger so that the
		cost of every call is known before the next one starts function returns
		error value test file read write stream event model cache hit miss`)
	r := rand.New(rand.NewPCG(seed, 7))
	var content strings.Builder
	for content.Len() < n-400 {
		content.WriteString(words[r.IntN(len(words))])
		content.WriteByte(' ')
	}
	return fmt.Appendf(nil, `{"id":"chatcmpl-%d","object":"chat.completion","created":1773144000,`+
		`"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant",`+
		`"content":%q,"refusal":null},"logprobs":null,"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":1234,"completion_tokens":%d,"total_tokens":%d,`+
		`"prompt_tokens_details":{"cached_tokens":1024}},"system_fingerprint":"fp_%d"}`,
		seed, content.String(), n/4, 1234+n/4, seed)
}

func mustCachePut(t testing.TB, s *Store, ns CacheNamespace, name string, v []byte, ttl time.Duration, now time.Time) {
	t.Helper()
	if err := s.CachePut(ns, cacheKeyOf(name), v, ttl, now); err != nil {
		t.Fatalf("CachePut(%s, %q): %v", ns, name, err)
	}
}

// cacheHas reports whether name is a hit at now.
func cacheHas(t testing.TB, s *Store, ns CacheNamespace, name string, now time.Time) bool {
	t.Helper()
	_, _, ok, err := s.CacheGet(nil, ns, cacheKeyOf(name), now)
	if err != nil {
		t.Fatalf("CacheGet(%s, %q): %v", ns, name, err)
	}
	return ok
}

// checkCacheInvariants recounts the cache from Pebble: every record
// decodes and has the one index key of its expiry, every index key has its
// record, and the counters are the index's count and sum.
func checkCacheInvariants(t testing.TB, s *Store) {
	t.Helper()
	type rec struct {
		expires int64
		size    int64
	}
	records := map[string]rec{}
	err := s.scan(cacheRecordPrefix, func(k, v []byte) error {
		h, _, err := parseCacheRecord(v)
		if err != nil {
			return fmt.Errorf("record %x: %w", k, err)
		}
		records[string(k)] = rec{h.expires, int64(len(v)) + cacheEntryKeys}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want [cacheNamespaces]struct{ entries, bytes int64 }
	indexed := map[string]bool{}
	err = s.scan(cacheIndexPrefix, func(k, v []byte) error {
		exp, ns, key, size, ok := parseCacheIndex(k, v)
		if !ok {
			return fmt.Errorf("malformed index key %x", k)
		}
		var rk [cacheKeyLen]byte
		cacheRecordKey(&rk, ns, key)
		r, found := records[string(rk[:])]
		switch {
		case !found:
			return fmt.Errorf("index key %x has no record", k)
		case r.expires != exp:
			return fmt.Errorf("index key %x expires at %d, its record at %d", k, exp, r.expires)
		case r.size != size:
			return fmt.Errorf("index key %x says %d bytes, its record is %d", k, size, r.size)
		case indexed[string(rk[:])]:
			return fmt.Errorf("record %x has two index keys", rk)
		}
		indexed[string(rk[:])] = true
		want[ns].entries++
		want[ns].bytes += size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(indexed) != len(records) {
		t.Fatalf("%d records, %d of them indexed", len(records), len(indexed))
	}
	for _, ns := range []CacheNamespace{CacheResponses, CacheWeb} {
		st := s.CacheStats(ns)
		if st.Entries != want[ns].entries || st.Bytes != want[ns].bytes {
			t.Fatalf("%s: counters say %d entries, %d bytes; the index %d, %d", ns, st.Entries, st.Bytes, want[ns].entries, want[ns].bytes)
		}
	}
	s.cache.mu.Lock()
	first := s.cache.first
	s.cache.mu.Unlock()
	_ = s.scan(cacheIndexPrefix, func(k, v []byte) error {
		if exp, _, _, _, _ := parseCacheIndex(k, v); exp < first {
			t.Fatalf("index key %x expires at %d, before the scan's start %d", k, exp, first)
		}
		return nil
	})
}

func TestCacheRoundTripCompresses(t *testing.T) {
	s, _ := openTest(t)
	v := chatAnswer(1, 4096)
	mustCachePut(t, s, CacheResponses, "q1", v, time.Hour, t0)
	got, meta, ok, err := s.CacheGet(nil, CacheResponses, cacheKeyOf("q1"), t0.Add(time.Minute))
	if err != nil || !ok {
		t.Fatalf("CacheGet = ok %v, err %v", ok, err)
	}
	if !bytes.Equal(got, v) {
		t.Fatalf("value differs after the round trip:\n%s\nwant\n%s", got, v)
	}
	if meta.RawSize != len(v) || meta.Size <= 0 || meta.Size >= len(v)/2 {
		t.Fatalf("meta sizes: stored %d, raw %d; want raw %d and stored under half", meta.Size, meta.RawSize, len(v))
	}
	if !meta.Created.Equal(t0) || !meta.Expires.Equal(t0.Add(time.Hour)) {
		t.Fatalf("meta times: created %v, expires %v", meta.Created, meta.Expires)
	}
	st := s.CacheStats(CacheResponses)
	if st.Entries != 1 || st.Bytes != int64(meta.Size)+cacheEntryKeys+int64(len(cacheRecordHeader(t, s, "q1"))) || st.Hits != 1 {
		t.Fatalf("stats %+v after one put and hit of a %d-byte payload", st, meta.Size)
	}
	// CacheGet appends to dst.
	dst := []byte("prefix:")
	got, _, ok, _ = s.CacheGet(dst, CacheResponses, cacheKeyOf("q1"), t0)
	if !ok || string(got[:7]) != "prefix:" || !bytes.Equal(got[7:], v) {
		t.Fatalf("CacheGet did not append to dst: ok %v, %.20q", ok, got)
	}
	checkCacheInvariants(t, s)
}

// cacheRecordHeader returns the header bytes of name's record.
func cacheRecordHeader(t testing.TB, s *Store, name string) []byte {
	t.Helper()
	var rk [cacheKeyLen]byte
	key := cacheKeyOf(name)
	cacheRecordKey(&rk, CacheResponses, &key)
	v, err := s.get(rk[:])
	if err != nil {
		t.Fatal(err)
	}
	_, payload, err := parseCacheRecord(v)
	if err != nil {
		t.Fatal(err)
	}
	return v[:len(v)-len(payload)]
}

func TestCacheStoresWhatDoesNotCompressAsIs(t *testing.T) {
	s, _ := openTest(t)
	random := make([]byte, 1000)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(random)
	for _, v := range [][]byte{random, {}, []byte("x"), []byte(`{"a":1}`)} {
		name := fmt.Sprintf("v%d", len(v))
		mustCachePut(t, s, CacheResponses, name, v, time.Hour, t0)
		got, meta, ok, err := s.CacheGet(nil, CacheResponses, cacheKeyOf(name), t0)
		if err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("%d bytes: ok %v, err %v, got %d bytes", len(v), ok, err, len(got))
		}
		if meta.Size != len(v) || meta.RawSize != len(v) {
			t.Fatalf("%d bytes: stored %d, raw %d; want both %d", len(v), meta.Size, meta.RawSize, len(v))
		}
	}
}

func TestCacheExpiry(t *testing.T) {
	s, _ := openTest(t)
	mustCachePut(t, s, CacheWeb, "news", []byte(`{"results":[]}`), time.Minute, t0)
	mustCachePut(t, s, CacheWeb, "weather", []byte(`{"results":[1]}`), time.Hour, t0)
	if !cacheHas(t, s, CacheWeb, "news", t0.Add(time.Minute-time.Nanosecond)) {
		t.Fatal("miss before the expiry")
	}
	if cacheHas(t, s, CacheWeb, "news", t0.Add(time.Minute)) {
		t.Fatal("hit at the expiry")
	}
	if cacheHas(t, s, CacheWeb, "news", t0.Add(time.Hour)) {
		t.Fatal("hit after the expiry")
	}
	st := s.CacheStats(CacheWeb)
	if st.Hits != 1 || st.Misses != 2 || st.Entries != 2 || st.Expirations != 0 {
		t.Fatalf("stats %+v: want 1 hit, 2 misses, both entries still stored", st)
	}
	// The next put sweeps the expired entry; the live one stays.
	mustCachePut(t, s, CacheWeb, "sports", []byte(`{"results":[2]}`), time.Minute, t0.Add(2*time.Minute))
	st = s.CacheStats(CacheWeb)
	if st.Entries != 2 || st.Expirations != 1 || st.Evictions != 0 {
		t.Fatalf("stats %+v after a put past the expiry: want 2 entries, 1 expiration", st)
	}
	if !cacheHas(t, s, CacheWeb, "weather", t0.Add(2*time.Minute)) {
		t.Fatal("the sweep removed a live entry")
	}
	// CacheSweep removes what expired without a put.
	if err := s.CacheSweep(t0.Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st := s.CacheStats(CacheWeb); st.Entries != 0 || st.Bytes != 0 || st.Expirations != 3 {
		t.Fatalf("stats %+v after sweeping everything", st)
	}
	checkCacheInvariants(t, s)
}

func TestCacheOverwriteReplacesTheEntry(t *testing.T) {
	s, _ := openTest(t)
	for i, ttl := range []time.Duration{time.Hour, time.Minute, time.Minute, 2 * time.Hour} {
		mustCachePut(t, s, CacheResponses, "q", chatAnswer(uint64(i), 1000+i*500), ttl, t0)
		checkCacheInvariants(t, s)
	}
	got, meta, ok, _ := s.CacheGet(nil, CacheResponses, cacheKeyOf("q"), t0.Add(90*time.Minute))
	if !ok || !bytes.Equal(got, chatAnswer(3, 2500)) || !meta.Expires.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after overwrites: ok %v, expires %v", ok, meta.Expires)
	}
	if st := s.CacheStats(CacheAll); st.Entries != 1 {
		t.Fatalf("%d entries after overwriting one key", st.Entries)
	}
}

// TestCacheEvictsWhatExpiresFirst fills the cache past its limit with
// entries put in one order and expiring in another: eviction follows the
// expiry, down to the limit minus its slack.
func TestCacheEvictsWhatExpiresFirst(t *testing.T) {
	s, _ := openTest(t)
	v := chatAnswer(1, 4096)
	mustCachePut(t, s, CacheResponses, "probe", v, time.Hour, t0)
	entry := s.CacheStats(CacheAll).Bytes
	if err := s.CacheDelete(CacheResponses, cacheKeyOf("probe")); err != nil {
		t.Fatal(err)
	}
	limit := 10*entry + entry/2 // room for 10 entries
	if err := s.SetCacheLimit(limit); err != nil {
		t.Fatal(err)
	}
	// Entry i expires after ttl(i): a permutation of 1..20 minutes.
	ttl := func(i int) time.Duration { return time.Duration(1+(i*7)%20) * time.Minute }
	for i := range 20 {
		// The same value each time: the entries are the same size.
		mustCachePut(t, s, CacheResponses, fmt.Sprint(i), v, ttl(i), t0)
		if b := s.CacheStats(CacheAll).Bytes; b > limit {
			t.Fatalf("after put %d: %d bytes stored, over the %d limit", i, b, limit)
		}
	}
	st := s.CacheStats(CacheAll)
	if st.Entries != 10 || st.Evictions != 10 || st.Expirations != 0 {
		t.Fatalf("stats %+v: want 10 entries kept, 10 evicted", st)
	}
	for i := range 20 {
		want := ttl(i) > 10*time.Minute
		if got := cacheHas(t, s, CacheResponses, fmt.Sprint(i), t0); got != want {
			t.Errorf("entry %d (ttl %v): cached %v, want %v", i, ttl(i), got, want)
		}
	}
	checkCacheInvariants(t, s)

	// Lowering the limit evicts at once; an entry over the limit is refused.
	if err := s.SetCacheLimit(3 * entry); err != nil {
		t.Fatal(err)
	}
	if st := s.CacheStats(CacheAll); st.Bytes > 3*entry || st.Entries != 2 {
		t.Fatalf("stats %+v after lowering the limit to %d", st, 3*entry)
	}
	if !cacheHas(t, s, CacheResponses, "17", t0) { // 17*7%20 = 19: ttl 20m, the last to expire
		t.Fatal("lowering the limit evicted the entry that expires last")
	}
	if err := s.SetCacheLimit(entry - 1); err != nil {
		t.Fatal(err)
	}
	if err := s.CachePut(CacheResponses, cacheKeyOf("big"), v, time.Hour, t0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("an entry over the limit: %v, want ErrTooLarge", err)
	}
	if err := s.SetCacheLimit(0); err != nil {
		t.Fatal(err)
	}
	if st := s.CacheStats(CacheAll); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("stats %+v with limit 0", st)
	}
	checkCacheInvariants(t, s)
}

// TestCacheEvictsInBatches: eviction many batches deep still ends under
// the limit, and the expired entries of a put beyond its one sweep batch
// wait for the next put.
func TestCacheEvictsInBatches(t *testing.T) {
	s, _ := openTest(t)
	n := 3*cacheEvictBatch + 10
	for i := range n {
		mustCachePut(t, s, CacheWeb, fmt.Sprint(i), []byte(fmt.Sprint(i)), time.Minute, t0)
	}
	later := t0.Add(time.Hour)
	mustCachePut(t, s, CacheWeb, "new", []byte("x"), time.Hour, later)
	if st := s.CacheStats(CacheWeb); st.Expirations != cacheEvictBatch {
		t.Fatalf("one put swept %d expired entries, want one batch of %d", st.Expirations, cacheEvictBatch)
	}
	checkCacheInvariants(t, s)
	small := s.CacheStats(CacheWeb).Bytes / int64(n) * 5
	if err := s.SetCacheLimit(small); err != nil {
		t.Fatal(err)
	}
	if st := s.CacheStats(CacheWeb); st.Bytes > small || st.Entries == 0 {
		t.Fatalf("stats %+v after lowering the limit to %d", st, small)
	}
	if !cacheHas(t, s, CacheWeb, "new", later) {
		t.Fatal("the entry that expires last was evicted")
	}
	checkCacheInvariants(t, s)
}

func TestCacheSurvivesReopen(t *testing.T) {
	s, dir := openTest(t)
	for i := range 50 {
		ns := CacheResponses
		if i%3 == 0 {
			ns = CacheWeb
		}
		mustCachePut(t, s, ns, fmt.Sprint(i), chatAnswer(uint64(i), 500+i*40), time.Duration(i+1)*time.Minute, t0)
	}
	mustCachePut(t, s, CacheResponses, "1", []byte("replaced"), time.Hour, t0)
	if err := s.CacheDelete(CacheResponses, cacheKeyOf("2")); err != nil {
		t.Fatal(err)
	}
	if err := s.CacheDelete(CacheWeb, cacheKeyOf("no such entry")); err != nil {
		t.Fatal(err)
	}
	before := [cacheNamespaces]CacheStats{}
	for _, ns := range []CacheNamespace{CacheResponses, CacheWeb} {
		before[ns] = s.CacheStats(ns)
	}
	s = reopen(t, s, dir)
	for _, ns := range []CacheNamespace{CacheResponses, CacheWeb} {
		st := s.CacheStats(ns)
		if st.Entries != before[ns].Entries || st.Bytes != before[ns].Bytes {
			t.Fatalf("%s after reopen: %d entries, %d bytes; before %d, %d", ns, st.Entries, st.Bytes, before[ns].Entries, before[ns].Bytes)
		}
	}
	if st := s.CacheStats(CacheAll); st.Entries != 49 {
		t.Fatalf("%d entries after reopen, want 49", st.Entries)
	}
	checkCacheInvariants(t, s)
	got, _, ok, _ := s.CacheGet(nil, CacheResponses, cacheKeyOf("1"), t0)
	if !ok || string(got) != "replaced" {
		t.Fatalf("after reopen: ok %v, %q", ok, got)
	}
	// The first expiry was rebuilt too: a put past it sweeps.
	mustCachePut(t, s, CacheWeb, "x", []byte("x"), time.Hour, t0.Add(10*time.Minute+time.Second))
	// TTLs of 1..10 minutes, less "1" (replaced, 1h) and "2" (deleted).
	if st := s.CacheStats(CacheAll); st.Expirations != 8 {
		t.Fatalf("%d expirations after reopen and a put 10 minutes on, want 8", st.Expirations)
	}
	checkCacheInvariants(t, s)
}

func TestCacheNamespacesAreIsolated(t *testing.T) {
	s, _ := openTest(t)
	mustCachePut(t, s, CacheResponses, "k", []byte("answer"), time.Hour, t0)
	mustCachePut(t, s, CacheWeb, "k", []byte("results"), time.Hour, t0)
	mustCachePut(t, s, CacheWeb, "k2", []byte("more results"), time.Hour, t0)
	get := func(ns CacheNamespace, name string) string {
		v, _, ok, err := s.CacheGet(nil, ns, cacheKeyOf(name), t0)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "<miss>"
		}
		return string(v)
	}
	if a, w := get(CacheResponses, "k"), get(CacheWeb, "k"); a != "answer" || w != "results" {
		t.Fatalf("same key in two namespaces: %q, %q", a, w)
	}
	if err := s.CacheDelete(CacheWeb, cacheKeyOf("k")); err != nil {
		t.Fatal(err)
	}
	if a, w := get(CacheResponses, "k"), get(CacheWeb, "k"); a != "answer" || w != "<miss>" {
		t.Fatalf("after deleting the web entry: %q, %q", a, w)
	}
	mustCachePut(t, s, CacheWeb, "k", []byte("results"), time.Hour, t0)
	if err := s.CacheClear(CacheWeb); err != nil {
		t.Fatal(err)
	}
	if a, w, w2 := get(CacheResponses, "k"), get(CacheWeb, "k"), get(CacheWeb, "k2"); a != "answer" || w != "<miss>" || w2 != "<miss>" {
		t.Fatalf("after clearing web: %q, %q, %q", a, w, w2)
	}
	if r, w := s.CacheStats(CacheResponses), s.CacheStats(CacheWeb); r.Entries != 1 || w.Entries != 0 || w.Bytes != 0 || r.Hits != 3 || w.Hits != 1 || w.Misses != 3 {
		t.Fatalf("stats: responses %+v, web %+v", r, w)
	}
	checkCacheInvariants(t, s)
}

func TestCacheRejectsBadArguments(t *testing.T) {
	s, _ := openTest(t)
	k := cacheKeyOf("k")
	for _, ns := range []CacheNamespace{CacheAll, 3, 255} {
		if err := s.CachePut(ns, k, nil, time.Hour, t0); err == nil {
			t.Errorf("CachePut in namespace %d succeeded", ns)
		}
		if _, _, _, err := s.CacheGet(nil, ns, k, t0); err == nil {
			t.Errorf("CacheGet in namespace %d succeeded", ns)
		}
		if err := s.CacheDelete(ns, k); err == nil {
			t.Errorf("CacheDelete in namespace %d succeeded", ns)
		}
		if err := s.CacheClear(ns); err == nil {
			t.Errorf("CacheClear in namespace %d succeeded", ns)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.CachePut(CacheResponses, k, nil, ttl, t0); err == nil {
			t.Errorf("CachePut with ttl %v succeeded", ttl)
		}
	}
	if err := s.CachePut(CacheResponses, k, make([]byte, MaxCacheValue+1), time.Hour, t0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("CachePut over MaxCacheValue: %v", err)
	}
	if err := s.SetCacheLimit(-1); err == nil {
		t.Error("a negative limit was taken")
	}
	// A TTL past year 2262 is cut to MaxCacheTTL, not wrapped into the past.
	mustCachePut(t, s, CacheResponses, "forever", []byte("v"), 1<<62, t0)
	if _, meta, ok, _ := s.CacheGet(nil, CacheResponses, cacheKeyOf("forever"), t0.Add(5*365*24*time.Hour)); !ok || !meta.Expires.Equal(t0.Add(MaxCacheTTL)) {
		t.Fatalf("huge ttl: ok %v, expires %v", ok, meta.Expires)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.CacheGet(nil, CacheResponses, k, t0); !errors.Is(err, ErrClosed) {
		t.Errorf("CacheGet on a closed store: %v", err)
	}
	if err := s.CachePut(CacheResponses, k, nil, time.Hour, t0); !errors.Is(err, ErrClosed) {
		t.Errorf("CachePut on a closed store: %v", err)
	}
}

// TestCacheCorruptValueIsAMiss damages a stored record in every way the
// decoder checks: each read is a miss counted as corrupt, never an error
// or a panic, and the next put of the key replaces the damaged record.
func TestCacheCorruptValueIsAMiss(t *testing.T) {
	s, _ := openTest(t)
	v := chatAnswer(1, 4096)
	mustCachePut(t, s, CacheResponses, "q", v, time.Hour, t0)
	key := cacheKeyOf("q")
	var rk [cacheKeyLen]byte
	cacheRecordKey(&rk, CacheResponses, &key)
	good, err := s.get(rk[:])
	if err != nil {
		t.Fatal(err)
	}
	h, payload, err := parseCacheRecord(good)
	if err != nil || h.codec != cacheCodecZstd {
		t.Fatalf("record: codec %d, %v", h.codec, err)
	}
	hdr := len(good) - len(payload)
	edit := func(f func(r []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":           {},
		"version only":    {cacheRecordV1},
		"unknown version": edit(func(r []byte) []byte { r[0] = 9; return r }),
		"unknown codec":   edit(func(r []byte) []byte { r[1] = 7; return r }),
		"raw codec, wrong length": edit(func(r []byte) []byte {
			r[1] = cacheCodecRaw
			return r
		}),
		"truncated header":  good[:4],
		"truncated payload": good[:len(good)-10],
		"flipped payload byte": edit(func(r []byte) []byte {
			r[hdr+len(payload)/2] ^= 0x40
			return r
		}),
		"flipped checksum": edit(func(r []byte) []byte { r[len(r)-1] ^= 1; return r }),
		"huge raw length": func() []byte {
			r := []byte{cacheRecordV1, cacheCodecZstd}
			r = appendVarint(r, t0.UnixNano())
			r = appendVarint(r, t0.Add(time.Hour).UnixNano())
			r = appendUvarint(r, 1<<40)
			return append(r, payload...)
		}(),
		"raw length too small": func() []byte {
			r := []byte{cacheRecordV1, cacheCodecZstd}
			r = appendVarint(r, t0.UnixNano())
			r = appendVarint(r, t0.Add(time.Hour).UnixNano())
			r = appendUvarint(r, 100)
			return append(r, payload...)
		}(),
		"payload of garbage": append(good[:hdr:hdr], "not zstd at all, not at all"...),
	}
	names := slices.Sorted(maps.Keys(cases))
	for i, name := range names {
		if err := s.db.Set(rk[:], cases[name], pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		got, _, ok, err := s.CacheGet([]byte("dst"), CacheResponses, key, t0)
		if ok || err != nil || string(got) != "dst" {
			t.Errorf("%s: ok %v, err %v, value %.20q; want a miss with dst unchanged", name, ok, err, got)
		}
		if st := s.CacheStats(CacheResponses); st.Corrupt != int64(i+1) || st.Misses != int64(i+1) {
			t.Errorf("%s: %d corrupt, %d misses, want %d", name, st.Corrupt, st.Misses, i+1)
		}
	}

	// A damaged payload under a good header: a put replaces the entry as
	// if it were whole, and the counters stay the index's.
	if err := s.db.Set(rk[:], cases["truncated payload"], pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	mustCachePut(t, s, CacheResponses, "q", v, 2*time.Hour, t0)
	if got, _, ok, _ := s.CacheGet(nil, CacheResponses, key, t0); !ok || !bytes.Equal(got, v) {
		t.Fatal("a put over a damaged payload does not hit")
	}
	checkCacheInvariants(t, s)

	// A damaged header: its index key (t0+2h) cannot be found from it and
	// stays counted. A put with another expiry replaces the record, and
	// when the old index key expires its sweep must not take the new
	// entry along.
	if err := s.db.Set(rk[:], []byte("junk"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	mustCachePut(t, s, CacheResponses, "q", v, 3*time.Hour, t0)
	if got, _, ok, _ := s.CacheGet(nil, CacheResponses, key, t0); !ok || !bytes.Equal(got, v) {
		t.Fatal("a put over a damaged header does not hit")
	}
	if st := s.CacheStats(CacheResponses); st.Entries != 2 {
		t.Fatalf("%d entries: want the new one and the damaged one's index key", st.Entries)
	}
	if err := s.CacheSweep(t0.Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !cacheHas(t, s, CacheResponses, "q", t0.Add(2*time.Hour)) {
		t.Fatal("sweeping the damaged record's index key removed the live entry")
	}
	checkCacheInvariants(t, s)

	// A damaged record under a live index key goes with its key.
	if err := s.db.Set(rk[:], []byte("junk"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := s.CacheSweep(t0.Add(4 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st := s.CacheStats(CacheResponses); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("stats %+v after sweeping everything", st)
	}
	if _, err := s.get(rk[:]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the damaged record is still there: %v", err)
	}
	checkCacheInvariants(t, s)
}

// TestCacheConcurrent runs puts, gets, deletes and evictions at once
// (run it with -race): no hit returns another key's value, and the
// counters match the index afterwards.
func TestCacheConcurrent(t *testing.T) {
	s, dir := openTest(t)
	const keys = 64
	values := make([][]byte, keys)
	for i := range values {
		values[i] = chatAnswer(uint64(i), 1000+i*50)
	}
	mustCachePut(t, s, CacheResponses, "probe", values[0], time.Hour, t0)
	entry := s.CacheStats(CacheAll).Bytes
	if err := s.SetCacheLimit(entry * keys / 3); err != nil { // forces eviction
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var buf []byte
			for i := range 400 {
				k := r.IntN(keys)
				ns := CacheNamespace(1 + k%2)
				now := t0.Add(time.Duration(i) * time.Second)
				switch op := r.IntN(10); {
				case op < 5:
					v, _, ok, err := s.CacheGet(buf[:0], ns, cacheKeyOf(fmt.Sprint(k)), now)
					if err != nil {
						t.Error(err)
						return
					}
					if ok && !bytes.Equal(v, values[k]) {
						t.Errorf("key %d: got another value", k)
						return
					}
					buf = v
				case op < 9:
					ttl := time.Duration(1+r.IntN(120)) * time.Second
					if err := s.CachePut(ns, cacheKeyOf(fmt.Sprint(k)), values[k], ttl, now); err != nil {
						t.Error(err)
						return
					}
				default:
					if err := s.CacheDelete(ns, cacheKeyOf(fmt.Sprint(k))); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			if err := s.CacheSweep(t0.Add(time.Duration(i*20) * time.Second)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	checkCacheInvariants(t, s)
	st := s.CacheStats(CacheAll)
	if st.Bytes > s.CacheLimit() || st.Hits == 0 || st.Evictions+st.Expirations == 0 {
		t.Fatalf("stats %+v, limit %d", st, s.CacheLimit())
	}
	s = reopen(t, s, dir)
	checkCacheInvariants(t, s)
}

// FuzzCacheRecord: no record, however damaged, panics the decoder or
// decodes to other than its header's length.
func FuzzCacheRecord(f *testing.F) {
	f.Add(appendCacheRecord(nil, chatAnswer(1, 600), 1, 2))
	f.Add(appendCacheRecord(nil, []byte("tiny"), 1, 2))
	f.Add([]byte{cacheRecordV1, cacheCodecZstd, 2, 4, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		h, payload, err := parseCacheRecord(v)
		if err != nil {
			return
		}
		out, err := decodeCachePayload([]byte("dst"), &h, payload)
		if string(out[:3]) != "dst" {
			t.Fatalf("dst was overwritten")
		}
		if err == nil && len(out)-3 != h.rawSize {
			t.Fatalf("decoded %d bytes, header says %d", len(out)-3, h.rawSize)
		}
	})
}
