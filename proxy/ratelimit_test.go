package proxy

import (
	"testing"
	"time"
)

func TestGCRABurstThenSteadyRate(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	g := newGCRA(60) // one per second, burst 60
	for i := 0; i < 60; i++ {
		if !g.allow(t0, 1) {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	if g.allow(t0, 1) {
		t.Fatal("61st request in the same instant allowed")
	}
	if g.remaining(t0) != 0 {
		t.Fatalf("remaining = %d, want 0", g.remaining(t0))
	}
	if got := g.retryIn(t0); got != time.Second {
		t.Fatalf("retryIn = %v, want 1s", got)
	}
	if g.allow(t0.Add(999*time.Millisecond), 1) {
		t.Fatal("allowed before the next slot")
	}
	if !g.allow(t0.Add(time.Second), 1) {
		t.Fatal("refused at the next slot")
	}
	if got := g.resetIn(t0.Add(time.Second)); got != 60*time.Second {
		t.Fatalf("resetIn = %v, want 60s", got)
	}
	if got := g.remaining(t0.Add(61 * time.Second)); got != 60 {
		t.Fatalf("after a full window remaining = %d, want 60", got)
	}
}

func TestGCRATokenDebt(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	g := newGCRA(6000) // 100 tokens a second
	if !g.open(t0) {
		t.Fatal("fresh limiter closed")
	}
	g.charge(t0, 9000) // one call overran the per-minute budget by half
	if g.open(t0) {
		t.Fatal("open while 30s in debt")
	}
	if g.open(t0.Add(29 * time.Second)) {
		t.Fatal("open before the debt is paid")
	}
	if !g.open(t0.Add(31 * time.Second)) {
		t.Fatal("still closed after the debt is paid")
	}
}

func TestUnlimited(t *testing.T) {
	kl := newKeyLimits(0, 0)
	now := time.Now()
	for i := 0; i < 1000; i++ {
		if _, ok, _ := kl.admit(now); !ok {
			t.Fatal("unlimited key refused")
		}
		kl.chargeTokens(now, 1e6)
	}
}

func TestAdmitRetryAfter(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	kl := newKeyLimits(2, 1000)
	kl.admit(t0)
	kl.admit(t0)
	st, ok, _ := kl.admit(t0)
	if ok || st.retryAfter != 30*time.Second || st.remainingRequests != 0 || st.limitRequests != 2 {
		t.Fatalf("third request: ok=%v %+v", ok, st)
	}
	kl2 := newKeyLimits(100, 1000)
	kl2.chargeTokens(t0, 1500)
	st, ok, _ = kl2.admit(t0)
	if ok || st.retryAfter != 30*time.Second {
		t.Fatalf("token debt: ok=%v retryAfter=%v", ok, st.retryAfter)
	}
}

func TestHugeLimitIsClampedNotADivisionByZero(t *testing.T) {
	kl := newKeyLimits(1<<62, 1<<62)
	now := time.Unix(0, 0)
	st, ok, _ := kl.admit(now)
	if !ok || st.remainingRequests <= 0 || st.remainingTokens <= 0 {
		t.Fatalf("admit %v: %+v", ok, st)
	}
}
