package router

import (
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestHealth(c BreakerConfig) *Health {
	c = c.withDefaults()
	return newHealth(&c)
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func wantState(t *testing.T, h *Health, want BreakerState) {
	t.Helper()
	if got := h.State(); got != want {
		t.Fatalf("state %v, want %v", got, want)
	}
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	h := newTestHealth(BreakerConfig{})
	for i := range 4 {
		h.Failure(at(time.Duration(i) * time.Second))
	}
	wantState(t, h, BreakerClosed)
	h.Success(at(4*time.Second), time.Millisecond) // resets the run
	for i := range 4 {
		h.Failure(at(time.Duration(5+i) * time.Second))
	}
	wantState(t, h, BreakerClosed)
	h.Failure(at(9 * time.Second))
	wantState(t, h, BreakerOpen)
	if h.Allow(at(10*time.Second)) || h.Ready(at(10*time.Second)) {
		t.Fatal("open breaker allows a call during its cool-down")
	}
}

func TestBreakerOpensOnErrorRate(t *testing.T) {
	h := newTestHealth(BreakerConfig{})
	// Alternating results never make 5 failures in a row.
	for i := range 19 {
		now := at(time.Duration(i) * time.Second)
		if i%2 == 1 {
			h.Failure(now)
		} else {
			h.Success(now, time.Millisecond)
		}
	}
	wantState(t, h, BreakerClosed)
	h.Success(at(19*time.Second), time.Millisecond) // 9 failures of 20: 45%
	wantState(t, h, BreakerClosed)
	h.Failure(at(20 * time.Second)) // 10 of 21: 47.6%
	wantState(t, h, BreakerClosed)
	h.Failure(at(21 * time.Second)) // 11 of 22: 50%
	wantState(t, h, BreakerOpen)
}

func TestBreakerWindowForgetsOldFailures(t *testing.T) {
	h := newTestHealth(BreakerConfig{})
	// 40% failures per 30s window, spread over 5 minutes, never opens.
	for i := range 300 {
		now := at(time.Duration(i) * time.Second)
		if i%5 < 2 {
			h.Failure(now)
		} else {
			h.Success(now, time.Millisecond)
		}
		wantState(t, h, BreakerClosed)
	}
	// 20 failures (and no successes) open the breaker within one window,
	// but not spread over two.
	within, across := newTestHealth(BreakerConfig{Failures: 100}), newTestHealth(BreakerConfig{Failures: 100})
	for i := range 20 {
		within.Failure(at(time.Duration(i) * time.Second))
		across.Failure(at(time.Duration(i) * 2 * time.Second)) // 15 calls, then 5 in the next window
	}
	wantState(t, within, BreakerOpen)
	wantState(t, across, BreakerClosed)
}

func TestBreakerHalfOpenLetsOneProbeThrough(t *testing.T) {
	h := newTestHealth(BreakerConfig{Failures: 1})
	h.Failure(t0)
	wantState(t, h, BreakerOpen)
	if h.Allow(at(29 * time.Second)) {
		t.Fatal("allowed before the 30s cool-down ended")
	}
	if !h.Ready(at(30*time.Second)) || !h.Allow(at(30*time.Second)) {
		t.Fatal("no probe after the cool-down")
	}
	wantState(t, h, BreakerHalfOpen)
	if h.Allow(at(31*time.Second)) || h.Ready(at(31*time.Second)) {
		t.Fatal("a second probe while the first is out")
	}
	h.Success(at(32*time.Second), 2*time.Second)
	wantState(t, h, BreakerClosed)
	if !h.Allow(at(32 * time.Second)) {
		t.Fatal("closed breaker refuses")
	}
}

func TestBreakerFailedProbeDoublesCooldown(t *testing.T) {
	h := newTestHealth(BreakerConfig{Failures: 1})
	h.Failure(t0)
	now := t0
	for _, cooldown := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		if h.Allow(now.Add(cooldown - 1)) {
			t.Fatalf("probe before the %v cool-down ended", cooldown)
		}
		now = now.Add(cooldown)
		if !h.Allow(now) {
			t.Fatalf("no probe after the %v cool-down", cooldown)
		}
		h.Failure(now)
		wantState(t, h, BreakerOpen)
	}
	// A successful probe starts the cool-down over.
	now = now.Add(5 * time.Minute)
	if !h.Allow(now) {
		t.Fatal("no probe")
	}
	h.Success(now, time.Millisecond)
	h.Failure(now)
	if !h.Allow(now.Add(30 * time.Second)) {
		t.Fatal("cool-down did not start over at 30s after recovery")
	}
}

func TestBreakerLostProbeIsReplaced(t *testing.T) {
	h := newTestHealth(BreakerConfig{Failures: 1})
	h.Failure(t0)
	if !h.Allow(at(30 * time.Second)) {
		t.Fatal("no probe")
	}
	// The probe never reports. After one more cool-down another is allowed.
	if h.Allow(at(59 * time.Second)) {
		t.Fatal("second probe before the lease ended")
	}
	if !h.Allow(at(60 * time.Second)) {
		t.Fatal("lost probe never replaced")
	}
	// Cancel gives a probe back at once.
	h.Cancel(at(61 * time.Second))
	if !h.Allow(at(61 * time.Second)) {
		t.Fatal("cancelled probe not handed out again")
	}
	wantState(t, h, BreakerHalfOpen)
}

func TestBreakerIgnoresFailuresWhileOpen(t *testing.T) {
	h := newTestHealth(BreakerConfig{Failures: 1})
	h.Failure(t0)
	h.Failure(at(10 * time.Second)) // a straggler, or a last-resort call
	if !h.Allow(at(30 * time.Second)) {
		t.Fatal("failure while open extended the cool-down")
	}
}

func TestBreakerSuccessWhileOpenCloses(t *testing.T) {
	h := newTestHealth(BreakerConfig{Failures: 1})
	h.Failure(t0)
	h.Success(at(time.Second), time.Millisecond) // a last-resort call worked
	wantState(t, h, BreakerClosed)
}

func TestBreakerPause(t *testing.T) {
	h := newTestHealth(BreakerConfig{})
	h.Pause(t0, at(20*time.Second)) // retry-after: 20
	wantState(t, h, BreakerOpen)
	if h.Allow(at(19*time.Second)) || !h.Allow(at(20*time.Second)) {
		t.Fatal("pause does not last exactly 20s")
	}
	h.Success(at(21*time.Second), time.Millisecond)
	h.Pause(at(21*time.Second), at(21*time.Second+time.Hour)) // capped at 5m
	if !h.Allow(at(21*time.Second + 5*time.Minute)) {
		t.Fatal("pause not capped at MaxCooldown")
	}
	h.Success(at(6*time.Minute), time.Millisecond)
	// Pauses do not grow the cool-down: the next opening lasts 30s.
	for range 5 {
		h.Failure(at(22 * time.Minute))
	}
	wantState(t, h, BreakerOpen)
	if h.Allow(at(22*time.Minute+29*time.Second)) || !h.Allow(at(22*time.Minute+30*time.Second)) {
		t.Fatal("pause grew the cool-down")
	}
}

func TestHealthLatencyAverage(t *testing.T) {
	h := newTestHealth(BreakerConfig{})
	if h.Latency() != 0 {
		t.Fatal("latency before any sample")
	}
	h.Success(t0, 100*time.Millisecond)
	if got := h.Latency(); got != 100*time.Millisecond {
		t.Fatalf("first sample: %v", got)
	}
	h.Success(t0, 600*time.Millisecond)
	if got := h.Latency(); got != 200*time.Millisecond {
		t.Fatalf("after 100ms, 600ms: %v, want 200ms (weight 1/5)", got)
	}
	for range 50 {
		h.Success(t0, time.Second)
	}
	if got := h.Latency(); got < 990*time.Millisecond || got > time.Second {
		t.Fatalf("after 50 samples of 1s: %v", got)
	}
	h.RecordThroughput(100, time.Second)
	h.RecordThroughput(600, 2*time.Second) // 300/s
	if got := h.Throughput(); got != 140 {
		t.Fatalf("throughput %v, want 140 tokens/s", got)
	}
}

func TestNilHealth(t *testing.T) {
	var h *Health
	h.Success(t0, time.Second)
	h.Failure(t0)
	h.Cancel(t0)
	h.Pause(t0, at(time.Minute))
	h.RecordThroughput(1, time.Second)
	if !h.Allow(t0) || !h.Ready(t0) || h.State() != BreakerClosed || h.Latency() != 0 || h.Throughput() != 0 {
		t.Fatal("nil Health is not an always-closed breaker without samples")
	}
}

func TestHealthConcurrentUse(t *testing.T) {
	h := newTestHealth(BreakerConfig{Failures: 3, Cooldown: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				now := at(time.Duration(i) * time.Millisecond)
				if h.Allow(now) {
					if (i+g)%3 == 0 {
						h.Failure(now)
					} else {
						h.Success(now, time.Duration(i)*time.Microsecond)
					}
				}
				h.Ready(now)
				h.RecordThroughput(i+1, time.Second)
			}
		})
	}
	wg.Wait()
	if h.Latency() <= 0 || h.Throughput() <= 0 {
		t.Fatalf("averages lost: latency %v throughput %v", h.Latency(), h.Throughput())
	}
}

func TestBreakerStateString(t *testing.T) {
	for s, want := range map[BreakerState]string{BreakerClosed: "closed", BreakerOpen: "open", BreakerHalfOpen: "half-open", 9: "unknown"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}
