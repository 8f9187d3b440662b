package mock

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Hold is one hold= of an answer: the mock silent, watching its side of
// the connection.
type Hold struct {
	// Began is when the mock went silent.
	Began time.Time
	// Closed is when the mock saw the client close (or reset) the
	// connection during the hold; zero if the hold ran its course.
	Closed time.Time
}

// maxHolds bounds the holds a mock remembers; past it the older half is
// forgotten.
const maxHolds = 1 << 16

// holdLog records the holds of a server.
type holdLog struct {
	mu         sync.Mutex
	holds      []Hold
	dropped    int // holds forgotten, before holds[0]
	active     int
	conns      map[net.Conn]struct{} // the connections held now, for ReleaseHolds
	closed     int                   // holds that saw the client close
	lastClosed time.Time             // when the latest of them did
}

// Holds returns the holds recorded so far, in the order they began, each
// with its close time if the connection closed during it.
func (s *Server) Holds() []Hold {
	l := &s.holds
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Hold(nil), l.holds...)
}

// Holding returns the number of holds in progress.
func (s *Server) Holding() int {
	l := &s.holds
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active
}

// HoldsClosed returns how many holds saw the client close the
// connection, and when the latest of them saw it: a caller that closes
// one connection at a time learns when each close reached the mock
// without copying Holds.
func (s *Server) HoldsClosed() (n int, last time.Time) {
	l := &s.holds
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed, l.lastClosed
}

// ReleaseHolds ends every hold in progress as if it had run its course:
// each of those answers goes on at once. A hold that begins later is not
// affected.
func (s *Server) ReleaseHolds() {
	l := &s.holds
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for c := range l.conns {
		_ = c.SetReadDeadline(now)
	}
}

// errHoldClosed ends an answer whose connection closed during a hold.
var errHoldClosed = errors.New("mock: the client closed the connection during a hold")

// hold keeps conn silent for d and reports whether the client closed it
// meanwhile. It watches by reading conn: nothing else reads a connection
// while its answer is being written (fasthttp reads the next request
// after it, and a gateway does not pipeline), so a read that ends before
// d, with an end of stream, a reset or stray bytes, is the client
// leaving. Close ends a hold early without counting it as closed.
func (s *Server) hold(conn net.Conn, d time.Duration) bool {
	l := &s.holds
	l.mu.Lock()
	if len(l.holds) == maxHolds {
		l.holds = append(l.holds[:0], l.holds[maxHolds/2:]...)
		l.dropped += maxHolds / 2
	}
	l.holds = append(l.holds, Hold{Began: time.Now()})
	id := l.dropped + len(l.holds) - 1
	l.active++
	if l.conns == nil {
		l.conns = make(map[net.Conn]struct{})
	}
	l.conns[conn] = struct{}{}
	// Under the lock, so that ReleaseHolds's deadline is never overwritten.
	_ = conn.SetReadDeadline(time.Now().Add(d))
	l.mu.Unlock()

	var b [1]byte
	n, err := conn.Read(b[:])
	now := time.Now()
	closed := n > 0 || err != nil && !isTimeout(err)
	select {
	case <-s.done:
		closed = false // the mock closed it
	default:
	}

	l.mu.Lock()
	_ = conn.SetReadDeadline(time.Time{})
	if closed {
		if i := id - l.dropped; i >= 0 {
			l.holds[i].Closed = now
		}
		l.closed++
		l.lastClosed = now
	}
	l.active--
	delete(l.conns, conn)
	l.mu.Unlock()
	return closed
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// holdBody is a whole answer held after its headers: fasthttp flushes
// them first (ImmediateHeaderFlush), then the first Read holds.
type holdBody struct {
	s    *Server
	conn net.Conn
	buf  *buffer
	d    time.Duration
	off  int
	held bool
}

func (h *holdBody) Read(p []byte) (int, error) {
	if !h.held {
		h.held = true
		if h.s.hold(h.conn, h.d) {
			return 0, errHoldClosed
		}
	}
	if h.off == len(h.buf.b) {
		return 0, io.EOF
	}
	n := copy(p, h.buf.b[h.off:])
	h.off += n
	return n, nil
}

// Close implements io.Closer; fasthttp calls it once the body is written.
func (h *holdBody) Close() error {
	if h.buf != nil {
		releaseBuf(h.buf)
		h.buf = nil
	}
	return nil
}

// writeHeld answers with the whole body b, which it takes over,
// compressed with encoding if set, after the headers and a hold of d.
func (s *Server) writeHeld(ctx *fasthttp.RequestCtx, b *buffer, encoding string, d time.Duration) error {
	ctx.SetContentType("application/json")
	if encoding != "" {
		compressed, err := compress(b.b, encoding)
		if err != nil {
			return err
		}
		ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, encoding)
		b.b = append(b.b[:0], compressed...)
	}
	ctx.Response.ImmediateHeaderFlush = true
	ctx.SetBodyStream(&holdBody{s: s, conn: ctx.Conn(), buf: b, d: d}, len(b.b))
	return nil
}
