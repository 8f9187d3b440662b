package websearch

import (
	"bytes"
	"compress/gzip"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// fakeEngine is a search engine on 127.0.0.1 that answers every request
// with a canned status and body and records what it received.
type fakeEngine struct {
	URL string // http://127.0.0.1:port

	mu          sync.Mutex
	status      int
	body        []byte
	contentType string
	delay       time.Duration
	gzip        bool
	got         []gotRequest
}

// gotRequest is what the fake received.
type gotRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header map[string]string // canonical name -> value
	Body   []byte
}

func newFakeEngine(t testing.TB) *fakeEngine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEngine{URL: "http://" + ln.Addr().String(), status: 200, contentType: "application/json"}
	srv := &fasthttp.Server{Handler: f.serve}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		// Shutdown misses a listener Serve has not taken yet: closing it
		// ends Serve either way.
		_ = srv.Shutdown()
		_ = ln.Close()
		<-done
	})
	return f
}

// answer sets the canned answer.
func (f *fakeEngine) answer(status int, contentType string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.contentType, f.body = status, contentType, body
}

// answerFile answers with a file of testdata.
func (f *fakeEngine) answerFile(t *testing.T, status int, name string) {
	t.Helper()
	ct := "application/json"
	if filepath.Ext(name) == ".html" {
		ct = "text/html; charset=utf-8"
	}
	f.answer(status, ct, readTestdata(t, name))
}

func (f *fakeEngine) setDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

func (f *fakeEngine) setGzip(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gzip = on
}

// requests returns what the fake received so far.
func (f *fakeEngine) requests() []gotRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gotRequest(nil), f.got...)
}

// last returns the last request, failing the test if none came.
func (f *fakeEngine) last(t *testing.T) gotRequest {
	t.Helper()
	got := f.requests()
	if len(got) == 0 {
		t.Fatal("the fake engine received no request")
	}
	return got[len(got)-1]
}

func (f *fakeEngine) serve(ctx *fasthttp.RequestCtx) {
	q, _ := url.ParseQuery(string(ctx.URI().QueryString()))
	g := gotRequest{
		Method: string(ctx.Method()),
		Path:   string(ctx.Path()),
		Query:  q,
		Header: map[string]string{},
		Body:   append([]byte(nil), ctx.PostBody()...),
	}
	for k, v := range ctx.Request.Header.All() {
		g.Header[string(k)] = string(v)
	}
	f.mu.Lock()
	f.got = append(f.got, g)
	status, ct, body, delay, gz := f.status, f.contentType, f.body, f.delay, f.gzip
	f.mu.Unlock()

	if delay > 0 {
		time.Sleep(delay)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType(ct)
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
		body = buf.Bytes()
	}
	ctx.SetBody(body)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}
