package upstream

import (
	"errors"
	"net"
	"testing"
	"time"
)

// pipe returns a timedConn and the peer end that plays the provider.
func pipe(t *testing.T, firstByte, idle, total time.Duration) (*timedConn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return newTimedConn(a, firstByte, idle, total), b
}

// send writes the request on c and drains it at the peer.
func send(t *testing.T, c *timedConn, peer net.Conn) {
	t.Helper()
	go func() { buf := make([]byte, 16); _, _ = peer.Read(buf) }()
	if _, err := c.Write([]byte("req")); err != nil {
		t.Fatal(err)
	}
}

func wantTimeout(t *testing.T, err error, phase Phase) {
	t.Helper()
	var te *TimeoutError
	if !errors.As(err, &te) || te.Phase != phase {
		t.Fatalf("err = %v, want %s timeout", err, phase)
	}
}

func TestTimedConnFirstByteTimeout(t *testing.T) {
	c, peer := pipe(t, 50*time.Millisecond, time.Second, time.Minute)
	send(t, c, peer)
	_, err := c.Read(make([]byte, 8))
	wantTimeout(t, err, PhaseFirstByte)
}

func TestTimedConnIdleTimeoutAfterFirstByte(t *testing.T) {
	c, peer := pipe(t, time.Second, 50*time.Millisecond, time.Minute)
	send(t, c, peer)
	go func() { _, _ = peer.Write([]byte("x")) }()
	if n, err := c.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("read %d %v", n, err)
	}
	_, err := c.Read(make([]byte, 8))
	wantTimeout(t, err, PhaseIdle)
}

func TestTimedConnTotalTimeout(t *testing.T) {
	c, peer := pipe(t, time.Second, time.Second, 60*time.Millisecond)
	send(t, c, peer)
	_, err := c.Read(make([]byte, 8))
	wantTimeout(t, err, PhaseTotal)
}

func TestTimedConnTickIsTemporaryAndIdleStillApplies(t *testing.T) {
	c, peer := pipe(t, time.Second, 200*time.Millisecond, time.Minute)
	send(t, c, peer)
	go func() { _, _ = peer.Write([]byte("x")) }()
	if _, err := c.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	c.tick = 30 * time.Millisecond
	ticks := 0
	for {
		_, err := c.Read(make([]byte, 8))
		if errors.Is(err, ErrKeepaliveTick) {
			ticks++
			continue
		}
		wantTimeout(t, err, PhaseIdle) // ticks must not reset the idle clock
		break
	}
	if ticks < 2 {
		t.Fatalf("%d ticks before the idle timeout, want several", ticks)
	}
	// A new request clears the tick.
	send(t, c, peer)
	if c.tick != 0 {
		t.Fatalf("tick survived a new request")
	}
}

func TestConnOfFindsTheConnBehindAnAddr(t *testing.T) {
	c, _ := pipe(t, time.Second, time.Second, time.Second)
	if connOf(c.LocalAddr()) != c {
		t.Fatal("connOf lost the connection")
	}
	if connOf(&net.TCPAddr{}) != nil {
		t.Fatal("connOf invented a connection")
	}
}
