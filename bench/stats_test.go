package main

import (
	"testing"
	"time"
)

func TestPercentilesOfKnownDistribution(t *testing.T) {
	h := newHist()
	// 1..1000 µs, one of each: percentile q is about q*10 µs.
	for i := 1; i <= 1000; i++ {
		record(h, time.Duration(i)*time.Microsecond)
	}
	p := percentiles(h)
	f := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.999 || got > want*1.001+0.001 { // HDR keeps 3 significant digits
			t.Errorf("%s = %.3f µs, want %.3f", name, got, want)
		}
	}
	f("p50", p.P50, 500)
	f("p90", p.P90, 900)
	f("p99", p.P99, 990)
	f("p99.9", p.P999, 999)
}

func TestRecordClampsToRange(t *testing.T) {
	h := newHist()
	record(h, -time.Second)
	record(h, 10*maxRecorded)
	if h.TotalCount() != 2 {
		t.Fatalf("recorded %d values, want 2 (clamped, not dropped)", h.TotalCount())
	}
	if got := percentiles(h).P999; got < float64(maxRecorded/time.Microsecond)*0.999 {
		t.Fatalf("top value %.0f µs, want about %d", got, maxRecorded/time.Microsecond)
	}
}

func TestAddedLatencyIsDifferenceOfPercentiles(t *testing.T) {
	target := Percentiles{P50: 200, P90: 260, P99: 400, P999: 900}
	floor := Percentiles{P50: 180, P90: 250, P99: 420, P999: 700}
	got := target.minus(floor)
	want := Percentiles{P50: 20, P90: 10, P99: -20, P999: 200}
	if got != want {
		t.Fatalf("minus = %+v, want %+v", got, want)
	}
}

func TestPerRequestAndRate(t *testing.T) {
	// 3 ticks of 10 ms over 1000 requests: 30 µs each.
	if us, ok := perRequest(3, 1000); !ok || us != 30 {
		t.Fatalf("perRequest(3, 1000) = %v, %v; want 30", us, ok)
	}
	if _, ok := perRequest(3, 0); ok {
		t.Fatal("perRequest over no requests reported a value")
	}
	if got := rate(500, 250*time.Millisecond); got != 2000 {
		t.Fatalf("rate = %v, want 2000", got)
	}
	if got := rate(5, 0); got != 0 {
		t.Fatalf("rate over no time = %v, want 0", got)
	}
}
