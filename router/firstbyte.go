package router

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// FirstByteHistogram counts a target's times to first byte, for the p95
// a hedged route waits before it starts its next target (see
// proxy/hedge.go). It is lock-free and does not allocate: a sample is two
// atomic adds.
//
// Buckets are log-linear over microseconds, four per power of two (at
// most 19% wide), from 1 µs to about 71 minutes; a quantile is read as
// its bucket's upper bound, so a hedge waits at most a bucket longer than
// the exact quantile, never shorter. The histogram forgets slowly: once
// halfLife samples came in since the last halving, every bucket is
// halved, so the quantile follows a target whose latency changes, within
// a few thousand calls, while a burst of outliers moves it little.
//
// Rejected alternatives: a moving average (Health.Latency) says nothing
// about the tail; a sorted window of the last N samples needs a lock and
// a copy per read; an HDR histogram of full precision costs kilobytes per
// target for a precision a hedge delay does not need.
type FirstByteHistogram struct {
	buckets [firstByteBuckets]atomic.Uint64
	since   atomic.Int64 // samples since the last halving
}

const (
	firstByteBuckets = 128
	halfLife         = 1024
)

// firstByteBucket is the bucket of a sample of us microseconds.
func firstByteBucket(us uint64) int {
	if us < 4 {
		return int(us)
	}
	exp := bits.Len64(us) - 1 // >= 2
	i := 4*(exp-1) + int(us>>(exp-2)&3)
	return min(i, firstByteBuckets-1)
}

// firstByteUpper is the largest sample, in microseconds, of bucket i.
func firstByteUpper(i int) uint64 {
	if i < 4 {
		return uint64(i)
	}
	exp := i/4 + 1
	sub := uint64(i % 4)
	return (4+sub+1)<<(exp-2) - 1
}

// Observe adds a sample.
func (h *FirstByteHistogram) Observe(d time.Duration) {
	us := uint64(max(d.Microseconds(), 0))
	h.buckets[firstByteBucket(us)].Add(1)
	if h.since.Add(1) == halfLife {
		h.since.Store(0)
		for i := range h.buckets {
			b := &h.buckets[i]
			for {
				v := b.Load()
				if v == 0 || b.CompareAndSwap(v, v/2) {
					break
				}
			}
		}
	}
}

// Quantile returns the q quantile (0 < q < 1) of the samples, as its
// bucket's upper bound, and whether there were at least min samples.
func (h *FirstByteHistogram) Quantile(q float64, min uint64) (time.Duration, bool) {
	var counts [firstByteBuckets]uint64
	var n uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		n += counts[i]
	}
	if n == 0 || n < min {
		return 0, false
	}
	rank := uint64(q*float64(n-1)) + 1 // samples at or below the quantile
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			return time.Duration(firstByteUpper(i)) * time.Microsecond, true
		}
	}
	return time.Duration(firstByteUpper(firstByteBuckets-1)) * time.Microsecond, true
}
