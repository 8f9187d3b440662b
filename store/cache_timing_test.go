package store

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchCacheKey is key i of a benchmark: no hashing in the timed loop.
func benchCacheKey(i uint64) [32]byte {
	var k [32]byte
	binary.LittleEndian.PutUint64(k[:], i)
	binary.LittleEndian.PutUint64(k[24:], ^i)
	return k
}

// BenchmarkCacheGet is a hit as the handler sees it: a ~4 KB JSON answer
// read and decompressed into the caller's buffer.
func BenchmarkCacheGet(b *testing.B) {
	s, _ := openTest(b)
	const keys = 1024
	v := chatAnswer(1, 4096)
	for i := range uint64(keys) {
		if err := s.CachePut(CacheResponses, benchCacheKey(i), v, time.Hour, t0); err != nil {
			b.Fatal(err)
		}
	}
	_, meta, _, _ := s.CacheGet(nil, CacheResponses, benchCacheKey(0), t0)
	var next atomic.Uint64
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 8<<10)
		for pb.Next() {
			got, _, ok, err := s.CacheGet(buf[:0], CacheResponses, benchCacheKey(next.Add(1)%keys), t0)
			if err != nil || !ok || len(got) != len(v) {
				b.Errorf("hit: ok %v, err %v, %d bytes", ok, err, len(got))
				return
			}
		}
	})
	b.ReportMetric(float64(meta.Size), "stored-B")
}

// BenchmarkCachePut stores ~4 KB JSON answers under new keys: compression,
// the old-entry read and a NoSync commit; at-limit also evicts, as a full
// cache does on every put.
func BenchmarkCachePut(b *testing.B) {
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("at-limit=%v", full), func(b *testing.B) {
			s, _ := openTest(b)
			if full {
				if err := s.SetCacheLimit(1 << 20); err != nil {
					b.Fatal(err)
				}
			} else if err := s.SetCacheLimit(1 << 40); err != nil {
				b.Fatal(err)
			}
			vals := make([][]byte, 16)
			for i := range vals {
				vals[i] = chatAnswer(uint64(i), 4096)
			}
			var next atomic.Uint64
			b.SetBytes(int64(len(vals[0])))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					if err := s.CachePut(CacheResponses, benchCacheKey(i), vals[i%16], time.Hour, t0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if st := s.CacheStats(CacheAll); full && b.N > 1000 && st.Evictions == 0 {
				b.Fatalf("stats %+v: nothing evicted at the limit", st)
			}
		})
	}
}

// TestCacheGetAllocationBudget: a hit into a buffer large enough allocates
// nothing; a miss allocates nothing.
func TestCacheGetAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race; make test checks the budget in its non-race run")
	}
	s, _ := openTest(t)
	v := chatAnswer(1, 4096)
	mustCachePut(t, s, CacheResponses, "q", v, time.Hour, t0)
	key, missing := cacheKeyOf("q"), cacheKeyOf("missing")
	buf := make([]byte, 0, 8<<10)
	allocs := testing.AllocsPerRun(300, func() {
		got, _, ok, err := s.CacheGet(buf[:0], CacheResponses, key, t0)
		if err != nil || !ok || len(got) != len(v) {
			t.Fatalf("hit: ok %v, err %v", ok, err)
		}
		if _, _, ok, _ := s.CacheGet(buf[:0], CacheResponses, missing, t0); ok {
			t.Fatal("hit on a missing key")
		}
	})
	if allocs > 0 {
		t.Fatalf("CacheGet hit+miss allocate %.1f times, budget 0", allocs)
	}
}
