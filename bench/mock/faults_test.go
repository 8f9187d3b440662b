package mock_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"
)

func itoa(n int) string { return strconv.Itoa(n) }

func TestStatusDirective(t *testing.T) {
	s := startMock(t, mock.Options{})
	e := wantError(t, do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"mock-model+status=500"}`), 500)
	if e.Error.Type != "server_error" {
		t.Fatalf("500 type %q, want server_error", e.Error.Type)
	}

	r := do(t, s, fasthttp.MethodPost, "/v1/chat/completions", chatBody, "x-mock", "status=429, retry_after=7")
	e = wantError(t, r, 429)
	if r.headers["retry-after"] != "7" || e.Error.Code == nil || *e.Error.Code != "rate_limit_exceeded" {
		t.Fatalf("429: retry-after %q, error %+v", r.headers["retry-after"], e.Error)
	}

	// A streaming request fails before the stream starts, as providers do.
	r = do(t, s, fasthttp.MethodPost, "/v1/chat/completions", streamBody("mock-model+status=503", true))
	wantError(t, r, 503)
	if r.headers["retry-after"] != "" {
		t.Fatalf("retry-after %q without retry_after", r.headers["retry-after"])
	}

	wantError(t, do(t, s, fasthttp.MethodGet, "/v1/models", "", "x-mock", "status=502"), 502)
}

func TestBadDirectives(t *testing.T) {
	s := startMock(t, mock.Options{})
	f := func(model, header string) {
		t.Helper()
		r := do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"`+model+`"}`, "x-mock", header)
		e := wantError(t, r, fasthttp.StatusBadRequest)
		if !strings.Contains(e.Error.Message, "mock directive") {
			t.Fatalf("model %q x-mock %q: message %q does not name the directive", model, header, e.Error.Message)
		}
	}
	f("mock-model+bogus=1", "")
	f("mock-model+brotli", "")
	f("mock-model", "status=200")
	f("mock-model", "status=abc")
	f("mock-model", "delay=-1s")
	f("mock-model", "delay=soon")
	f("mock-model", "chunks=-1")
	f("mock-model", "tools=0")
	f("mock-model", "retry_after=x")
	f("mock-model+fail=1.5", "")
	f("mock-model+fail=-0.1", "")
	f("mock-model+fail=NaN", "")
	f("mock-model+resetp=x", "")
	f("mock-model", "stallp=2")
	f("mock-model", "stall=-1s")
	f("mock-model+hold=soon", "")
	f("mock-model+hold=1s+holdafter=-1", "")
	f("mock-model+fail=0.6+stallp=0.5", "")
	f("mock-model+fail=0.6", "resetp=0.5")
	// The sum is checked once both lists are read: the model's fail=0
	// replaces the header's 0.9.
	r := do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"mock-model+fail=0+stallp=0.5+stall=0s"}`, "x-mock", "fail=0.9")
	if r.status != fasthttp.StatusOK {
		t.Fatalf("fail=0.9 replaced by fail=0: status %d: %s", r.status, r.body)
	}
}

func TestDelayDirective(t *testing.T) {
	s := startMock(t, mock.Options{Latency: 10 * time.Millisecond})
	f := func(want time.Duration, model, header string) {
		t.Helper()
		start := time.Now()
		r := do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"`+model+`"}`, "x-mock", header)
		if r.status != fasthttp.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if d := time.Since(start); d < want {
			t.Fatalf("model %q x-mock %q answered after %s, want at least %s", model, header, d, want)
		}
	}
	f(10*time.Millisecond, "mock-model", "")
	f(60*time.Millisecond, "mock-model+delay=50ms", "")
	f(60*time.Millisecond, "mock-model", "delay=50ms")
	f(90*time.Millisecond, "mock-model+ttft=30ms", "delay=50ms")
}

