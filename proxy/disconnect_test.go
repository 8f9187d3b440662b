package proxy

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"
	"switchboard/store"
	"switchboard/upstream"
)

// holdLong is how long the mock holds an answer silent in these tests:
// far beyond their deadlines, so a hold that ends with a close was ended
// by the gateway cancelling the call, not by the mock going on.
const holdLong = "+hold=30s"

// sendAs writes a request of client format cf, with the test key in the
// header that format's SDK uses, on a raw connection.
func sendAs(c net.Conn, cf clientFormat, path, body string) {
	auth := "Authorization: Bearer " + testKey
	if cf.format == upstream.FormatGemini {
		auth = "x-goog-api-key: " + testKey
	}
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, auth, len(body), body)
}

// readStreamStart reads a streamed answer until its first event: the
// client has seen part of the response.
func readStreamStart(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("the stream did not start: %q %v", line, err)
	}
	for !strings.HasPrefix(line, "data:") && !strings.HasPrefix(line, "event:") {
		if line, err = br.ReadString('\n'); err != nil {
			t.Fatalf("no event before the hold: %v", err)
		}
	}
}

// waitHold waits until the mock holds n answers.
func waitHold(t *testing.T, m *mock.Server, n int) {
	t.Helper()
	waitFor(t, 20*time.Second, func() string {
		if h := m.Holding(); h != n {
			return fmt.Sprintf("the mock holds %d answers, want %d", h, n)
		}
		return ""
	})
}

// operatorEntries returns the operator's ledger entries, newest first.
func operatorEntries(t *testing.T, g *gateway) []store.Entry {
	t.Helper()
	if err := g.srv.store.Flush(); err != nil {
		t.Fatal(err)
	}
	es, _, err := g.srv.store.Entries("operator", store.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// noCallsLeft fails unless every stream and upstream call has ended:
// no open stream, no goroutine left relaying or waiting on a provider.
func noCallsLeft() string {
	if n := openStreams.Get(); n != 0 {
		return fmt.Sprintf("%v streams still open", n)
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, f := range []string{"proxy.(*relay).Read", "upstream.(*Provider).DoUntil"} {
		if n := strings.Count(stacks, f); n > 0 {
			return fmt.Sprintf("%d goroutines still in %s:\n%s", n, f, stacks)
		}
	}
	return ""
}

// TestClientLeavingCancelsTheUpstreamCall: on every client API, against
// a provider of every wire format (the same, and translated), streamed
// and not, a client that leaves while the provider is silent mid-answer
// gets its upstream call cancelled: the mock sees its connection close
// long before its hold would end (a pooled connection would stay open),
// and the call is in the ledger, estimated: a buffered call as reached
// and cancelled (499, the prompt, no output), a stream with the output
// relayed until then.
func TestClientLeavingCancelsTheUpstreamCall(t *testing.T) {
	g := startFourFormatGateway(t)
	baseConns := g.Mock.OpenConns()
	for _, cf := range clientFormats {
		for _, pm := range providerModels {
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s->%s/stream=%v", cf.name, pm.model, stream), func(t *testing.T) {
					before := len(g.Mock.Holds())
					entries := len(operatorEntries(t, g))
					model := pm.model + holdLong
					if stream {
						model += "+holdafter=6" // past the opening events: some content reached the client
					}
					path, body := cf.request(model, false, stream)
					c := g.rawConn(t)
					sendAs(c, cf, path, body)
					if stream {
						readStreamStart(t, c)
					}
					waitHold(t, g.Mock, 1)
					_ = c.Close()
					waitHold(t, g.Mock, 0)
					holds := g.Mock.Holds()
					if len(holds) != before+1 || holds[before].Closed.IsZero() {
						t.Fatalf("the mock did not see its connection close: holds %+v", holds[before:])
					}
					var e store.Entry
					waitFor(t, 20*time.Second, func() string {
						es := operatorEntries(t, g)
						if len(es) != entries+1 {
							return fmt.Sprintf("%d ledger entries, want %d", len(es), entries+1)
						}
						e = es[0]
						return ""
					})
					if e.Settled != store.SettledEstimate || e.InputTokens == 0 {
						t.Fatalf("entry %+v: want an estimated entry with the prompt", e)
					}
					if !stream && (e.Status != 499 || e.OutputTokens != 0) {
						t.Fatalf("entry %+v: want 499 without output", e)
					}
					if stream && (e.Status != 200 || e.OutputTokens == 0) {
						t.Fatalf("entry %+v: want the relayed output", e)
					}
				})
			}
		}
	}
	waitFor(t, 20*time.Second, func() string {
		if open := g.Mock.OpenConns(); open > baseConns {
			return fmt.Sprintf("the mock still has %d open connections (baseline %d)", open, baseConns)
		}
		return noCallsLeft()
	})
}

// TestClientLeavingBeforeTheHeaders: a client that leaves while the
// provider has not even answered its headers cancels the call too,
// streamed or not.
func TestClientLeavingBeforeTheHeaders(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	for _, stream := range []string{"", `,"stream":true`} {
		before := len(g.Mock.Holds())
		c := g.rawConn(t)
		sendRaw(c, chat("mock/mock-model"+holdLong+"+holdafter=0", stream))
		waitHold(t, g.Mock, 1)
		_ = c.Close()
		waitHold(t, g.Mock, 0)
		if h := g.Mock.Holds(); len(h) != before+1 || h[before].Closed.IsZero() {
			t.Fatalf("stream %q: the mock did not see its connection close", stream)
		}
	}
	waitFor(t, 20*time.Second, noCallsLeft)
}

// TestAbortedStreamsReturnFDsToBaseline: after 500 streams whose clients
// left while the provider was silent, the process holds no more file
// descriptors than before, and no call is left running.
func TestAbortedStreamsReturnFDsToBaseline(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd to count")
	}
	g := startGateway(t, mock.Options{}, "")
	body := chat("mock/mock-model"+holdLong, `,"stream":true`)
	abort := func(n int) {
		t.Helper()
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			sendRaw(c, body)
			conns[i] = c
		}
		waitHold(t, g.Mock, n)
		for _, c := range conns {
			_ = c.Close()
		}
		waitHold(t, g.Mock, 0)
	}
	abort(1) // the watcher's epoll set exists from here on
	waitFor(t, 20*time.Second, noCallsLeft)
	base := countFDs(t)
	for range 5 {
		abort(100)
	}
	waitFor(t, 30*time.Second, func() string {
		if n := countFDs(t); n > base {
			return fmt.Sprintf("%d file descriptors open, %d before the aborted streams", n, base)
		}
		return noCallsLeft()
	})
	closed := 0
	for _, h := range g.Mock.Holds() {
		if !h.Closed.IsZero() {
			closed++
		}
	}
	if closed != 501 {
		t.Fatalf("the mock saw %d of 501 held streams closed", closed)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}
