package mock_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// randomOutcome sends one non-streamed chat request with a client that
// never retries and names what came back: "ok", "500" or "reset" (no
// answer), and how long it took.
func randomOutcome(t *testing.T, c *fasthttp.HostClient, s *mock.Server, model, header string) (string, time.Duration) {
	t.Helper()
	req, resp := newRequest(s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"`+model+`"}`, "x-mock", header)
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	start := time.Now()
	err := c.DoTimeout(req, resp, 10*time.Second)
	d := time.Since(start)
	switch {
	case err != nil:
		return "reset", d
	case resp.StatusCode() == fasthttp.StatusOK:
		return "ok", d
	case resp.StatusCode() == fasthttp.StatusInternalServerError && strings.Contains(string(resp.Body()), "injected random failure"):
		return "500", d
	}
	t.Fatalf("model %q: status %d: %s", model, resp.StatusCode(), resp.Body())
	return "", d
}

func noRetryClient(s *mock.Server) *fasthttp.HostClient {
	return &fasthttp.HostClient{Addr: s.Addr(), MaxIdemponentCallAttempts: 1, ReadTimeout: 10 * time.Second}
}

func TestRandomFaultRates(t *testing.T) {
	s := startMock(t, mock.Options{Seed: 7})
	c := noRetryClient(s)
	defer c.CloseIdleConnections()
	const n, stall = 2000, 2 * time.Millisecond
	got := map[string]int{}
	slow := 0
	for i := range n {
		// Half the requests ask in the model, half in the header.
		model, header := "mock-model+fail=0.2+resetp=0.05+stallp=0.05+stall=2ms", ""
		if i%2 == 1 {
			model, header = "mock-model", "fail=0.2,resetp=0.05,stallp=0.05,stall=2ms"
		}
		o, d := randomOutcome(t, c, s, model, header)
		got[o]++
		if o == "ok" && d >= stall {
			slow++
		}
	}
	in := s.Injected()
	if in.Draws != n || int(in.Fails) != got["500"] || int(in.Resets) != got["reset"] || got["ok"] != n-got["500"]-got["reset"] {
		t.Fatalf("outcomes %v, injected %+v", got, in)
	}
	// Every stalled answer took the stall; a few others may have too.
	if slow < int(in.Stalls) {
		t.Fatalf("%d answers took %s or more, but %d were stalled", slow, stall, in.Stalls)
	}
	near := func(what string, count int64, p float64) {
		t.Helper()
		mean, sd := p*n, math.Sqrt(n*p*(1-p))
		if math.Abs(float64(count)-mean) > 5*sd {
			t.Errorf("%s: %d of %d, want %.0f ± %.0f", what, count, n, mean, 5*sd)
		}
	}
	near("500s", in.Fails, 0.2)
	near("resets", in.Resets, 0.05)
	near("stalls", in.Stalls, 0.05)
	waitOpenConns(t, s, 1) // the client's one idle connection
}

func TestRandomFaultsAreReproducible(t *testing.T) {
	sequence := func(seed uint64) string {
		s := startMock(t, mock.Options{Seed: seed})
		c := noRetryClient(s)
		defer c.CloseIdleConnections()
		var b strings.Builder
		for range 200 {
			o, _ := randomOutcome(t, c, s, "mock-model+fail=0.3+resetp=0.2", "")
			b.WriteString(o[:1])
		}
		// Requests without random faults do not draw.
		randomOutcome(t, c, s, "mock-model+stall=1s", "")
		if in := s.Injected(); in.Draws != 200 {
			t.Fatalf("seed %d: %d draws, want 200", seed, in.Draws)
		}
		return b.String()
	}
	a, b, other := sequence(42), sequence(42), sequence(43)
	if a != b {
		t.Fatalf("seed 42 drew\n%s\nthen\n%s", a, b)
	}
	if a == other {
		t.Fatalf("seeds 42 and 43 drew the same faults: %s", a)
	}
	if !strings.Contains(a, "o") || !strings.Contains(a, "5") || !strings.Contains(a, "r") {
		t.Fatalf("seed 42 drew %s, want every outcome", a)
	}
}

func TestStallDirective(t *testing.T) {
	s := startMock(t, mock.Options{})
	c := noRetryClient(s)
	defer c.CloseIdleConnections()
	o, d := randomOutcome(t, c, s, "mock-model+stallp=1+stall=80ms+delay=20ms", "")
	if o != "ok" || d < 100*time.Millisecond {
		t.Fatalf("stallp=1: %s after %s, want an answer after 100ms (stall and delay)", o, d)
	}
	// stallp=0 asks for no draw.
	if o, d := randomOutcome(t, c, s, "mock-model", "stallp=0,stall=10m"); o != "ok" || d > 5*time.Second {
		t.Fatalf("stallp=0: %s after %s", o, d)
	}
	// A streamed request resets before its headers.
	st, err := func() (int, error) {
		req, resp := newRequest(s, fasthttp.MethodPost, "/v1/chat/completions", streamBody("mock-model+resetp=1", true))
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		sc := &fasthttp.HostClient{Addr: s.Addr(), StreamResponseBody: true, MaxIdemponentCallAttempts: 1}
		defer sc.CloseIdleConnections()
		err := sc.DoTimeout(req, resp, 5*time.Second)
		return resp.StatusCode(), err
	}()
	if err == nil {
		t.Fatalf("streamed resetp=1: status %d, want a reset before the headers", st)
	}
	if in := s.Injected(); in.Draws != 2 || in.Stalls != 1 || in.Resets != 1 {
		t.Fatalf("injected %+v", in)
	}
}

func TestCloseEndsADefaultStall(t *testing.T) {
	s, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := noRetryClient(s)
	type result struct {
		outcome string
		d       time.Duration
	}
	done := make(chan result, 1)
	go func() {
		req, resp := newRequest(s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"mock-model+stallp=1"}`)
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		start := time.Now()
		o := "ok"
		if err := c.DoTimeout(req, resp, 20*time.Second); err != nil {
			o = "error"
		} else if resp.StatusCode() != fasthttp.StatusOK {
			o = "status"
		}
		done <- result{o, time.Since(start)}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.Injected().Stalls == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.outcome == "ok" || r.d > 10*time.Second {
			t.Fatalf("stalled request: %s after %s, want a failure once Close ran", r.outcome, r.d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a 30s stall outlived Close by 10s")
	}
}
