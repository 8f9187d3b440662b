package upstream

import (
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
	"switchboard/configs"
)

// TestBurstLeavesAtMostMaxIdleConns: a burst of concurrent calls, buffered
// and streamed, dials a connection per call; as the calls end, all but
// max_idle_conns of them are closed, and those close after
// idle_conn_timeout. The mock counts the connections from its side.
func TestBurstLeavesAtMostMaxIdleConns(t *testing.T) {
	const burst, maxIdle = 40, 4
	for _, stream := range []bool{false, true} {
		m, err := mock.Start("127.0.0.1:0", mock.Options{Latency: 200 * time.Millisecond, Chunks: 4, ChunkDelay: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		p, err := New(configs.Provider{
			Name: "mock", BaseURL: m.URL() + "/v1", APIKey: "sk-upstream", MaxConns: 2 * burst,
			MaxIdleConns: maxIdle, IdleConnTimeout: configs.Duration(200 * time.Millisecond),
			Timeouts: configs.Timeouts{Connect: configs.Duration(5 * time.Second), FirstByte: configs.Duration(10 * time.Second),
				Idle: configs.Duration(10 * time.Second), Total: configs.Duration(20 * time.Second)},
		})
		if err != nil {
			t.Fatal(err)
		}

		var wg sync.WaitGroup
		errs := make(chan error, burst)
		for range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- streamOrCall(p, stream)
			}()
		}
		peak := 0
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-time.After(5 * time.Millisecond):
				peak = max(peak, p.client.ConnsCount())
			}
		}
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("stream=%v: %v", stream, err)
			}
		}
		if peak <= 2*maxIdle {
			t.Fatalf("stream=%v: the burst held only %d connections at once; the test needs many more than %d", stream, peak, maxIdle)
		}
		// At once: every call has released its connection.
		if idle, open := p.client.IdleConnsCount(), p.client.ConnsCount(); idle > maxIdle || open > maxIdle {
			t.Fatalf("stream=%v: after a burst of %d, %d connections open and %d idle; want at most max_idle_conns=%d", stream, peak, open, idle, maxIdle)
		}
		waitMockConns(t, m, maxIdle)
		// After idle_conn_timeout: none.
		waitMockConns(t, m, 0)
		if open := p.client.ConnsCount(); open != 0 {
			t.Fatalf("stream=%v: %d connections left in the pool after idle_conn_timeout", stream, open)
		}
		t.Logf("stream=%v: %d connections at the peak, %d left at once, 0 after idle_conn_timeout", stream, peak, maxIdle)
	}
}

// TestSteadyLoadUnderMaxIdleConnsReusesConnections: calls that come one
// after another keep reusing one connection; the bound closes nothing.
func TestSteadyLoadUnderMaxIdleConnsReusesConnections(t *testing.T) {
	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := New(configs.Provider{Name: "mock", BaseURL: m.URL() + "/v1", APIKey: "sk-upstream", MaxConns: 4, MaxIdleConns: 1,
		Timeouts: configs.Timeouts{Connect: configs.Duration(5 * time.Second), FirstByte: configs.Duration(10 * time.Second),
			Idle: configs.Duration(10 * time.Second), Total: configs.Duration(20 * time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := streamOrCall(p, i%2 == 1); err != nil {
			t.Fatal(err)
		}
		if open := m.OpenConns(); open != 1 {
			t.Fatalf("call %d: the mock has %d connections open, want the one reused", i, open)
		}
	}
}

// streamOrCall makes one chat call to p, streamed or buffered, and reads
// its answer to the end.
func streamOrCall(p *Provider, stream bool) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	if stream {
		body = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	}
	p.SetRequest(req, ChatCompletions, "", []byte(body))
	resp.StreamBody = stream
	if err := p.Do(req, resp); err != nil {
		return err
	}
	if st := resp.StatusCode(); st != fasthttp.StatusOK {
		b, _ := Body(resp)
		return fmt.Errorf("status %d: %s", st, b)
	}
	if !stream {
		_, err := Body(resp)
		return err
	}
	var s Stream
	if err := s.Open(p.Name, resp, 0); err != nil {
		return err
	}
	defer s.Close()
	_, err := io.Copy(io.Discard, &s)
	return err
}

// waitMockConns polls until m has at most want connections open.
func waitMockConns(t *testing.T, m *mock.Server, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for m.OpenConns() > want {
		if time.Now().After(deadline) {
			t.Fatalf("the mock still has %d connections open, want at most %d", m.OpenConns(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
