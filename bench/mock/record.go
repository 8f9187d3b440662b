package mock

import (
	"bytes"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// Recorded is a copy of a request the mock received.
type Recorded struct {
	// Method is the request method, such as "POST".
	Method string
	// Path is the request path, without the query string.
	Path string
	// Headers maps lower-case header names to values; repeated headers are
	// joined with ", ".
	Headers map[string]string
	// Body is the request body.
	Body []byte
}

// recorder keeps the raw parts of the last request, copied into buffers it
// reuses, so that recording costs no allocation per request.
type recorder struct {
	mu      sync.Mutex
	seen    bool
	method  []byte
	path    []byte
	headers []byte // name NUL value NUL, repeated
	body    []byte
}

func (r *recorder) record(ctx *fasthttp.RequestCtx) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = true
	r.method = append(r.method[:0], ctx.Method()...)
	r.path = append(r.path[:0], ctx.Path()...)
	r.headers = r.headers[:0]
	for k, v := range ctx.Request.Header.All() {
		r.headers = append(r.headers, k...)
		r.headers = append(r.headers, 0)
		r.headers = append(r.headers, v...)
		r.headers = append(r.headers, 0)
	}
	r.body = append(r.body[:0], ctx.Request.Body()...)
}

// LastRequest returns a copy of the last request received; the zero
// Recorded if there was none.
func (s *Server) LastRequest() Recorded {
	r := &s.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.seen {
		return Recorded{}
	}
	rec := Recorded{
		Method:  string(r.method),
		Path:    string(r.path),
		Headers: make(map[string]string),
		Body:    bytes.Clone(r.body),
	}
	for rest := r.headers; len(rest) > 0; {
		var k, v []byte
		k, rest, _ = bytes.Cut(rest, []byte{0})
		v, rest, _ = bytes.Cut(rest, []byte{0})
		name := strings.ToLower(string(k))
		if old, ok := rec.Headers[name]; ok {
			rec.Headers[name] = old + ", " + string(v)
		} else {
			rec.Headers[name] = string(v)
		}
	}
	return rec
}
