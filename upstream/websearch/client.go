package websearch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// maxResponseBytes caps an engine's answer, compressed and not: a page of
// search results is tens of kilobytes.
const maxResponseBytes = 4 << 20

// client sends one engine's requests over a pooled keep-alive HostClient.
// It is safe for concurrent use.
type client struct {
	engine   string
	endpoint string // full URL of the search endpoint, without query
	hc       *fasthttp.HostClient
	timeout  time.Duration
	headers  [][2]string
	secret   string // the key, to scrub from what the engine says
}

func newClient(cfg *Config, path string) (*client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("web search engine %q: base_url: %w", cfg.Engine, err)
	}
	isTLS := u.Scheme == "https"
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if isTLS {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	c := &client{
		engine:   cfg.Engine,
		endpoint: cfg.BaseURL + path,
		timeout:  cfg.Timeout,
		secret:   cfg.APIKey,
	}
	for k, v := range cfg.Headers {
		c.headers = append(c.headers, [2]string{k, v})
	}
	c.hc = &fasthttp.HostClient{
		Addr:                host,
		Name:                "switchboard",
		IsTLS:               isTLS,
		TLSConfig:           &tls.Config{ServerName: u.Hostname(), ClientSessionCache: tls.NewLRUClientSessionCache(16)},
		MaxConns:            cfg.MaxConns,
		MaxConnWaitTimeout:  cfg.Timeout,
		MaxIdleConnDuration: 30 * time.Second,
		ReadBufferSize:      16 << 10,
		MaxResponseBodySize: maxResponseBytes,
		// A search is read-only, so one that failed on a broken
		// connection before any answer (typically a keep-alive
		// connection the engine closed while it sat in the pool) is
		// sent once more, POST included, within the same deadline.
		MaxIdemponentCallAttempts: 2,
		RetryIfErr: func(_ *fasthttp.Request, _ int, err error) (bool, bool) {
			return false, !isTimeout(err)
		},
	}
	return c, nil
}

// do sends req, prepared by the engine (method, URI, body), with the
// headers every engine sends, and returns the decompressed body of a 200
// answer; it points into resp. Any other answer, or none, is an *Error:
// message reads the engine's error body.
func (c *client) do(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response, message func(status int, body []byte) string) ([]byte, error) {
	switch err := ctx.Err(); {
	case errors.Is(err, context.DeadlineExceeded):
		return nil, &Error{Engine: c.engine, Err: fmt.Errorf("%w before the search started: %w", ErrTimeout, err)}
	case err != nil:
		return nil, &Error{Engine: c.engine, Err: err}
	}
	budget := c.timeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < budget {
			budget = left
		}
	}
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	req.Header.Set(fasthttp.HeaderAcceptEncoding, "gzip")
	for _, h := range c.headers {
		req.Header.Set(h[0], h[1])
	}
	if err := c.hc.DoTimeout(req, resp, budget); err != nil {
		return nil, c.classify(err, budget)
	}
	body, err := resp.BodyUncompressedWithLimit(maxResponseBytes)
	status := resp.StatusCode()
	if status != fasthttp.StatusOK {
		msg := ""
		if err == nil {
			msg = c.scrub(message(status, body))
		}
		return nil, &Error{Engine: c.engine, Status: status, Message: msg}
	}
	if err != nil {
		return nil, &Error{Engine: c.engine, Err: fmt.Errorf("cannot decode %q response body: %w", resp.Header.ContentEncoding(), err)}
	}
	return body, nil
}

// classify wraps a failed fasthttp call.
func (c *client) classify(err error, budget time.Duration) *Error {
	switch {
	case isTimeout(err):
		return &Error{Engine: c.engine, Err: fmt.Errorf("%w after %v", ErrTimeout, budget.Round(time.Millisecond))}
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return &Error{Engine: c.engine, Err: fmt.Errorf("answer over %d bytes", maxResponseBytes)}
	}
	return &Error{Engine: c.engine, Err: fmt.Errorf("cannot reach %q: %w", c.hc.Addr, err)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.As(err, &ne) && ne.Timeout()
}

// scrub removes the key from text an engine sent back, should it echo
// the request, and caps the text at maxMessageChars.
func (c *client) scrub(msg string) string {
	if c.secret != "" {
		msg = strings.ReplaceAll(msg, c.secret, "<secret>")
	}
	return truncate(msg, maxMessageChars)
}