func TestTTFTSendsHeadersFirst(t *testing.T) {
	s := startMock(t, mock.Options{})
	start := time.Now()
	st := doStream(t, s, "/v1/chat/completions", streamBody("mock-model+ttft=80ms", false))
	st.chunks(t)
	if d := st.events[0].at.Sub(start); d < 80*time.Millisecond {
		t.Fatalf("first chunk after %s, want at least 80ms", d)
	}

	// With a first token that never comes, the headers still arrive: the
	// client's Do returns, and Close ends the stream.
	req, resp := newRequest(s, fasthttp.MethodPost, "/v1/chat/completions", streamBody("mock-model+ttft=10m", false))
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c := &fasthttp.HostClient{Addr: s.Addr(), StreamResponseBody: true, ReadTimeout: 10 * time.Second}
	if err := c.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if ct := string(resp.Header.ContentType()); resp.StatusCode() != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d content type %q", resp.StatusCode(), ct)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.BodyStream()); err == nil {
		t.Fatalf("stream ended cleanly with %q after Close", b)
	}
}

func TestChunksAndGapDirectives(t *testing.T) {
	s := startMock(t, mock.Options{ChunkDelay: 10 * time.Minute})
	st := doStream(t, s, "/v1/chat/completions", streamBody("mock-model+chunks=2", false), "x-mock", "gap=1ms")
	if chunks := st.chunks(t); len(chunks) != 3 {
		t.Fatalf("%d chunks, want 2 and the finish chunk", len(chunks))
	}
	st = doStream(t, s, "/v1/completions", streamBody("mock-model+chunks=0", false))
	if chunks := st.chunks(t); len(chunks) != 1 || *chunks[0].Choices[0].FinishReason != "stop" {
		t.Fatalf("chunks=0: %v", st.events)
	}
	c := decodeCompletion(t, do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"mock-model+chunks=2+gap=5m"}`))
	if *c.Choices[0].Message.Content != "chunk 0 chunk 1 " || c.Usage.CompletionTokens != 4 {
		t.Fatalf("chunks=2 non-streamed: %+v", c)
	}
}

func TestResetMidStream(t *testing.T) {
	s := startMock(t, mock.Options{})
	for _, n := range []int{0, 2} {
		st := doStream(t, s, "/v1/chat/completions", streamBody("mock-model+reset="+itoa(n), true))
		if st.err == nil || errors.Is(st.err, io.EOF) {
			t.Fatalf("reset=%d: stream ended with %v, want a broken stream", n, st.err)
		}
		if len(st.events) != n {
			t.Fatalf("reset=%d: got %d events before the reset, want %d", n, len(st.events), n)
		}
	}
	waitOpenConns(t, s, 0)
}

func TestResetWithoutAnswer(t *testing.T) {
	s := startMock(t, mock.Options{})
	req, resp := newRequest(s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"mock-model+reset=0"}`)
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c := &fasthttp.HostClient{Addr: s.Addr(), MaxIdemponentCallAttempts: 1}
	if err := c.DoTimeout(req, resp, 5*time.Second); err == nil {
		t.Fatalf("got status %d, want a reset connection", resp.StatusCode())
	}
	waitOpenConns(t, s, 0)
	if got := s.Requests(); got != 1 {
		t.Fatalf("Requests() = %d, want 1 (no retry)", got)
	}
}

