package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"switchboard/bench/mock"
)

// The memory scenario: what an open, idle stream costs a proxy. For each
// of the floor and the billing-on gateway, the bench opens -memory-streams
// streams at -memory-rate per second, which the mock holds silent after
// their first event (hold=), waits until every one is open and silent,
// and reads the process's RSS and open file descriptors; RSS per stream
// is (RSS with all streams open minus RSS before) / streams. Then the mock
// releases the holds, each stream runs to its end, and the server closes
// the connection (the requests say Connection: close), so the clients
// leave with the answer read. -memory-deadline bounds each target.
const (
	memoryName = "memory per open stream"
	// memorySettle is how long the bench waits, once every stream is open
	// and silent, before it reads RSS: the process's last writes and
	// frees of the opening are done by then.
	memorySettle = time.Second
	// memoryReadBuf is each client's read buffer.
	memoryReadBuf = 4 << 10
	// maxMemoryStreams bounds -memory-streams: within the gateway's
	// server.max_conns (16384) beside the bench's other connections, and
	// the gateway's connections to the mock (benchProviderConns).
	maxMemoryStreams = 15000
)

// Memory is what the memory scenario measured beyond its rows.
type Memory struct {
	// Streams is how many streams each target was asked to hold open:
	// Asked, or as many as FileLimit, the limit of open files of the
	// bench and the proxies, allows.
	Streams   int `json:"streams"`
	Asked     int `json:"asked"`
	FileLimit int `json:"file_limit"`
	// Targets are the figures of each target, in the order of the rows.
	Targets []MemoryFigures `json:"targets"`
}

// MemoryFigures is one target's memory and descriptors before and with
// its streams open.
type MemoryFigures struct {
	Target string `json:"target"`
	// Open is how many streams were open and silent when RSS was read.
	Open      int   `json:"open"`
	RSSBefore int64 `json:"rss_before_bytes"`
	RSSOpen   int64 `json:"rss_open_bytes"`
	FDsBefore int   `json:"fds_before"`
	FDsOpen   int   `json:"fds_open"`
	// KiBPerStream is (RSSOpen - RSSBefore) / Open, in KiB.
	KiBPerStream float64 `json:"kib_per_stream"`
	// FDsPerStream is (FDsOpen - FDsBefore) / Open.
	FDsPerStream float64 `json:"fds_per_stream"`
}

// newMemoryFigures computes the per-stream figures of a target that had
// open streams open when it measured rss and fds; zero per-stream figures
// when none was.
func newMemoryFigures(target string, open int, rssBefore, rssOpen int64, fdsBefore, fdsOpen int) MemoryFigures {
	f := MemoryFigures{Target: target, Open: open, RSSBefore: rssBefore, RSSOpen: rssOpen, FDsBefore: fdsBefore, FDsOpen: fdsOpen}
	if open > 0 {
		f.KiBPerStream = float64(rssOpen-rssBefore) / 1024 / float64(open)
		f.FDsPerStream = float64(fdsOpen-fdsBefore) / float64(open)
	}
	return f
}

// memoryTargets returns the targets the memory scenario measures: the
// floor and the billing-on gateway, those whose process the bench started.
func memoryTargets(targets []*target) []*target {
	var out []*target
	for _, name := range []string{targetFloor, targetGateway} {
		if t := findTarget(targets, name); t != nil && t.proc != nil {
			out = append(out, t)
		}
	}
	return out
}

