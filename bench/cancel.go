package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"switchboard/bench/mock"
)

// The cancel scenario: how soon a gateway closes its upstream connection
// once a streaming client leaves while the provider is silent (DESIGN.md:
// within 50 ms). Each target gets -cancel-streams streams at once, which
// the mock holds silent after their first event (hold=); while all are
// open and silent, the gateway's CPU time is read (what idle streams
// cost); then the bench closes the client connections one at a time and
// takes, for each, the time from its close to the moment the mock saw its
// own side of the upstream connection close (Server.HoldsClosed): the
// kernel's FIN to the gateway, the gateway noticing, cancelling and
// closing, and the FIN to the mock. Direct is the reference: the same
// close reaching the mock with no gateway between. The floor, a bare byte
// proxy, learns that a client left only from its next write, which a
// silent provider never causes, so it is not measured.
const (
	cancelName = "client cancel, streaming"
	// cancelHold is the mock's hold: longer than the scenario, so that
	// every close the mock sees is a cancellation.
	cancelHold = 60 * time.Second
	// cancelWait is how long the bench waits for one close to reach the
	// mock before it counts an error and gives up on the target.
	cancelWait = 2 * time.Second
)

// Cancel is what the cancel scenario measured beyond its rows.
type Cancel struct {
	// Streams is how many streams each target held open at once.
	Streams int `json:"streams"`
	// IdleSeconds is how long the streams stayed open and silent while
	// the CPU time was read.
	IdleSeconds float64 `json:"idle_seconds"`
	// IdleCPU is each gateway's CPU time meanwhile, in percent of one
	// core.
	IdleCPU map[string]float64 `json:"idle_cpu_pct"`
}

// cancelTargets returns the targets the cancel scenario measures: direct
// and the built-in gateways.
func cancelTargets(targets []*target) []*target {
	var out []*target
	for _, name := range []string{targetDirect, targetGateway, targetGatewayNoBill} {
		if t := findTarget(targets, name); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// runCancel is the cancel scenario over targets, against mock m.
func runCancel(ctx context.Context, targets []*target, m *mock.Server, o *options) Scenario {
	targets = cancelTargets(targets)
	fig := &Cancel{Streams: o.cancelStreams, IdleSeconds: o.cancelIdle.Seconds(), IdleCPU: map[string]float64{}}
	rows := make([]Row, len(targets))
	for i, t := range targets {
		h := newHist()
		r := Row{Target: t.name}
		idle, err := cancelStreams(ctx, t, m, o, h)
		if err != nil {
			r.Errors = int64(o.cancelStreams) - h.TotalCount()
			r.FirstError = err.Error()
		}
		if idle >= 0 {
			fig.IdleCPU[t.name] = idle
		}
		r.Requests = h.TotalCount()
		r.Latency = percentiles(h)
		rows[i] = r
	}
	if base := findRow(rows, targetDirect); base != nil && base.Requests > 0 {
		for i := range rows {
			if r := &rows[i]; r.Target != targetDirect && r.Requests > 0 {
				r.OverDirect = ptr(r.Latency.minus(base.Latency))
			}
		}
	}
	return Scenario{
		Name: cancelName,
		Kind: kindCancel,
		Method: fmt.Sprintf("%d streams per target open at once, the mock silent after the first event (hold=%s); %s with all of them open and silent, then the clients leave one at a time: "+
			"latency is from a client's close to the mock seeing its upstream connection close. Direct is the close reaching the mock itself; the floor is not measured (it notices a client only when it writes)",
			o.cancelStreams, cancelHold, o.cancelIdle),
		Rows:   rows,
		Cancel: fig,
	}
}

// cancelStreams opens o.cancelStreams held streams to t, reads t's CPU
// over o.cancelIdle (the percentage of a core, -1 if not measured), then
// closes them one by one and records each close's way to the mock in h.
func cancelStreams(ctx context.Context, t *target, m *mock.Server, o *options, h *hdrhistogram.Histogram) (idle float64, err error) {
	idle = -1
	if held := m.Holding(); held != 0 {
		return idle, fmt.Errorf("%s: the mock already holds %d answers", t.name, held)
	}
	u, err := url.Parse(t.base)
	if err != nil {
		return idle, fmt.Errorf("%s: %w", t.name, err)
	}
	body := t.api.body("mock/"+mockModel+"+hold="+cancelHold.String(), true)
	var req strings.Builder
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		t.api.path, u.Host, t.key, len(body), body)

	conns := make([]net.Conn, 0, o.cancelStreams)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range o.cancelStreams {
		c, err := net.DialTimeout("tcp", u.Host, o.timeout)
		if err != nil {
			return idle, fmt.Errorf("%s: %w", t.name, err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte(req.String())); err != nil {
			return idle, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	for deadline := time.Now().Add(o.timeout); m.Holding() < len(conns); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return idle, fmt.Errorf("%s: %d of %d streams reached the mock's hold", t.name, m.Holding(), len(conns))
		}
	}
	if t.proc != nil {
		before, errBefore := cpuTicks(t.proc.pid)
		start := time.Now()
		time.Sleep(o.cancelIdle)
		after, errAfter := cpuTicks(t.proc.pid)
		if errBefore == nil && errAfter == nil {
			idle = 100 * float64(time.Duration(after-before)*clockTick) / float64(time.Since(start))
		}
	} else {
		time.Sleep(o.cancelIdle)
	}
	// A client that leaves has read what it was sent; closing with
	// unread bytes would send a reset instead of a FIN.
	buf := make([]byte, 16<<10)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
	}

	closed, _ := m.HoldsClosed()
	for i, c := range conns {
		if ctx.Err() != nil {
			return idle, ctx.Err()
		}
		start := time.Now()
		_ = c.Close()
		for {
			n, last := m.HoldsClosed()
			if n > closed+i {
				record(h, last.Sub(start))
				break
			}
			if time.Since(start) > cancelWait {
				return idle, fmt.Errorf("%s: stream %d: the upstream connection was still open %s after the client left", t.name, i, cancelWait)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	conns = conns[:0]
	for deadline := time.Now().Add(o.timeout); m.Holding() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return idle, errors.New(t.name + ": the mock still holds answers after every client left")
		}
	}
	return idle, nil
}

// writeCancel writes the cancel scenario's table.
func writeCancel(b *strings.Builder, s Scenario) {
	c := s.Cancel
	b.WriteString("| target | cancelled | errors | p50 | p90 | p99 | p99.9 | over direct | CPU while idle |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range s.Rows {
		idle := "—"
		if v, ok := c.IdleCPU[r.Target]; ok {
			idle = fmt.Sprintf("%.1f%%", v)
		}
		fmt.Fprintf(b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", r.Target, r.Requests, r.Errors,
			us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.P999), added(r.OverDirect), idle)
	}
	fmt.Fprintf(b, "\nCPU while idle: the process's CPU time while its %d streams were open and silent, in percent of one core.\n", c.Streams)
}
