package mock_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

func TestUnauthorizedWithoutBearerToken(t *testing.T) {
	s := startMock(t, mock.Options{})
	f := func(auth string) {
		t.Helper()
		r := do(t, s, fasthttp.MethodPost, "/v1/chat/completions", chatBody, "Authorization", auth)
		e := wantError(t, r, fasthttp.StatusUnauthorized)
		if e.Error.Code == nil || *e.Error.Code != "invalid_api_key" {
			t.Fatalf("Authorization %q: code %v, want invalid_api_key", auth, e.Error.Code)
		}
	}
	f("")
	f("Basic dXNlcjpwYXNz")
	f("Bearer ")
	f("Bearer   ")
	f("sk-no-scheme")
}

func TestServesPathsWithAndWithoutV1(t *testing.T) {
	s := startMock(t, mock.Options{})
	for _, path := range []string{"/v1/chat/completions", "/chat/completions", "/v1/completions", "/completions"} {
		if r := do(t, s, fasthttp.MethodPost, path, chatBody); r.status != fasthttp.StatusOK {
			t.Errorf("POST %s: status %d: %s", path, r.status, r.body)
		}
	}
	for _, path := range []string{"/v1/models", "/models"} {
		if r := do(t, s, fasthttp.MethodGet, path, ""); r.status != fasthttp.StatusOK {
			t.Errorf("GET %s: status %d: %s", path, r.status, r.body)
		}
	}
}

func TestUnknownPathAndWrongMethod(t *testing.T) {
	s := startMock(t, mock.Options{})
	wantError(t, do(t, s, fasthttp.MethodPost, "/v1/nope", chatBody), fasthttp.StatusNotFound)
	wantError(t, do(t, s, fasthttp.MethodGet, "/v1/chat/completions", ""), fasthttp.StatusMethodNotAllowed)
	wantError(t, do(t, s, fasthttp.MethodPost, "/v1/models", chatBody), fasthttp.StatusMethodNotAllowed)
}

func TestBadRequestBody(t *testing.T) {
	s := startMock(t, mock.Options{})
	wantError(t, do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":`), fasthttp.StatusBadRequest)
	wantError(t, do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"messages":[]}`), fasthttp.StatusBadRequest)
}

func TestCountsAndRecordsRequests(t *testing.T) {
	s := startMock(t, mock.Options{})
	if got := s.LastRequest(); got.Method != "" || got.Headers != nil {
		t.Fatalf("LastRequest before any request = %+v, want zero", got)
	}
	do(t, s, fasthttp.MethodGet, "/v1/models", "")
	do(t, s, fasthttp.MethodPost, "/v1/chat/completions", chatBody, "X-Custom-Thing", "yes", "Authorization", "Bearer sk-upstream")
	do(t, s, fasthttp.MethodPost, "/v1/chat/completions", chatBody, "Authorization", "")
	if got := s.Requests(); got != 3 {
		t.Fatalf("Requests() = %d, want 3 (unauthorized ones count)", got)
	}
	do(t, s, fasthttp.MethodPost, "/v1/chat/completions?x=1", chatBody, "X-Custom-Thing", "yes", "Authorization", "Bearer sk-upstream")
	got := s.LastRequest()
	if got.Method != "POST" || got.Path != "/v1/chat/completions" || string(got.Body) != chatBody {
		t.Fatalf("LastRequest = %q %q %q", got.Method, got.Path, got.Body)
	}
	for name, want := range map[string]string{
		"authorization":  "Bearer sk-upstream",
		"x-custom-thing": "yes",
		"content-type":   "application/json",
		"host":           s.Addr(),
	} {
		if got.Headers[name] != want {
			t.Errorf("Headers[%q] = %q, want %q (all: %v)", name, got.Headers[name], want, got.Headers)
		}
	}
	got.Body[0] = 'X'
	if again := s.LastRequest(); string(again.Body) != chatBody {
		t.Fatalf("LastRequest shares its body with the caller: %q", again.Body)
	}
}

// waitOpenConns polls until s has want open connections.
func waitOpenConns(t *testing.T, s *mock.Server, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.OpenConns() != want {
		if time.Now().After(deadline) {
			t.Fatalf("OpenConns() = %d, want %d", s.OpenConns(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpenConnsFollowsClients(t *testing.T) {
	s := startMock(t, mock.Options{})
	c := &fasthttp.HostClient{Addr: s.Addr()}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.URL() + "/v1/models")
	req.Header.Set("Authorization", "Bearer test")
	if err := c.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	waitOpenConns(t, s, 1) // kept alive by the client
	c.CloseIdleConnections()
	waitOpenConns(t, s, 0)
}

func TestCloseClosesOpenConnections(t *testing.T) {
	s, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitOpenConns(t, s, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := s.OpenConns(); got != 0 {
		t.Fatalf("OpenConns() after Close = %d, want 0", got)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a connection Close should have closed", n)
	}
	if _, err := net.Dial("tcp", s.Addr()); err == nil {
		t.Fatal("mock still accepts connections after Close")
	}
}

func TestCloseWakesSleepingHandler(t *testing.T) {
	s, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"model":"mock-model+delay=10m"}`
	if _, err := conn.Write([]byte("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Requests() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a handler slept")
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(conn).ReadString('\n'); err == nil && strings.Contains(line, "200") {
		t.Fatalf("got %q from a closed mock", line)
	}
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	s := startMock(t, mock.Options{})
	if _, err := mock.Start(s.Addr(), mock.Options{}); err == nil || !strings.Contains(err.Error(), s.Addr()) {
		t.Fatalf("Start on a busy address: err %v, want one naming %s", err, s.Addr())
	}
	if err := mock.ListenAndServe(s.Addr(), mock.Options{}); err == nil {
		t.Fatal("ListenAndServe on a busy address returned nil")
	}
}
