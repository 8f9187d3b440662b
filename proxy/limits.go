package proxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"switchboard/configs"
)

// clientLimits are the server's defences against slow, greedy and bursty
// clients, the ones nginx has, beside what fasthttp does by itself
// (ReadBufferSize caps the header block; a Content-Length over
// MaxRequestBodySize is answered 413 before a byte of the body is read):
//
//   - server.header_timeout is fasthttp's ReadTimeout, which fasthttp arms
//     at accept and again at the first byte of each keep-alive request, so
//     it bounds the request line and headers;
//   - headerReceived, fasthttp's HeaderReceived hook, then replaces that
//     deadline with the body's own: read_timeout plus the body's length at
//     body_min_rate. fasthttp answers a read past either deadline through
//     Server.requestError: 408, connection closed;
//   - a chunked body is cut off with 413 at max_body_bytes (maxChunked),
//     and no body buffer over pooledBodyMax outlives its request;
//   - listen caps the open connections at server.max_conns.
//
// The body deadline is computed once from Content-Length rather than
// extended as bytes arrive (Apache's mod_reqtimeout): one SetReadDeadline
// per request instead of one per read, and the same verdict for a client
// that sends at the minimum rate. A chunked body, whose length is unknown,
// gets read_timeout alone.
type clientLimits struct {
	readTimeout time.Duration
	minRate     int // bytes per second
	// maxChunked is the body limit of a chunked request: max_body_bytes
	// less the 2-byte CRLF that fasthttp reads after each chunk into the
	// same buffer. fasthttp grows that buffer to the next power of two of
	// what it must hold, so a body that reached max_body_bytes (32MiB)
	// made it allocate 64MiB, beside the 16MiB it copied from, for a body
	// it then refused.
	maxChunked int
	maxConns   int64
	open       atomic.Int64
	busy       []byte // the whole 503 answer to a connection over maxConns

	mu    sync.Mutex
	conns map[*limitedConn]struct{} // the admitted connections, for closeAll
}

var (
	clientConns         = metrics.NewGauge(`switchboard_client_connections`, nil)
	clientConnsRejected = metrics.NewCounter(`switchboard_client_connections_rejected_total`)
)

// errServerBusy answers a connection over server.max_conns.
var errServerBusy = errors.New("the gateway is serving as many connections as it allows (server.max_conns); retry shortly")

// pooledBodyMax is the largest request body buffer fasthttp keeps for the
// next request (in its pool, or on the keep-alive connection, which keeps
// its last one): a connection that once sent a 32MiB body would otherwise
// hold 32MiB for as long as it stays open.
const pooledBodyMax = 4 << 20

func newClientLimits(cfg configs.Server) *clientLimits {
	l := &clientLimits{
		readTimeout: cfg.ReadTimeout.D(),
		minRate:     int(cfg.BodyMinRate),
		maxChunked:  max(int(cfg.MaxBodyBytes)-2, 1),
		maxConns:    int64(cfg.MaxConns),
		conns:       map[*limitedConn]struct{}{},
	}
	l.busy = appendRawErrorResponse(nil, errServerBusy, "Retry-After: 1\r\n")
	return l
}

// headerReceived gives a request body its deadline, counted from now, the
// end of its headers: read_timeout, plus Content-Length at body_min_rate.
func (l *clientLimits) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	rc := fasthttp.RequestConfig{ReadTimeout: l.readTimeout}
	switch n := h.ContentLength(); {
	case n > 0:
		rc.ReadTimeout += transferTime(n, l.minRate)
	case n == -1: // chunked
		rc.MaxRequestBodySize = l.maxChunked
	}
	return rc
}

// transferTime is how long n bytes take at rate bytes per second, capped
// at about 34 years so that no Content-Length overflows a Duration.
func transferTime(n, rate int) time.Duration {
	secs := min(n/rate, 1<<30)
	return time.Duration(secs)*time.Second + time.Duration(n%rate)*time.Second/time.Duration(rate)
}

// listen returns ln with at most maxConns connections open at once. A
// connection over the limit is answered errServerBusy (503) and closed by
// Accept itself: it costs no goroutine, no read buffer and no read, which
// is what a flood needs (nginx's limit_conn reads the request first, and
// a flood of those would pin a header buffer each). Its request is never
// read, so the answer may be followed by a reset; clients read the answer
// first.
func (l *clientLimits) listen(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, l: l}
}

type limitedListener struct {
	net.Listener
	l *clientLimits
}

// Accept returns the next connection within the limit.
func (ll *limitedListener) Accept() (net.Conn, error) {
	l := ll.l
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.maxConns {
			clientConns.Inc()
			lc := &limitedConn{Conn: c, l: l}
			l.mu.Lock()
			l.conns[lc] = struct{}{}
			l.mu.Unlock()
			return lc, nil
		}
		l.open.Add(-1)
		clientConnsRejected.Inc()
		// A new socket's send buffer is empty: the write does not wait,
		// and the deadline makes sure of it.
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(l.busy)
		_ = c.Close()
	}
}

// limitedConn is an admitted connection; closing it frees its place.
type limitedConn struct {
	net.Conn
	l      *clientLimits
	closed atomic.Bool
}

// Close closes the connection and, the first time, frees its place.
func (c *limitedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.open.Add(-1)
		clientConns.Dec()
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	}
	return c.Conn.Close()
}

// closeAll closes every admitted connection still open and returns how
// many there were: the end of a drain that ran out of time.
func (l *clientLimits) closeAll() int {
	l.mu.Lock()
	conns := make([]*limitedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return len(conns)
}

// SyscallConn passes the socket through, for upstream.PeerClosed.
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}
