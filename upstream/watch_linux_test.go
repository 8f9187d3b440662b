package upstream

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"switchboard/configs"
)

// silentServer answers each connection's first request with prefix and
// then stays silent, reporting on closed when the client closes the
// connection. waiting is signalled once the request is read and prefix
// written.
type silentServer struct {
	addr    string
	waiting chan struct{}
	closed  chan struct{}
}

func startSilentServer(t *testing.T, prefix string) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	s := &silentServer{addr: ln.Addr().String(), waiting: make(chan struct{}, 1), closed: make(chan struct{}, 1)}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = br.Discard(int(req.ContentLength))
		_, _ = c.Write([]byte(prefix))
		s.waiting <- struct{}{}
		var b [1]byte
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := c.Read(b[:]); !isTimeout(err) {
			s.closed <- struct{}{}
		}
	}()
	return s
}

// slowProvider is a provider whose timeouts are far longer than the
// tests wait: an upstream call that ends early was canceled.
func slowProvider(t *testing.T, addr string) *Provider {
	t.Helper()
	long := configs.Duration(time.Minute)
	p, err := New(configs.Provider{
		Name: "silent", BaseURL: "http://" + addr + "/v1", MaxConns: 4,
		Timeouts: configs.Timeouts{Connect: configs.Duration(time.Second), FirstByte: long, Idle: long, Total: long},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// clientPair returns the gateway's end of a client connection and the
// client's end.
func clientPair(t *testing.T) (gateway, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if gateway, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gateway.Close(); _ = client.Close() })
	return gateway, client
}

// armedWatches counts the watcher's armed registrations.
func armedWatches() int {
	watcher.mu.Lock()
	defer watcher.mu.Unlock()
	n := 0
	for _, w := range watcher.slots {
		if w != nil {
			n++
		}
	}
	return n
}

// TestClientLeavingEndsTheUpstreamWait: whatever the call waits for
// (the first byte, the rest of a buffered body, a stream's next event),
// a client that leaves ends it with ErrCanceled and the provider sees its
// connection closed, long before any timeout; nothing stays armed.
func TestClientLeavingEndsTheUpstreamWait(t *testing.T) {
	for _, tc := range []struct {
		name, prefix string
		stream       bool
	}{
		{"first byte", "", false},
		{"buffered body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":", false},
		{"stream event", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"f\r\ndata: {\"n\":1}\n\n\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSilentServer(t, tc.prefix)
			p := slowProvider(t, s.addr)
			gw, client := clientPair(t)
			var w Watch
			w.Start(gw)
			defer w.Stop()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			p.SetRequest(req, ChatCompletions, "", []byte(`{"model":"m"}`))
			resp.StreamBody = tc.stream
			done := make(chan error, 1)
			go func() {
				err := p.DoUntil(req, resp, &w)
				if err == nil && tc.stream {
					var st Stream
					if err = st.Open("silent", resp, 0); err == nil {
						buf := make([]byte, 64)
						for err == nil {
							_, err = st.Read(buf) // the event, then the wait
						}
						st.Close()
					}
				}
				done <- err
			}()
			<-s.waiting
			_ = client.Close()
			select {
			case err := <-done:
				if !errors.Is(err, ErrCanceled) {
					t.Fatalf("err = %v, want ErrCanceled", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the call did not end when its client left")
			}
			select {
			case <-s.closed:
			case <-time.After(30 * time.Second):
				t.Fatal("the provider's connection stayed open")
			}
			if !w.Gone() {
				t.Fatal("the watch does not say the client went")
			}
			if n := armedWatches(); n != 0 {
				t.Fatalf("%d watches still armed", n)
			}
		})
	}
}

// TestStrayWakeupIsAbsorbed: a past read deadline set from another
// goroutine (the watcher waking the call this connection served before)
// does not end a read whose client is still there.
func TestStrayWakeupIsAbsorbed(t *testing.T) {
	c, peer := pipe(t, time.Minute, time.Minute, time.Minute)
	gw, _ := clientPair(t)
	var w Watch
	w.Start(gw)
	defer w.Stop()
	c.watch, c.watchFor = &w, 1
	w.bind(c)
	send(t, c, peer)
	go func() {
		_ = c.Conn.SetReadDeadline(aLongTimeAgo)
		_, _ = peer.Write([]byte("x"))
	}()
	if n, err := c.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("read %d, %v; want the byte the provider sent", n, err)
	}
}

// TestStaleEventIsIgnored: an event epoll returned for an arm that was
// disarmed before the watcher acted on it does not touch the watch that
// took the slot next.
func TestStaleEventIsIgnored(t *testing.T) {
	c, _ := pipe(t, time.Minute, time.Minute, time.Minute)
	gw1, _ := clientPair(t)
	gw2, _ := clientPair(t)
	var w1, w2 Watch
	w1.Start(gw1)
	if !w1.arm(c) {
		t.Fatal("cannot arm a TCP client")
	}
	stale := unix.EpollEvent{Events: unix.EPOLLRDHUP, Fd: w1.slot - 1, Pad: int32(w1.seq)}
	w1.Stop()
	w2.Start(gw2)
	if !w2.arm(c) {
		t.Fatal("cannot arm a TCP client")
	}
	defer w2.Stop()
	if w2.slot-1 != stale.Fd {
		t.Fatalf("w2 took slot %d, not w1's %d", w2.slot-1, stale.Fd)
	}
	wake([]unix.EpollEvent{stale})
	if w1.Gone() || w2.Gone() {
		t.Fatal("a stale event marked a watch gone")
	}
}

// TestWatchWithoutASocketPolls: a client connection without a socket
// (an in-memory pipe) cannot be armed; the call still times out as usual
// and does not spin.
func TestWatchWithoutASocketPolls(t *testing.T) {
	c, peer := pipe(t, 300*time.Millisecond, time.Minute, time.Minute)
	client, _ := net.Pipe()
	defer client.Close()
	var w Watch
	w.Start(client)
	defer w.Stop()
	c.watch, c.watchFor = &w, 1
	w.bind(c)
	send(t, c, peer)
	_, err := c.Read(make([]byte, 8))
	wantTimeout(t, err, PhaseFirstByte)
	if !w.noArm || w.slot != 0 {
		t.Fatalf("noArm %v slot %d: want a polling watch", w.noArm, w.slot)
	}
}

// TestCancelEndsTheUpstreamWait: Cancel, from another goroutine, ends a
// call waiting for its first byte with ErrCanceled without marking the
// client gone, and the provider sees the connection closed; after
// Resume the watch is as good as new.
func TestCancelEndsTheUpstreamWait(t *testing.T) {
	s := startSilentServer(t, "")
	p := slowProvider(t, s.addr)
	gw, _ := clientPair(t)
	var w Watch
	w.Start(gw)
	defer w.Stop()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	p.SetRequest(req, ChatCompletions, "", []byte(`{"model":"m"}`))
	done := make(chan error, 1)
	go func() { done <- p.DoUntil(req, resp, &w) }()
	<-s.waiting
	w.Cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrCanceled) {
			t.Fatalf("DoUntil: %v, want ErrCanceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Cancel did not end the wait")
	}
	select {
	case <-s.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the provider did not see its connection closed")
	}
	if w.Gone() {
		t.Error("Cancel marked the client gone")
	}
	w.Resume()
	if w.stopped() || armedWatches() != 0 {
		t.Errorf("after Resume: stopped %v, %d armed", w.stopped(), armedWatches())
	}
}
