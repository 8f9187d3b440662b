package mock

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// connSet tracks the open server-side connections, so that OpenConns can
// report them and Close can close them.
type connSet struct {
	open atomic.Int64

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

// add registers c; it closes c at once if closeAll already ran.
func (cs *connSet) add(c *trackedConn) {
	cs.open.Add(1)
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		_ = c.Close()
		return
	}
	if cs.conns == nil {
		cs.conns = make(map[*trackedConn]struct{})
	}
	cs.conns[c] = struct{}{}
	cs.mu.Unlock()
}

func (cs *connSet) remove(c *trackedConn) {
	cs.mu.Lock()
	delete(cs.conns, c)
	cs.mu.Unlock()
	cs.open.Add(-1)
}

// closeAll closes every open connection and those accepted later.
func (cs *connSet) closeAll() {
	cs.mu.Lock()
	cs.closed = true
	conns := make([]*trackedConn, 0, len(cs.conns))
	for c := range cs.conns {
		conns = append(conns, c)
	}
	cs.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// trackedListener hands out trackedConns.
type trackedListener struct {
	net.Listener
	conns *connSet
}

// Accept implements net.Listener.
func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, conns: l.conns}
	l.conns.add(tc)
	return tc, nil
}

// trackedConn leaves its connSet on its first Close.
type trackedConn struct {
	net.Conn
	conns *connSet
	once  sync.Once
}

// Close implements net.Conn; only the first call closes the connection.
func (c *trackedConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		c.conns.remove(c)
	})
	return err
}

// reset aborts the connection with a TCP RST instead of a FIN, the way a
// crashed or overloaded provider does.
func (c *trackedConn) reset() error {
	tcp, ok := c.Conn.(*net.TCPConn)
	if !ok {
		return fmt.Errorf("cannot reset %T: not a TCP connection", c.Conn)
	}
	if err := tcp.SetLinger(0); err != nil {
		return fmt.Errorf("cannot set linger 0 on %s: %w", c.RemoteAddr(), err)
	}
	if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("cannot reset %s: %w", c.RemoteAddr(), err)
	}
	return nil
}

// resetConn resets the connection behind a request.
func resetConn(c net.Conn) error {
	tc, ok := c.(*trackedConn)
	if !ok {
		return fmt.Errorf("cannot reset %T: not a mock connection", c)
	}
	return tc.reset()
}
