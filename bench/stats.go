package main

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms hold nanoseconds from 64 ns (the lowest discernible value)
// to maxRecorded, at 3 significant digits: 0.1% resolution, about 170 KiB
// each.
const (
	histLowest  = 64
	maxRecorded = 100 * time.Second
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, int64(maxRecorded), 3)
}

// record adds d to h, clamped to the histogram's range.
func record(h *hdrhistogram.Histogram, d time.Duration) {
	_ = h.RecordValue(int64(min(max(d, 0), maxRecorded)))
}

// Percentiles are latencies in microseconds.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
}

// percentiles reads the reported percentiles of a nanosecond histogram.
func percentiles(h *hdrhistogram.Histogram) Percentiles {
	us := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	return Percentiles{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9)}
}

// minus returns the latency p adds over base at each percentile: the
// difference of the percentiles, not a percentile of differences, since
// the two were measured on different requests.
func (p Percentiles) minus(base Percentiles) Percentiles {
	return Percentiles{
		P50:  p.P50 - base.P50,
		P90:  p.P90 - base.P90,
		P99:  p.P99 - base.P99,
		P999: p.P999 - base.P999,
	}
}

// perRequest divides the CPU ticks spent over n requests, in microseconds;
// ok is false when there is nothing to divide.
func perRequest(ticks, n int64) (us float64, ok bool) {
	if n <= 0 || ticks < 0 {
		return 0, false
	}
	return float64(ticks) * float64(clockTick/time.Microsecond) / float64(n), true
}

// rate returns n events over d per second; 0 for an empty d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
