package redis

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/internal/testenv"
	"switchboard/store"
)

func open(t testing.TB, url string) *Client {
	t.Helper()
	c, err := Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Two clients, as two gateways: one key's 60 RPM is one burst of 60
// between them, then refusals with a retry-after of about one interval.
func TestLimiterShared(t *testing.T) {
	r := testenv.StartRedis(t)
	a, b := open(t, r.URL), open(t, r.URL)
	la, lb := a.Limiter("sk-sb-shared", 60, 0), b.Limiter("sk-sb-shared", 60, 0)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := la
			if i%2 == 1 {
				l = lb
			}
			for range 20 {
				lim, err := l.Admit()
				if err != nil {
					t.Error(err)
					return
				}
				if lim.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// 160 checks within a few hundred ms: the burst (60) and at most the
	// refill of the time they took (1/s).
	if n := allowed.Load(); n < 60 || n > 62 {
		t.Fatalf("allowed %d of 160 checks on a 60 RPM key shared by two clients, want 60 (+ the refill)", n)
	}
	lim, err := la.Admit()
	if err != nil {
		t.Fatal(err)
	}
	if lim.Allowed || lim.RemainingRequests != 0 || lim.RetryAfter <= 0 || lim.RetryAfter > time.Second {
		t.Fatalf("after the burst: %+v, want refused with remaining 0 and retry-after in (0, 1s]", lim)
	}
	if lim.ResetRequests < 58*time.Second || lim.ResetRequests > 60*time.Second {
		t.Fatalf("reset %v after a full burst, want about 60s", lim.ResetRequests)
	}
	// Another key has its own limits.
	if lim, err := a.Limiter("sk-sb-other", 60, 0).Admit(); err != nil || !lim.Allowed || lim.RemainingRequests != 59 {
		t.Fatalf("other key: %+v, %v; want allowed with 59 remaining", lim, err)
	}
}

// Tokens charged through one client close the key's TPM limit for both
// once they are a window in debt, and the charge is written within
// chargeEvery (polled, not timed).
func TestLimiterTokens(t *testing.T) {
	r := testenv.StartRedis(t)
	a, b := open(t, r.URL), open(t, r.URL)
	la, lb := a.Limiter("sk-sb-tpm", 0, 1000), b.Limiter("sk-sb-tpm", 0, 1000)
	lim, err := lb.Admit()
	if err != nil || !lim.Allowed || lim.RemainingTokens != 1000 {
		t.Fatalf("fresh key: %+v, %v; want allowed with 1000 tokens", lim, err)
	}
	la.Charge(1500)
	deadline := time.Now().Add(10 * time.Second)
	for {
		lim, err = lb.Admit()
		if err != nil {
			t.Fatal(err)
		}
		if !lim.Allowed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("1500 tokens on a 1000 TPM key never refused a call: %+v", lim)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if lim.RemainingTokens != 0 || lim.RetryAfter <= 0 || lim.RetryAfter > 30*time.Second {
		t.Fatalf("in debt: %+v, want 0 tokens left and a retry-after of up to 30s", lim)
	}
}

// A stopped Redis is an ErrDown at once, and the limiter works again once
// it is back.
func TestLimiterRedisDown(t *testing.T) {
	r := testenv.StartRedis(t)
	c := open(t, r.URL)
	l := c.Limiter("sk-sb-down", 10, 0)
	if _, err := l.Admit(); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	if _, err := l.Admit(); !errors.Is(err, ErrDown) {
		t.Fatalf("Admit with Redis stopped: %v, want ErrDown", err)
	}
	if _, err := l.Admit(); !errors.Is(err, ErrDown) {
		t.Fatalf("second Admit with Redis stopped: %v, want ErrDown (fail fast)", err)
	}
	r.Start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		lim, err := l.Admit()
		if err == nil {
			if !lim.Allowed || lim.RemainingRequests != 9 {
				t.Fatalf("after the restart (an empty Redis): %+v, want allowed, 9 left", lim)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("limiter still failing 20s after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A value put through one client is a hit through another, with its
// meta; a miss is a miss, an expired TTL too.
func TestCacheShared(t *testing.T) {
	r := testenv.StartRedis(t)
	a, b := open(t, r.URL), open(t, r.URL)
	key := [32]byte{1, 2, 3}
	val := bytes.Repeat([]byte(`{"answer":"forty-two"}`), 100)
	now := time.Now()
	if err := a.CachePut(store.CacheResponses, key, val, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	got, meta, ok, err := b.CacheGet(nil, store.CacheResponses, key, now.Add(time.Second))
	if err != nil || !ok || !bytes.Equal(got, val) {
		t.Fatalf("get through the other client: ok %v, err %v, %d bytes; want the %d put", ok, err, len(got), len(val))
	}
	if meta.RawSize != len(val) || meta.Size >= len(val) || !meta.Created.Equal(now.UTC().Truncate(0)) && meta.Created.UnixNano() != now.UnixNano() {
		t.Fatalf("meta %+v: want raw %d, compressed smaller, created %v", meta, len(val), now)
	}
	if _, _, ok, _ := b.CacheGet(nil, store.CacheWeb, key, now); ok {
		t.Fatal("the same key in another namespace is a hit")
	}
	if _, _, ok, _ := b.CacheGet(nil, store.CacheResponses, key, now.Add(2*time.Minute)); ok {
		t.Fatal("an entry past its TTL is a hit")
	}
	if st := b.CacheStats(store.CacheResponses); st.Hits != 1 || st.Misses != 1 {
		t.Fatalf("stats %+v, want 1 hit and 1 miss", st)
	}
	if ttl, err := r.Do("PTTL", cacheKey(store.CacheResponses, &key)); err != nil || ttl < ":59000" || ttl > ":60000" {
		t.Fatalf("PTTL of the entry: %q, %v; want about 60000 ms", ttl, err)
	}
}

// Over the limit, the entries that expire first go, and the total stays
// under the limit.
func TestCacheLimit(t *testing.T) {
	r := testenv.StartRedis(t)
	c := open(t, r.URL)
	val := noise(2000)
	if err := c.SetCacheLimit(20_000); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 30 {
		key := [32]byte{byte(i)}
		if err := c.CachePut(store.CacheResponses, key, val, time.Duration(i+1)*time.Minute, now); err != nil {
			t.Fatal(err)
		}
	}
	st := c.CacheStats(store.CacheAll)
	if st.Bytes > 20_000 || st.Entries == 0 || st.Evictions == 0 {
		t.Fatalf("after 30 puts of ~2 KB under a 20 KB limit: %+v", st)
	}
	if _, _, ok, _ := c.CacheGet(nil, store.CacheResponses, [32]byte{0}, now); ok {
		t.Fatal("the entry that expires first is still there")
	}
	if _, _, ok, _ := c.CacheGet(nil, store.CacheResponses, [32]byte{29}, now); !ok {
		t.Fatal("the entry that expires last is gone")
	}
	if err := c.CachePut(store.CacheResponses, [32]byte{99}, noise(30_000), time.Minute, now); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("an entry over the limit: %v, want ErrTooLarge", err)
	}
}

// noise is n bytes zstd cannot shrink (xorshift).
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// BenchmarkLimiterAdmit is one rate check's round trip to a real Redis on
// a unix socket, from parallel goroutines (auto-pipelined).
func BenchmarkLimiterAdmit(b *testing.B) {
	r := testenv.StartRedis(b)
	c := open(b, r.URL)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		l := c.Limiter(fmt.Sprintf("sk-sb-bench-%d", n.Add(1)), 1_000_000_000, 0)
		for pb.Next() {
			if _, err := l.Admit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCacheGet is one hit of a 4 KB answer from a real Redis.
func BenchmarkCacheGet(b *testing.B) {
	r := testenv.StartRedis(b)
	c := open(b, r.URL)
	val := bytes.Repeat([]byte(`{"role":"assistant","content":"hello"} `), 100)
	now := time.Now()
	if err := c.CachePut(store.CacheResponses, [32]byte{7}, val, time.Hour, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			v, _, ok, err := c.CacheGet(buf[:0], store.CacheResponses, [32]byte{7}, now)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
			buf = v
		}
	})
}
