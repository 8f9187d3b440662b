package upstream

import (
	"bufio"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
)

// rawServer is a loopback HTTP server whose connections do what answer
// says for each request they read: answer it (and keep the connection or
// close it), or reset the connection without answering.
type rawServer struct {
	addr     string
	requests atomic.Int32
}

type rawAction int

const (
	answerKeep  rawAction = iota // answer, keep the connection open
	answerClose                  // answer, then close the connection while idle
	reset                        // reset the connection without answering
)

func startRawServer(t *testing.T, answer func(n int32) rawAction) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	s := &rawServer{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c.(*net.TCPConn), answer)
		}
	}()
	return s
}

func (s *rawServer) serve(c *net.TCPConn, answer func(int32) rawAction) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = br.Discard(int(req.ContentLength))
		switch answer(s.requests.Add(1)) {
		case reset:
			_ = c.SetLinger(0)
			return
		case answerClose:
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
			time.Sleep(20 * time.Millisecond) // idle, then closed under the client
			return
		default:
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
		}
	}
}

func testProvider(t *testing.T, addr string) *Provider {
	t.Helper()
	p, err := New(configs.Provider{
		Name: "raw", BaseURL: "http://" + addr + "/v1", MaxConns: 4,
		Timeouts: configs.Timeouts{Connect: configs.Duration(time.Second), FirstByte: configs.Duration(2 * time.Second),
			Idle: configs.Duration(2 * time.Second), Total: configs.Duration(5 * time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func call(p *Provider) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	p.SetRequest(req, ChatCompletions, "", []byte(`{"model":"m"}`))
	return p.Do(req, resp)
}

// TestStaleConnIsRetriedOnce: a pooled connection the provider closed
// while idle is retried on a new one, transparently.
func TestStaleConnIsRetriedOnce(t *testing.T) {
	s := startRawServer(t, func(int32) rawAction { return answerClose })
	p := testProvider(t, s.addr)
	if err := call(p); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the server has closed the pooled connection
	if err := call(p); err != nil {
		t.Fatalf("a stale pooled connection was not retried: %v", err)
	}
	if n := s.requests.Load(); n != 2 {
		t.Fatalf("the server read %d requests, want 2", n)
	}
}

// TestResetOnANewConnIsNotResent: a provider that reset a new connection
// may have the request; sending a POST again could run it twice.
func TestResetOnANewConnIsNotResent(t *testing.T) {
	s := startRawServer(t, func(int32) rawAction { return reset })
	p := testProvider(t, s.addr)
	err := call(p)
	var ue *Error
	if err == nil || !asError(err, &ue) || ue.Unsent() {
		t.Fatalf("err = %v; want a provider error that may have been sent", err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := s.requests.Load(); n != 1 {
		t.Fatalf("the server read %d requests, want 1", n)
	}
}

func TestUnsentOnlyForConnectFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nobody listens: connection refused
	err = call(testProvider(t, addr))
	var ue *Error
	if !asError(err, &ue) || !ue.Unsent() {
		t.Fatalf("refused connection: %v, unsent = %v", err, ue != nil && ue.Unsent())
	}
	if (&Error{Err: &TimeoutError{Phase: PhaseFirstByte}}).Unsent() {
		t.Fatal("a first-byte timeout counted as unsent")
	}
	if !(&Error{Err: &TimeoutError{Phase: PhaseConnect}}).Unsent() {
		t.Fatal("a connect timeout counted as sent")
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

// TestAPIKeyHeader: the key goes as Bearer by default, as x-api-key for
// the anthropic format, and as is in api_key_header when set (Azure).
func TestAPIKeyHeader(t *testing.T) {
	got := make(chan http.Header, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		_, _ = w.Write([]byte("{}"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	for _, c := range []struct {
		format, header, wantName, wantValue string
	}{
		{"openai", "", "Authorization", "Bearer sk-key"},
		{"anthropic", "", "X-Api-Key", "sk-key"},
		{"openai", "api-key", "Api-Key", "sk-key"},
	} {
		p, err := New(configs.Provider{Name: "h", BaseURL: "http://" + ln.Addr().String() + "/v1", Format: c.format,
			APIKey: "sk-key", APIKeyHeader: c.header, MaxConns: 1,
			Timeouts: configs.Timeouts{Connect: configs.Duration(time.Second), FirstByte: configs.Duration(time.Second),
				Idle: configs.Duration(time.Second), Total: configs.Duration(2 * time.Second)}})
		if err != nil {
			t.Fatal(err)
		}
		if err := call(p); err != nil {
			t.Fatal(err)
		}
		h := <-got
		if h.Get(c.wantName) != c.wantValue {
			t.Errorf("%s/%q: %s = %q, want %q (headers %v)", c.format, c.header, c.wantName, h.Get(c.wantName), c.wantValue, h)
		}
		if c.wantName != "Authorization" && h.Get("Authorization") != "" {
			t.Errorf("%s/%q: the key also went as Authorization", c.format, c.header)
		}
	}
}