// runMemory is the memory scenario over targets, against mock m.
func runMemory(ctx context.Context, targets []*target, m *mock.Server, o *options) Scenario {
	targets = memoryTargets(targets)
	n, limit := o.memoryStreams, fileLimit()
	count := fmt.Sprint(n)
	if fdsNeeded(n) > limit {
		n = streamsAllowed(limit)
		count = fmt.Sprintf("%d (of the %d asked: the open-file limit, %d, allows no more, as each stream takes two in the bench and two in the proxy)", n, o.memoryStreams, limit)
		logf("%s: %d streams, as many as the open-file limit (%d) allows", memoryName, n, limit)
	}
	fig := &Memory{Streams: n, Asked: o.memoryStreams, FileLimit: limit}
	rows := make([]Row, len(targets))
	for i, t := range targets {
		h := newHist()
		f, ok, err := memoryStreams(ctx, t, m, n, o, h)
		r := Row{Target: t.name, Requests: ok, Errors: int64(n) - ok, Latency: percentiles(h)}
		if err != nil {
			r.FirstError = err.Error()
		}
		fig.Targets = append(fig.Targets, f)
		rows[i] = r
	}
	return Scenario{
		Name: memoryName,
		Kind: kindMemory,
		Method: fmt.Sprintf("%s streams per target opened at %d/s, the mock silent after their first event; %s after the last is open and silent, "+
			"the process's RSS and open file descriptors are read: per stream is (with the streams open minus before) / streams. "+
			"Then the mock goes on, each stream runs to its end and the server closes its connection. Latency: until a stream's first event",
			count, o.memoryRate, memorySettle),
		Rows:   rows,
		Memory: fig,
	}
}

// memoryStreams holds n streams open through t and measures
// what they cost t's process. It returns the figures, how many streams
// ran to their end, and the first error; each stream's time to its first
// event goes to h.
func memoryStreams(ctx context.Context, t *target, m *mock.Server, n int, o *options, h *hdrhistogram.Histogram) (MemoryFigures, int64, error) {
	f := MemoryFigures{Target: t.name}
	if n <= 0 {
		return f, 0, fmt.Errorf("%s: the open-file limit (%d) allows no stream", t.name, fileLimit())
	}
	if held := m.Holding(); held != 0 {
		return f, 0, fmt.Errorf("%s: the mock already holds %d answers", t.name, held)
	}
	u, err := url.Parse(t.base)
	if err != nil {
		return f, 0, fmt.Errorf("%s: %w", t.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.memoryDeadline)
	defer cancel()
	deadline, _ := ctx.Deadline()
	// The hold outlasts the scenario: only ReleaseHolds ends it.
	body := t.api.body("mock/"+mockModel+"+hold="+o.memoryDeadline.String(), true)
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		t.api.path, u.Host, t.key, len(body), body)

	rssBefore, err := currentRSS(t.proc.pid)
	if err != nil {
		return f, 0, err
	}
	fdsBefore, err := openFDs(t.proc.pid)
	if err != nil {
		return f, 0, err
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		conns    []net.Conn
		firstErr error
		opened   atomic.Int64
		ended    atomic.Int64
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", t.name, err)
		}
		mu.Unlock()
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return firstErr
	}
	// However the scenario ends, no hold and no client outlives it.
	defer func() {
		m.ReleaseHolds()
		wait(&wg, time.Until(deadline)+time.Second)
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()

	start := time.Now()
	interval := time.Second / time.Duration(o.memoryRate)
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			return f, ended.Load(), fmt.Errorf("%s: %d of %d streams opened within %s", t.name, opened.Load(), n, o.memoryDeadline)
		}
		began := time.Now()
		c, err := net.DialTimeout("tcp", u.Host, o.timeout)
		if err != nil {
			return f, ended.Load(), fmt.Errorf("%s: stream %d: %w", t.name, i, err)
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		_ = c.SetDeadline(deadline)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := holdStream(c, req, func() {
				opened.Add(1)
				mu.Lock()
				record(h, time.Since(began))
				mu.Unlock()
			})
			if err != nil {
				fail(err)
				return
			}
			ended.Add(1)
		}()
	}
	for int(opened.Load()) < n || m.Holding() < n {
		if ctx.Err() != nil {
			return f, ended.Load(), errors.Join(failed(), fmt.Errorf("%s: %d of %d streams open, %d held by the mock within %s", t.name, opened.Load(), n, m.Holding(), o.memoryDeadline))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(memorySettle)
	rssOpen, errRSS := currentRSS(t.proc.pid)
	fdsOpen, errFDs := openFDs(t.proc.pid)
	if err := errors.Join(errRSS, errFDs); err != nil {
		return f, ended.Load(), err
	}
	f = newMemoryFigures(t.name, m.Holding(), rssBefore, rssOpen, fdsBefore, fdsOpen)

	m.ReleaseHolds()
	if !wait(&wg, time.Until(deadline)) {
		return f, ended.Load(), errors.Join(failed(), fmt.Errorf("%s: %d of %d streams ended within %s", t.name, ended.Load(), n, o.memoryDeadline))
	}
	for m.Holding() > 0 {
		if ctx.Err() != nil {
			return f, ended.Load(), fmt.Errorf("%s: the mock still holds %d answers after every stream ended", t.name, m.Holding())
		}
		time.Sleep(time.Millisecond)
	}
	return f, ended.Load(), failed()
}

// holdStream sends req on c, calls opened once the first event of the
// answer arrived, then reads the stream to its end, which the server
// marks by closing the connection, and closes c. It fails unless the
// answer was a 200 that ended with data: [DONE].
func holdStream(c net.Conn, req []byte, opened func()) error {
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		return err
	}
	buf := make([]byte, memoryReadBuf)
	var (
		seen      []byte // the answer's start, until its first event
		tail      []byte // the last bytes read, to find [DONE] across reads
		isOpen    bool
		statusErr error
	)
	for {
		n, err := c.Read(buf)
		p := buf[:n]
		if !isOpen && n > 0 {
			seen = append(seen, p...)
			if !bytes.HasPrefix(seen, []byte("HTTP/1.1 200")) && len(seen) >= len("HTTP/1.1 200") {
				statusErr = fmt.Errorf("answer %.200q", seen)
			}
			if bytes.Contains(seen, []byte("data:")) {
				isOpen = true
				opened()
				seen = nil
			}
		}
		tail = append(tail, p...)
		if len(tail) > 64 {
			tail = append(tail[:0], tail[len(tail)-64:]...)
		}
		if err != nil {
			switch {
			case statusErr != nil:
				return statusErr
			case !isOpen:
				return fmt.Errorf("no event before %w", err)
			case !bytes.Contains(tail, []byte("data: [DONE]")):
				return fmt.Errorf("the stream ended without [DONE]: %w", err)
			}
			return nil
		}
	}
}

