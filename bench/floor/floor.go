// Package floor is the bare fasthttp byte proxy the bench measures the
// gateway against: it pays for the same extra hop (accept, parse, forward on
// a keep-alive connection, relay the answer) and for nothing else, so
// "gateway over floor" is what the gateway's own code costs.
package floor

import (
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Serve proxies every request arriving on ln to upstream ("http://host:port")
// and returns when ln fails or closes. Method, path, headers and body go
// upstream as they came; the response comes back with its body streamed, so
// SSE events are relayed one by one as the upstream flushes them.
func Serve(ln net.Listener, upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("floor upstream: want http://host:port, got %q", upstream)
	}
	client := &fasthttp.HostClient{
		Addr:                u.Host,
		MaxConns:            1 << 16,
		MaxIdleConnDuration: time.Minute,
		StreamResponseBody:  true,
		// The floor forwards headers as they are; it does not add its own.
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
	}
	s := &fasthttp.Server{
		Handler:                       func(ctx *fasthttp.RequestCtx) { proxy(ctx, client) },
		Name:                          "floor",
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		NoDefaultDate:                 true,
		DisableHeaderNamesNormalizing: true,
		ReadBufferSize:                32 << 10,
	}
	if err := s.Serve(ln); err != nil {
		return fmt.Errorf("floor on %s: %w", ln.Addr(), err)
	}
	return nil
}

func proxy(ctx *fasthttp.RequestCtx, client *fasthttp.HostClient) {
	b := bodyPool.Get().(*body)
	if err := client.Do(&ctx.Request, &b.resp); err != nil {
		b.release()
		ctx.Error(fmt.Sprintf("floor: upstream %s: %s", client.Addr, err), fasthttp.StatusBadGateway)
		return
	}
	b.resp.Header.CopyTo(&ctx.Response.Header)
	if b.resp.BodyStream() == nil { // no body: HEAD, 204, 304
		b.release()
		return
	}
	size := b.resp.Header.ContentLength()
	if size < 0 {
		size = -1 // chunked or until close: relay chunked
	}
	ctx.SetBodyStream(b, size)
}

// body relays an upstream response body; fasthttp closes it after writing
// it to the client, which returns the upstream connection to the pool.
type body struct{ resp fasthttp.Response }

var bodyPool = sync.Pool{New: func() any { return new(body) }}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) { return b.resp.BodyStream().Read(p) }

// Close implements io.Closer.
func (b *body) Close() error {
	b.release()
	return nil
}

func (b *body) release() {
	b.resp.Reset()
	bodyPool.Put(b)
}
