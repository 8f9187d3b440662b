package router

import (
	"testing"
	"time"
)

func TestFirstByteBucketsCoverTheirSamples(t *testing.T) {
	prev := uint64(0)
	for i := 0; i < firstByteBuckets-1; i++ {
		up := firstByteUpper(i)
		if i > 0 && up <= prev {
			t.Fatalf("bucket %d ends at %d, not after bucket %d's %d", i, up, i-1, prev)
		}
		for _, us := range []uint64{prev + 1, up} {
			if i == 0 {
				us = 0
			}
			if got := firstByteBucket(us); got != i {
				t.Fatalf("%d µs: bucket %d, want %d (upper %d)", us, got, i, up)
			}
		}
		prev = up
	}
	if got := firstByteBucket(1 << 62); got != firstByteBuckets-1 {
		t.Fatalf("a huge sample: bucket %d", got)
	}
}

func TestFirstByteQuantile(t *testing.T) {
	var h FirstByteHistogram
	if _, ok := h.Quantile(0.95, 1); ok {
		t.Fatal("a quantile of no samples")
	}
	for i := 0; i < 19; i++ {
		h.Observe(10 * time.Millisecond)
	}
	if _, ok := h.Quantile(0.95, 20); ok {
		t.Fatal("19 samples passed a minimum of 20")
	}
	h.Observe(10 * time.Millisecond)
	for i := 0; i < 80; i++ { // 100 samples: 95 at 10ms, 5 at 300ms
		d := 10 * time.Millisecond
		if i >= 75 {
			d = 300 * time.Millisecond
		}
		h.Observe(d)
	}
	p95, ok := h.Quantile(0.95, 20)
	if !ok || p95 < 10*time.Millisecond || p95 > 12*time.Millisecond {
		t.Fatalf("p95 %v %v, want the bucket of 10ms", p95, ok)
	}
	p99, _ := h.Quantile(0.99, 20)
	if p99 < 300*time.Millisecond || p99 > 360*time.Millisecond {
		t.Fatalf("p99 %v, want the bucket of 300ms", p99)
	}
}

// TestFirstByteHistogramForgets: after halfLife samples the old ones
// weigh half, so a target that got slower moves its quantile.
func TestFirstByteHistogramForgets(t *testing.T) {
	var h FirstByteHistogram
	for i := 0; i < halfLife-1; i++ {
		h.Observe(time.Millisecond)
	}
	for i := 0; i < 3*halfLife; i++ {
		h.Observe(100 * time.Millisecond)
	}
	if p50, _ := h.Quantile(0.5, 1); p50 < 100*time.Millisecond {
		t.Fatalf("p50 %v still the old latency", p50)
	}
}

func TestHealthFirstByteIsPerKind(t *testing.T) {
	h := newHealth(&BreakerConfig{})
	if _, ok := h.FirstByteQuantile(true, 0.95, 1); ok {
		t.Fatal("a quantile before any sample")
	}
	h.ObserveFirstByte(true, time.Millisecond)
	if _, ok := h.FirstByteQuantile(false, 0.95, 1); ok {
		t.Fatal("a streamed sample counted for buffered answers")
	}
	if d, ok := h.FirstByteQuantile(true, 0.95, 1); !ok || d < time.Millisecond {
		t.Fatalf("streamed p95 %v %v", d, ok)
	}
	var nobody *Health
	nobody.ObserveFirstByte(true, time.Second)
	if _, ok := nobody.FirstByteQuantile(true, 0.95, 0); ok {
		t.Fatal("an untracked target has a quantile")
	}
}

func BenchmarkFirstByteObserve(b *testing.B) {
	h := newHealth(&BreakerConfig{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.ObserveFirstByte(true, 1500*time.Microsecond)
		}
	})
}

func BenchmarkFirstByteQuantile(b *testing.B) {
	h := newHealth(&BreakerConfig{})
	for i := 0; i < 100; i++ {
		h.ObserveFirstByte(false, time.Duration(i)*time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.FirstByteQuantile(false, 0.95, 20)
	}
}
