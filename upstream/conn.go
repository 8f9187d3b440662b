package upstream

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// timedConn is an upstream connection that owns its read deadlines, so one
// provider's timeouts apply phase by phase to every call on it:
//
//   - after a request is written, the first response byte must arrive within
//     firstByte;
//   - after that, each read must see data within idle of the last data;
//   - the whole call must end within total of the request's first write.
//
// fasthttp sets no read deadline of its own (the HostClient has no
// ReadTimeout), because its deadline covers headers and the whole streamed
// body at once: that would cut long streams or never notice a stalled one.
//
// A stream relay may also set tick: a read that sees no data within tick
// (but before the idle deadline) returns errTick, a temporary timeout that
// leaves the connection usable, so the relay can send the client an SSE
// keep-alive comment and read again. The relay finds the timedConn behind a
// response through its LocalAddr (see connAddr).
//
// A timedConn is used by one call at a time (fasthttp pools it between
// calls), so its fields need no locking.
type timedConn struct {
	net.Conn
	addr                   connAddr
	firstByte, idle, total time.Duration

	writing  bool // a request is being written; the next read waits for its first byte
	gotFirst bool // the response's first byte arrived
	answered bool // some earlier request on this connection got an answer
	// staleFailure: the current request was not sent because the provider
	// had closed this pooled connection while it was idle. Provider.Do
	// reads it to send the request again (fasthttp's errors cannot tell).
	staleFailure bool
	// watch, when set for the current request, is its client's (see
	// Watch): every wait on the provider ends early when the client goes.
	// watchFor is the number of the request it was bound for, so that a
	// request that binds none (an empty body) does not use the last one's.
	watch    *Watch
	watchFor uint64
	requests uint64             // requests started on this connection
	canceled bool               // the watch said the client had gone: the call was dropped
	raw      syscall.RawConn    // for peerClosed; nil if the conn has none
	peek     func(uintptr) bool // c.peekFD
	closed   bool               // peekFD's answer
	start    time.Time          // first write of the current request
	lastData time.Time          // last read that returned data
	tick     time.Duration

	// The read in progress (see Read): its phase, whether its deadline
	// is the next keep-alive tick, the phase's deadline, the deadline of
	// its current wait, and when that wait began.
	phase           Phase
	ticking         bool
	deadline, until time.Time
	readNow         time.Time

	// pool is the provider's idle bound. call is the buffered call on
	// this connection until its answer's first byte, which decides
	// whether the connection will be pooled (see idleBound).
	pool *idleBound
	call *watchBody
}

// connAddr is the LocalAddr of a timedConn. fasthttp copies a connection's
// LocalAddr into the Response (and crypto/tls passes it through), which is
// how a relay gets from a Response back to its connection.
type connAddr struct {
	net.Addr
	conn *timedConn
}

func newTimedConn(c net.Conn, firstByte, idle, total time.Duration) *timedConn {
	tc := &timedConn{Conn: c, firstByte: firstByte, idle: idle, total: total}
	tc.addr = connAddr{Addr: c.LocalAddr(), conn: tc}
	if sc, ok := c.(syscall.Conn); ok {
		tc.raw, _ = sc.SyscallConn()
		tc.peek = tc.peekFD
	}
	return tc
}

// LocalAddr returns the address with a link back to this connection.
func (c *timedConn) LocalAddr() net.Addr { return &c.addr }

// Write marks the start of a new request on the first write after a read.
func (c *timedConn) Write(p []byte) (int, error) {
	if !c.writing {
		if c.answered && c.peerClosed() {
			c.staleFailure = true
			return 0, errStaleConn
		}
		c.writing = true
		c.requests++
		if c.watchFor != c.requests {
			c.watch = nil
		}
		c.gotFirst = false
		c.tick = 0
		c.start = time.Now()
	}
	return c.Conn.Write(p)
}

// errStaleConn is a pooled connection the provider closed while idle,
// found before a request was written to it.
var errStaleConn = errors.New("the provider closed the idle keep-alive connection")

// peerClosed reports whether the provider closed or reset the connection:
// a read that neither waits nor consumes (MSG_PEEK|MSG_DONTWAIT) sees the
// end of the stream or an error. Pending bytes (say, a TLS session ticket)
// and nothing to read both mean open. It is the check net/http makes,
// which learns it from a read it keeps running on idle connections.
func (c *timedConn) peerClosed() bool {
	if c.raw == nil {
		return false
	}
	c.closed = false
	_ = c.raw.Read(c.peek)
	return c.closed
}

// PeerClosed reports whether the other end of conn closed or reset it,
// without waiting or consuming input (see timedConn.peerClosed). The proxy
// asks it of a client before another failover attempt. It allocates.
func PeerClosed(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	tc := &timedConn{raw: raw}
	tc.peek = tc.peekFD
	return tc.peerClosed()
}