func TestCompressedBodies(t *testing.T) {
	s := startMock(t, mock.Options{})
	f := func(encoding string, decode func([]byte) ([]byte, error)) {
		t.Helper()
		r := do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"mock-model+`+encoding+`"}`)
		if r.status != 200 || r.headers["content-encoding"] != encoding {
			t.Fatalf("%s: status %d content-encoding %q", encoding, r.status, r.headers["content-encoding"])
		}
		plain, err := decode(r.body)
		if err != nil {
			t.Fatalf("%s: cannot decode: %v", encoding, err)
		}
		var c completion
		if err := json.Unmarshal(plain, &c); err != nil || c.Model != "mock-model+"+encoding {
			t.Fatalf("%s: body %s: %v", encoding, plain, err)
		}
	}
	f("gzip", func(b []byte) ([]byte, error) {
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	})
	f("zstd", func(b []byte) ([]byte, error) {
		d, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(b, nil)
	})
}

// holdConn sends a chat request asking for directives on a raw
// connection and returns it with a reader of the answer.
func holdConn(t *testing.T, s *mock.Server, model string, stream bool) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
	if stream {
		body = streamBody(model, false)
	}
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return c, bufio.NewReader(c)
}

// readUntil reads r until a line starting with prefix.
func readUntil(t *testing.T, r *bufio.Reader, prefix string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no line starting %q: %v", prefix, err)
		}
		if strings.HasPrefix(line, prefix) {
			return
		}
	}
}

// waitHolding waits until the mock holds n answers.
func waitHolding(t *testing.T, s *mock.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.Holding() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("holding %d answers, want %d", s.Holding(), n)
		}
	}
}

// TestHoldSeesTheClientLeave: a hold keeps the answer silent where it
// says (after the first event of a stream, after the headers of a whole
// answer, before the headers) and records the client closing the
// connection during it; a hold that runs its course records no close.
func TestHoldSeesTheClientLeave(t *testing.T) {
	s := startMock(t, mock.Options{})
	for i, tc := range []struct {
		model  string
		stream bool
		until  string // what the client reads before the hold
	}{
		{"mock-model+hold=30s", true, "data:"},
		{"mock-model+hold=30s+holdafter=3", true, "data:"},
		{"mock-model+hold=30s", false, "Content-Length:"},
		{"mock-model+hold=30s+holdafter=0", false, ""},
		{"mock-model+hold=30s+holdafter=0", true, ""},
	} {
		c, r := holdConn(t, s, tc.model, tc.stream)
		if tc.until != "" {
			readUntil(t, r, tc.until)
		}
		waitHolding(t, s, 1)
		_ = c.Close()
		waitHolding(t, s, 0)
		holds := s.Holds()
		if len(holds) != i+1 {
			t.Fatalf("%s: %d holds recorded, want %d", tc.model, len(holds), i+1)
		}
		if h := holds[i]; h.Closed.IsZero() || h.Closed.Before(h.Began) {
			t.Fatalf("%s: hold %+v: the close was not seen", tc.model, h)
		}
		if n, last := s.HoldsClosed(); n != i+1 || !last.Equal(holds[i].Closed) {
			t.Fatalf("%s: HoldsClosed = %d, %s; want %d, %s", tc.model, n, last, i+1, holds[i].Closed)
		}
	}

	// A short hold ends and the answer goes on.
	r := do(t, s, fasthttp.MethodPost, "/v1/chat/completions", streamBody("mock-model+hold=1ms", false))
	if r.status != 200 || !strings.Contains(string(r.body), "[DONE]") {
		t.Fatalf("after a hold: %d %s", r.status, r.body)
	}
	r = do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"mock-model+hold=1ms+gzip"}`)
	if r.status != 200 || r.headers["content-encoding"] != "gzip" {
		t.Fatalf("a held whole answer: %d %v", r.status, r.headers)
	}
	holds := s.Holds()
	for _, h := range holds[len(holds)-2:] {
		if !h.Closed.IsZero() {
			t.Fatalf("a hold that ran its course recorded a close: %+v", h)
		}
	}
}

// TestReleaseHoldsEndsThemAsRunOut: ReleaseHolds ends long holds at once,
// as if they had run their course: each stream goes on to its end and no
// close is recorded.
func TestReleaseHoldsEndsThemAsRunOut(t *testing.T) {
	s := startMock(t, mock.Options{})
	var readers []*bufio.Reader
	for range 3 {
		c, r := holdConn(t, s, "mock-model+hold=30s", true)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second)) // a failure, not a hang
		readUntil(t, r, "data:")
		readers = append(readers, r)
	}
	waitHolding(t, s, 3)
	s.ReleaseHolds()
	for _, r := range readers {
		readUntil(t, r, "data: [DONE]")
	}
	waitHolding(t, s, 0)
	if n, _ := s.HoldsClosed(); n != 0 || len(s.Holds()) != 3 {
		t.Fatalf("%d holds recorded, %d closed; want 3, none closed", len(s.Holds()), n)
	}
}
