package upstream

import (
	"net"
	"sync/atomic"
	"time"
)

// Watch is one call's watch on its client's connection: while the call
// waits on its provider (for the first byte, for a buffered body, for the
// next event of a stream), a client that goes away ends the upstream read
// with ErrCanceled and the upstream connection is closed, which is how a
// provider learns to stop generating and billing.
//
// On Linux the watch is a registration with one process-wide watcher
// goroutine (watch_linux.go): an epoll set that holds the client sockets
// of the calls now waiting, with EPOLLRDHUP|EPOLLONESHOT. When a client
// closes (or half-closes: nginx treats that as gone too), the watcher sets
// the Watch's gone flag and then a read deadline in the past on the
// upstream connection the call is blocked on, which wakes its read at
// once; the read sees the flag and returns ErrCanceled. Elsewhere, or for
// a client connection without a socket, a call polls its client every
// clientCheckEvery while it waits for the first byte, as before.
//
// A call arms its watch only once a read has waited armAfter: an answer
// that comes sooner (a cache, a local mock) costs nothing; a slower one
// costs two epoll_ctl calls, two uncontended lock operations and one
// small allocation (the client's syscall.RawConn, to read its fd) for
// the whole call, however long it streams. An idle stream costs nothing
// at all: no timer, no wake-up.
//
// Invariants:
//
//   - A registration ends (EPOLL_CTL_DEL, then its table slot freed under
//     the watcher's lock) before the call that made it finishes, so
//     before fasthttp can close the client's socket: the fd the watcher
//     watches is never closed and reused under it. Stop is the call's last
//     word; DoUntil and Stream.Close disarm earlier when they can.
//   - An event names a table slot and the arm's sequence number; the
//     watcher acts on it only under the lock and only if the slot still
//     holds that arm, so an event read from epoll before a disarm cannot
//     reach the next call that takes the slot.
//   - gone is set before the past deadline, and a read checks gone after
//     setting its own deadline: whichever deadline lands last, the read
//     either wakes or sees the flag. No wake-up is lost.
//   - The watcher may set its past deadline on an upstream connection
//     that has already gone back to the pool and serves another call (a
//     buffered answer releases it inside fasthttp's Do, before DoUntil
//     can disarm). timedConn.Read absorbs such a stray wake-up: a timeout
//     before its own deadline, with its own call's client still there,
//     only makes it read again.
//
// Rejected alternatives:
//
//   - A goroutine per stream (or per call) blocked on a read of its client
//     socket: DESIGN.md forbids it, and that read would race fasthttp's.
//   - Polling the client on a short upstream read deadline (the fallback
//     above, for every phase): to notice within 50 ms a stream must wake
//     every ~25 ms. Measured on the 2-vCPU CI VM with 1,000 idle streams
//     (a deadline read and a MSG_PEEK per wake-up), polling every 50 ms
//     cost 16% of a core, every 25 ms 26%, every 10 ms 45%, against 0%
//     for the epoll set; it grows with the open streams, up to 10,000.
//   - Registering with Go's own netpoller: it is not exposed, and
//     fasthttp reads the client socket through it.
//   - Arming at the start of every call: two system calls on calls that
//     answer in microseconds, for a client that will not have left.
//
// A hedged call (proxy/hedge.go) also ends one attempt's wait from the
// goroutine of the other: Cancel sets cut, not gone (the client is still
// there), then the same past deadline; the read checks cut where it
// checks gone, so the same argument holds. That is why conn is an atomic
// pointer: Cancel reads it without the watcher's lock.
//
// A Watch is owned by one call's goroutine, but for gone, cut and conn,
// which the watcher and Cancel read. The zero value is ready for Start.
type Watch struct {
	client net.Conn
	gone   atomic.Bool
	cut    atomic.Bool               // Cancel was called: the call's waits end with ErrCanceled
	conn   atomic.Pointer[timedConn] // the upstream connection the call reads; see bind
	slot   int32                     // the watcher's table slot + 1 while armed; 0: not armed
	seq    uint32                    // the arm's sequence number, in its events
	fd     int                       // the client's socket while armed
	noArm  bool                      // arming is not possible for this call: poll instead
	takeFD func(uintptr)
}

// armAfter is how long a read waits on the provider before its call
// arms its watch.
const armAfter = 5 * time.Millisecond

// clientCheckEvery is how often a call that cannot arm its watch asks,
// while it waits for the first byte, whether its client is still there.
const clientCheckEvery = 100 * time.Millisecond

// Start begins watching client for one call. It makes no system call.
func (w *Watch) Start(client net.Conn) {
	w.client = client
	w.gone.Store(false)
	w.cut.Store(false)
	w.noArm = false
}

// StartPolled is Start for a second watch on a client another Watch
// watches (a hedged call's second attempt): it never arms, since a
// client socket has one epoll registration, the other's, and polls the
// client while it waits for the first byte.
func (w *Watch) StartPolled(client net.Conn) {
	w.Start(client)
	w.noArm = true
}

// Stop ends the watch. A call must stop its watch before it finishes,
// that is before its client's connection may be closed.
func (w *Watch) Stop() {
	w.disarm()
	w.client = nil
	w.conn.Store(nil)
}

// Gone reports whether the client was seen to go away during the call.
func (w *Watch) Gone() bool { return w.gone.Load() }

// Cancel ends the call's wait on its provider, now or at its next read,
// with ErrCanceled, as a client that leaves does, but without marking the
// client gone; the upstream connection is then closed. It is safe to call
// from any goroutine: a hedged call cancels the attempt that lost.
// Until Resume, every wait of the call ends so.
func (w *Watch) Cancel() {
	w.cut.Store(true)
	if c := w.conn.Load(); c != nil {
		_ = c.Conn.SetReadDeadline(aLongTimeAgo)
	}
}

// Resume undoes Cancel, for the call's next upstream read; the owner
// calls it once whoever called Cancel is done.
func (w *Watch) Resume() { w.cut.Store(false) }

// stopped reports whether the call's waits are to end: its client left
// or Cancel was called.
func (w *Watch) stopped() bool { return w.gone.Load() || w.cut.Load() }

// bind makes c the upstream connection the watcher wakes: the one the
// call's request goes out on.
func (w *Watch) bind(c *timedConn) {
	if w.slot != 0 {
		watcherSetConn(w, c)
		return
	}
	w.conn.Store(c)
}

// slice is how long a read may wait before the watch needs its
// goroutine, to arm or to poll the client; 0: as long as the phase lasts.
func (w *Watch) slice(gotFirst bool) time.Duration {
	switch {
	case w.slot != 0:
		return 0
	case !w.noArm:
		return armAfter
	case !gotFirst:
		return clientCheckEvery
	}
	return 0
}

// sliceOver runs when a read waited a slice: it arms the watch, or polls
// the client when the watch cannot be armed.
func (w *Watch) sliceOver(c *timedConn) {
	if !w.noArm {
		w.noArm = !w.arm(c)
		return
	}
	if PeerClosed(w.clientConn()) {
		w.gone.Store(true)
	}
}

// clientConn is w's client connection with TLS and other wrappers
// removed, or nil.
func (w *Watch) clientConn() net.Conn {
	c := w.client
	for i := 0; i < 4; i++ {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	return c
}
