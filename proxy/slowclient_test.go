package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
)

// These tests misbehave as clients on raw loopback connections. Their
// timeouts are tiny and their verdicts are outcomes (a 408, a closed
// connection), never how long something took; the read deadlines only
// keep a broken gateway from hanging the test.

// trickle writes s to c a byte every gap, until s ends, a write fails or
// stop is closed.
func trickle(c net.Conn, s string, gap time.Duration, stop <-chan struct{}) {
	for i := 0; i < len(s); i++ {
		select {
		case <-stop:
			return
		case <-time.After(gap):
		}
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
	}
}

// readUntilClosed reads c until the gateway closes it and returns what it
// read. The test fails if the connection is still open after d.
func readUntilClosed(t *testing.T, c net.Conn, d time.Duration) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("connection still open after %v; read %q", d, b)
	case err != nil && !errors.Is(err, syscall.ECONNRESET):
		t.Fatalf("read: %v after %q", err, b)
	}
	return string(b)
}

func TestSlowHeadersAre408(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server: {header_timeout: 200ms}\n")
	c := g.rawConn(t)
	stop := make(chan struct{})
	defer close(stop)
	req := fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", testKey, len(chatBody), chatBody)
	go trickle(c, req, 20*time.Millisecond, stop)
	out := readUntilClosed(t, c, 10*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 408") || !strings.Contains(out, `"code":"request_timeout"`) {
		t.Fatalf("want an OpenAI-shaped 408, got %q", out)
	}
}

func TestSlowHeadersOnKeepAliveAre408(t *testing.T) {
	// The header deadline restarts at each request's first byte: a
	// connection that was served once gets no more time for the next.
	g := startGateway(t, mock.Options{}, "server: {header_timeout: 200ms}\n")
	c := g.rawConn(t)
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	var resp fasthttp.Response
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := resp.Read(br); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("first request: %v %d", err, resp.StatusCode())
	}
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "+strings.Repeat("p", 100)+"\r\n\r\n", 20*time.Millisecond, stop)
	b, _ := io.ReadAll(br)
	if out := string(b); !strings.HasPrefix(out, "HTTP/1.1 408") {
		t.Fatalf("want 408 for the trickled second request, got %q", out)
	}
}

func TestSlowBodyIs408(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server: {header_timeout: 10s, read_timeout: 200ms, body_min_rate: 1MiB}\n")
	c := g.rawConn(t)
	stop := make(chan struct{})
	defer close(stop)
	body := strings.Repeat(" ", 1000) + chatBody
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", testKey, len(body))
	go trickle(c, body, 20*time.Millisecond, stop)
	out := readUntilClosed(t, c, 10*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 408") || !strings.Contains(out, `"code":"request_timeout"`) {
		t.Fatalf("want an OpenAI-shaped 408, got %q", out)
	}
}

func TestBodyAtTheMinimumRateIsServed(t *testing.T) {
	// 1000 bytes at 200 B/s have read_timeout + 5s: a pause longer than
	// read_timeout alone is within the body's deadline.
	g := startGateway(t, mock.Options{}, "server: {read_timeout: 200ms, body_min_rate: 200}\n")
	body := strings.Repeat(" ", 1000-len(chatBody)) + chatBody
	c := g.rawConn(t)
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body[:500])
	time.Sleep(time.Second)
	fmt.Fprint(c, body[500:])
	var resp fasthttp.Response
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := resp.Read(bufio.NewReader(c)); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("body paused within its deadline: %v %d %s", err, resp.StatusCode(), resp.Body())
	}
}

func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server: {idle_timeout: 200ms}\n")
	c := g.rawConn(t)
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	var resp fasthttp.Response
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := resp.Read(br); err != nil || resp.StatusCode() != 200 || resp.ConnectionClose() {
		t.Fatalf("want a kept-alive 200, got %v %d close=%v", err, resp.StatusCode(), resp.ConnectionClose())
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("idle connection: want a silent close, got %q %v", rest, err)
	}
}

func TestConnectionsOverMaxConnsGet503(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server: {max_conns: 2}\n")
	addr := strings.TrimPrefix(g.URL, "http://")
	get := func(c net.Conn) *fasthttp.Response {
		t.Helper()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp := &fasthttp.Response{}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := resp.Read(bufio.NewReader(c)); err != nil {
			t.Fatalf("GET /healthz: %v", err)
		}
		return resp
	}
	held := []net.Conn{g.rawConn(t), g.rawConn(t)}
	for _, c := range held {
		if r := get(c); r.StatusCode() != 200 {
			t.Fatalf("within max_conns: %d", r.StatusCode())
		}
	}

	over := g.rawConn(t)
	r := get(over)
	if r.StatusCode() != 503 || !r.ConnectionClose() || string(r.Header.Peek("Retry-After")) != "1" ||
		!strings.Contains(string(r.Body()), `"type":"server_error","param":null,"code":"server_busy"`) {
		t.Fatalf("over max_conns: want an OpenAI-shaped 503, got %d %s %s", r.StatusCode(), r.Header.Header(), r.Body())
	}
	if rest := readUntilClosed(t, over, 10*time.Second); rest != "" {
		t.Fatalf("after the 503: %q", rest)
	}

	// A real client is answered too, though its request was never read.
	client := &fasthttp.HostClient{Addr: addr}
	for range 20 {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(g.URL + "/healthz")
		err := client.DoTimeout(req, resp, 10*time.Second)
		if err != nil || resp.StatusCode() != 503 {
			t.Fatalf("fasthttp client over max_conns: %v %d", err, resp.StatusCode())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}

	// A closed connection frees its place.
	_ = held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		st := get(c).StatusCode()
		_ = c.Close()
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a place freed by a close is still refused: %d", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestContentLengthOverTheLimitIs413BeforeTheBody(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server: {max_body_bytes: 1MiB}\n")
	c := g.rawConn(t)
	// Headers only: the answer must not wait for a byte of the body.
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", testKey, 1<<20+1)
	out := readUntilClosed(t, c, 10*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 413") || !strings.Contains(out, `"code":"request_too_large"`) {
		t.Fatalf("want an OpenAI-shaped 413, got %q", out)
	}
}

