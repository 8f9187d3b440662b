package router

import (
	"testing"
	"time"
)

func BenchmarkHealthAllowSuccess(b *testing.B) {
	h := newTestHealth(BreakerConfig{})
	now := t0
	h.Success(now, time.Millisecond) // start the window
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if h.Allow(now) {
				h.Success(now, 3*time.Millisecond)
			}
		}
	})
}

func BenchmarkHealthFailure(b *testing.B) {
	h := newTestHealth(BreakerConfig{Failures: 1 << 30, MinCalls: 1 << 30})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Failure(t0)
		}
	})
}