// peekFD is c.peek: the syscall behind peerClosed, made a method value
// once per connection so that a check does not allocate.
func (c *timedConn) peekFD(fd uintptr) bool {
	var buf [1]byte
	n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	c.closed = n == 0 && err == nil || err != nil && err != syscall.EAGAIN && err != syscall.EINTR
	return true
}

// Read reads with the deadline of the current phase; see timedConn. With
// a watch, the wait ends with ErrCanceled once the client is gone. An
// idle stream spends its time parked in Read's c.Conn.Read, so the
// deadline work is done in readPhase, armRead and readTimedOut, whose
// frames are gone by then: a shallow stack at the park lets the GC shrink
// the goroutine's stack (see the memory scenario of the bench).
func (c *timedConn) Read(p []byte) (int, error) {
	c.readPhase()
	w := c.watch
	for {
		sliced, err := c.armRead(w)
		if err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(p)
		if n > 0 || err == nil || !isTimeout(err) {
			return c.got(n, err)
		}
		again, errCanceled := c.readTimedOut(w, sliced)
		switch {
		case errCanceled != nil:
			return 0, errCanceled
		case !again:
			return c.got(n, err)
		}
	}
}

// readPhase starts a read: it sets the read's phase and deadline, and
// readNow.
func (c *timedConn) readPhase() {
	now := time.Now()
	if c.writing {
		c.writing = false
		c.lastData = now // the first-byte wait starts when the request is sent
	}
	limit, phase := c.firstByte, PhaseFirstByte
	if c.gotFirst {
		limit, phase = c.idle, PhaseIdle
	}
	deadline := c.lastData.Add(limit)
	if end := c.start.Add(c.total); end.Before(deadline) {
		deadline, phase = end, PhaseTotal
	}
	c.ticking = false
	if c.tick > 0 {
		if t := now.Add(c.tick); t.Before(deadline) {
			deadline, c.ticking = t, true
		}
	}
	c.readNow, c.phase, c.deadline = now, phase, deadline
}

// armRead sets the connection's read deadline for the next wait: the
// phase's deadline, or sooner the end of w's slice, in which case sliced
// is true. It returns ErrCanceled when w's client is gone.
func (c *timedConn) armRead(w *Watch) (sliced bool, err error) {
	c.until = c.deadline
	if w != nil {
		if d := w.slice(c.gotFirst); d > 0 {
			if t := c.readNow.Add(d); t.Before(c.until) {
				c.until, sliced = t, true
			}
		}
	}
	if err := c.Conn.SetReadDeadline(c.until); err != nil {
		return false, err
	}
	// Checked after the deadline is set: the watcher sets gone (Cancel
	// cut) before its own deadline (see Watch).
	if w != nil && w.stopped() {
		c.canceled = true
		return false, ErrCanceled
	}
	return sliced, nil
}

// readTimedOut decides what a read's timeout means: again is true when
// the read is to wait once more (a slice or a stray wake-up ended it),
// err is ErrCanceled when the client is gone, and neither is the phase's
// own timeout.
func (c *timedConn) readTimedOut(w *Watch, sliced bool) (again bool, err error) {
	c.readNow = time.Now()
	switch {
	case w != nil && w.stopped():
		c.canceled = true
		return false, ErrCanceled
	case sliced:
		w.sliceOver(c)
	case c.readNow.Before(c.until):
		// A stray wake-up: the watcher woke the call this connection
		// served before it went back to the pool (see Watch).
	default:
		return false, nil
	}
	return true, nil
}

// got accounts for a read of n bytes that ended with err, in c.phase.
func (c *timedConn) got(n int, err error) (int, error) {
	if n > 0 {
		if c.call != nil {
			c.decideRelease()
		}
		c.gotFirst, c.answered = true, true
		c.lastData = time.Now()
	}
	if err != nil && isTimeout(err) {
		if c.ticking {
			return n, errTick
		}
		return n, &TimeoutError{Phase: c.phase}
	}
	return n, err
}

// decideRelease decides, at a buffered answer's first byte, whether the
// call will pool its connection or close it (see idleBound); the call's
// watchBody.settle ends the decision.
func (c *timedConn) decideRelease() {
	w := c.call
	c.call = nil
	switch {
	case w.req.ConnectionClose():
	case w.pool.keep():
		w.kept = true
	default:
		w.req.SetConnectionClose()
		w.markedClose = true
	}
}

// ErrCanceled ends an upstream call whose client went away.
var ErrCanceled = errors.New("the client went away")

// connOf returns the timedConn a response was read from, or nil.
func connOf(addr net.Addr) *timedConn {
	if a, ok := addr.(*connAddr); ok {
		return a.conn
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errTick is returned by a read that saw no data within the keep-alive tick.
// It is temporary: crypto/tls and bufio keep their state and the next read
// goes on where this one stopped.
var errTick = tickError{}

type tickError struct{}

func (tickError) Error() string   { return "upstream silent for a keep-alive interval" }
func (tickError) Timeout() bool   { return true }
func (tickError) Temporary() bool { return true }