// wait waits for wg at most d and reports whether it is done.
func wait(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// fdMargin is what a process needs beside its streams' file descriptors:
// listeners, idle pooled connections, the gateway's store files.
const fdMargin = 512

// fdsNeeded is how many file descriptors n streams need in the bench
// process (each one's client connection and the mock's side of its
// upstream connection) and in a proxy (its client and upstream
// connection), with fdMargin for the rest.
func fdsNeeded(n int) int { return 2*n + fdMargin }

// streamsAllowed is how many streams a limit of open files allows.
func streamsAllowed(limit int) int { return max(0, (limit-fdMargin)/2) }

// writeMemory writes the memory scenario's table.
func writeMemory(b *strings.Builder, s Scenario) {
	b.WriteString("| target | streams open | errors | RSS before | RSS with streams open | KiB per stream | fds before | fds open | fds per stream | first event p50 | p99 |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i, r := range s.Rows {
		if i >= len(s.Memory.Targets) {
			break
		}
		f := s.Memory.Targets[i]
		fmt.Fprintf(b, "| %s | %d | %d | %s | %s | %.1f | %d | %d | %.2f | %s | %s |\n", r.Target, f.Open, r.Errors,
			mib(f.RSSBefore), mib(f.RSSOpen), f.KiBPerStream, f.FDsBefore, f.FDsOpen, f.FDsPerStream, us(r.Latency.P50), us(r.Latency.P99))
	}
}
