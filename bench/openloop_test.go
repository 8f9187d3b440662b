package main

import (
	"testing"
	"time"
)

func TestSendTimeSchedule(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := func(rate, k int, want time.Duration) {
		t.Helper()
		if got := sendTime(start, rate, k).Sub(start); got != want {
			t.Fatalf("sendTime(rate %d, k %d) = +%s, want +%s", rate, k, got, want)
		}
	}
	f(1000, 0, 0)
	f(1000, 1, time.Millisecond)
	f(5000, 3, 600*time.Microsecond)
	f(3, 1, 333333333)           // rounded down to the ns...
	f(3, 3, time.Second)         // ...without drift
	f(7, 7000, 1000*time.Second) // exact after many periods
}

func TestSendTimesAreEvenAndOrdered(t *testing.T) {
	start := time.Unix(0, 0)
	for _, rate := range []int{1, 999, 1000, 4999, 10000} {
		n := windowRequests(rate, 500*time.Millisecond)
		period := time.Second / time.Duration(rate)
		prev := sendTime(start, rate, 0)
		for k := 1; k < n; k++ {
			at := sendTime(start, rate, k)
			if gap := at.Sub(prev); gap < period || gap > period+1 {
				t.Fatalf("rate %d: gap before request %d is %s, want %s (+1ns)", rate, k, gap, period)
			}
			prev = at
		}
		if last := prev.Sub(start); last >= 500*time.Millisecond {
			t.Fatalf("rate %d: last request at +%s, past the 500ms window", rate, last)
		}
	}
}

func TestWindowRequests(t *testing.T) {
	f := func(rate int, w time.Duration, want int) {
		t.Helper()
		if got := windowRequests(rate, w); got != want {
			t.Fatalf("windowRequests(%d, %s) = %d, want %d", rate, w, got, want)
		}
	}
	f(1000, 500*time.Millisecond, 500)
	f(5000, 200*time.Millisecond, 1000)
	f(1, 100*time.Millisecond, 1) // never an empty window
}

func TestRounds(t *testing.T) {
	f := func(total, window time.Duration, targets, want int) {
		t.Helper()
		if got := rounds(total, window, targets); got != want {
			t.Fatalf("rounds(%s, %s, %d) = %d, want %d", total, window, targets, got, want)
		}
	}
	f(15*time.Second, 200*time.Millisecond, 3, 25)
	f(10*time.Second, 500*time.Millisecond, 4, 5)
	f(time.Millisecond, time.Second, 3, 1)
}
