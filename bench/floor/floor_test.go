package floor_test

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/bench/floor"
	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// startFloor serves a floor in front of upstream on 127.0.0.1:0 and returns
// its address.
func startFloor(t testing.TB, upstream string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- floor.Serve(ln, upstream) }()
	t.Cleanup(func() {
		_ = ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func startMock(t testing.TB, opts mock.Options) *mock.Server {
	t.Helper()
	m, err := mock.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func post(t *testing.T, addr, body string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://" + addr + "/v1/chat/completions")
	req.Header.Set("Authorization", "Bearer sk-floor")
	req.Header.Set("X-Extra", "kept")
	req.SetBodyString(body)
	resp := fasthttp.AcquireResponse()
	c := &fasthttp.HostClient{Addr: addr}
	defer c.CloseIdleConnections()
	if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fasthttp.ReleaseResponse(resp) })
	return resp
}

func TestForwardsRequestAndRelaysResponse(t *testing.T) {
	m := startMock(t, mock.Options{})
	addr := startFloor(t, m.URL())
	const body = `{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}`
	resp := post(t, addr, body)
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"content":"chunk 0 chunk 1 `) {
		t.Fatalf("status %d body %s", resp.StatusCode(), resp.Body())
	}
	if ct := string(resp.Header.ContentType()); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	got := m.LastRequest()
	if got.Method != "POST" || got.Path != "/v1/chat/completions" || string(got.Body) != body ||
		got.Headers["authorization"] != "Bearer sk-floor" || got.Headers["x-extra"] != "kept" {
		t.Fatalf("upstream saw %+v", got)
	}

	resp = post(t, addr, `{"model":"mock-model+status=429+retry_after=3"}`)
	if resp.StatusCode() != 429 || string(resp.Header.Peek("Retry-After")) != "3" {
		t.Fatalf("status %d retry-after %q", resp.StatusCode(), resp.Header.Peek("Retry-After"))
	}
}

func TestRelaysStreamChunkByChunk(t *testing.T) {
	const gap = 30 * time.Millisecond
	m := startMock(t, mock.Options{Chunks: 4, ChunkDelay: gap})
	addr := startFloor(t, m.URL())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"model":"mock-model","stream":true}`
	if _, err := conn.Write([]byte("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	var arrivals []time.Time
	for len(arrivals) < 4 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d chunks: %v", len(arrivals), err)
		}
		if strings.HasPrefix(line, "data: {") {
			arrivals = append(arrivals, time.Now())
		}
	}
	// Chunk i leaves the mock i gaps after chunk 0 (sleeps never end
	// early), so chunks flushed one by one arrive about i gaps after chunk
	// 0; buffered, they would arrive together. Half a gap of slack covers
	// chunk 0 being late on the way.
	for i := 1; i < len(arrivals); i++ {
		if d, want := arrivals[i].Sub(arrivals[0]), time.Duration(i)*gap-gap/2; d < want {
			t.Fatalf("chunk %d arrived %s after chunk 0, want at least %s", i, d, want)
		}
	}
}

func TestClientGoneReleasesUpstream(t *testing.T) {
	m := startMock(t, mock.Options{Chunks: 1000, ChunkDelay: 5 * time.Millisecond})
	addr := startFloor(t, m.URL())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"mock-model","stream":true}`
	if _, err := conn.Write([]byte("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(conn).ReadString('{'); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for m.OpenConns() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("upstream still has %d open connections after the client left", m.OpenConns())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUpstreamDownIsBadGateway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	addr := startFloor(t, "http://"+closed)
	if resp := post(t, addr, `{}`); resp.StatusCode() != fasthttp.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode())
	}
}

func TestServeRejectsBadUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, u := range []string{"", "127.0.0.1:1", "https://127.0.0.1:1", "http://"} {
		if err := floor.Serve(ln, u); err == nil || errors.Is(err, net.ErrClosed) {
			t.Fatalf("Serve(%q) = %v, want an upstream error", u, err)
		}
	}
}