// sendChunked writes a chunked request of n bytes of body in 64 KiB
// chunks to c, until a write fails, and returns the bytes it wrote.
func sendChunked(c net.Conn, n int) int {
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n", testKey)
	chunk := fmt.Appendf(nil, "%x\r\n%s\r\n", 64<<10, strings.Repeat("a", 64<<10))
	sent := 0
	for sent < n {
		k, err := c.Write(chunk)
		sent += k
		if err != nil {
			return sent
		}
	}
	_, _ = fmt.Fprint(c, "0\r\n\r\n")
	return sent
}

func TestChunkedBodyOverTheLimitIs413(t *testing.T) {
	g := startGateway(t, mock.Options{}, "server: {max_body_bytes: 1MiB}\n")
	c := g.rawConn(t)
	go sendChunked(c, 4<<20)
	out := readUntilClosed(t, c, 10*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 413") || !strings.Contains(out, `"code":"request_too_large"`) {
		t.Fatalf("want an OpenAI-shaped 413, got %q", out)
	}
}

// TestRefusedBodyCostsAtMostTheLimit sends 64 MiB, chunked and with a
// Content-Length, against an 8 MiB limit. A Content-Length is refused
// unread. A chunked body is read up to the limit into a buffer fasthttp
// doubles as it grows: the last buffer and the half it is copied from
// are 1.5x the limit, and all the buffers together about 2x. The test
// bounds the bytes allocated while the body is refused, which bounds the
// heap's growth from above whatever the GC does, and logs the peak the
// sampler saw. Before the chunked limit left room for the 2-byte CRLF,
// the last doubling went past the power-of-two limit: 3x at the peak and
// 4x allocated.
func TestRefusedBodyCostsAtMostTheLimit(t *testing.T) {
	const limit = 8 << 20
	g := startGateway(t, mock.Options{}, "server: {max_body_bytes: 8MiB}\n")
	for _, chunked := range []bool{true, false} {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		peak := before.HeapAlloc
		stop, sampled := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		c := g.rawConn(t)
		sent := make(chan int, 1)
		if chunked {
			go func() { sent <- sendChunked(c, 64<<20) }()
		} else {
			fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", testKey, 64<<20)
			sent <- 0
		}
		out := readUntilClosed(t, c, 30*time.Second)
		n := <-sent
		close(stop)
		<-sampled
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if !strings.HasPrefix(out, "HTTP/1.1 413") {
			t.Fatalf("chunked=%v: want 413, got %.80q", chunked, out)
		}
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("chunked=%v: the client wrote %.1f MiB of body before the 413; %.1f MiB allocated, heap %.1f MiB over its start at the peak seen",
			chunked, float64(n)/(1<<20), float64(allocated)/(1<<20), float64(int64(peak)-int64(before.HeapAlloc))/(1<<20))
		if allocated > limit*5/2 {
			t.Errorf("chunked=%v: refusing the body allocated %.1f MiB, over 2.5x the %d MiB limit", chunked, float64(allocated)/(1<<20), limit>>20)
		}
	}
}

// TestLargeBodyIsNotKeptAfterItsRequest: from its second request on, a
// keep-alive connection keeps its last request body buffer for the next
// one, which for a body of several MiB pinned that much for as long as
// the connection stayed open. Buffers over pooledBodyMax are dropped.
func TestLargeBodyIsNotKeptAfterItsRequest(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	c := g.rawConn(t)
	br := bufio.NewReader(c)
	send := func(body string) {
		t.Helper()
		fmt.Fprintf(c, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		var resp fasthttp.Response
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := resp.Read(br); err != nil || resp.StatusCode() != 200 || resp.ConnectionClose() {
			t.Fatalf("want a kept-alive 200, got %v %d %s", err, resp.StatusCode(), resp.Body())
		}
	}
	send("{}")
	big := strings.Repeat("x", 12<<20)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	send(big)
	send("{}")
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(big) // in both measures
	t.Logf("heap after a 12 MiB body: %+.1f MiB", float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20))
	if kept := int64(after.HeapAlloc) - int64(before.HeapAlloc); kept > 4<<20 {
		t.Fatalf("after a 12 MiB request the heap stays %.1f MiB larger while its connection is open", float64(kept)/(1<<20))
	}
}
