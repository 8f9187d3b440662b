package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fasthttp"
)

// runStream is the streaming scenario: one streamed request at a time,
// the targets taking turns in short windows. It measures the time to the
// first content chunk and how far the mean gap between chunks exceeds the
// mock's own gap.
func runStream(ctx context.Context, targets []*target, o *options) Scenario {
	what := fmt.Sprintf("stream:true with include_usage, %d chunks %s apart", o.streamChunks, o.streamGap)
	return streamScenario(ctx, targets, o, "streaming c=1", o.streamDur, what)
}

// streamScenario runs the streaming scenario over the targets for d, and
// names it name; what says what the requests are, for its method.
func streamScenario(ctx context.Context, targets []*target, o *options, name string, d time.Duration, what string) Scenario {
	n := rounds(d, o.window, len(targets))
	perWindow := max(1, o.maxRequests/n)
	tallies := newTallies(len(targets))
	reqs := make([]*fasthttp.Request, len(targets))
	for i, t := range targets {
		reqs[i] = t.request(true)
	}
	resp := new(fasthttp.Response)
	buf := make([]byte, 16<<10)
	alternate(ctx, targets, tallies, n, func(i int) {
		t, tl := targets[i], tallies[i]
		serial(o.window, perWindow, func(first bool) {
			s, err := t.stream(reqs[i], resp, time.Now().Add(o.timeout), o.streamChunks, buf)
			switch {
			case err != nil:
				tl.fail(err)
			case first:
				tl.addUnmeasured()
			default:
				tl.mu.Lock()
				record(tl.ttfb, s.ttfb)
				if s.chunks > 1 { // a replayed cache hit comes in one chunk
					record(tl.gap, s.gap)
				}
				tl.mu.Unlock()
				tl.add(s.total)
			}
		})
	})
	rows := buildRows(targets, tallies, o.streamGap)
	return Scenario{
		Name:    name,
		Kind:    kindStream,
		Method:  fmt.Sprintf("%s; one stream at a time; %d rounds of one %s window per target, its first stream not measured", what, n, o.window),
		Rows:    rows,
		Billing: billingDelta(rows),
	}
}

// streamSample is what one streamed request measured.
type streamSample struct {
	ttfb   time.Duration // until the first content chunk arrived
	gap    time.Duration // mean time between content chunks
	total  time.Duration // until the stream ended
	chunks int
}

// stream sends a streaming req and reads the events as they arrive, into
// buf, until deadline. The stream must carry want content chunks (t.chunks
// when set), end as t's API ends a stream ([DONE] for chat completions)
// and have headers that t.check accepts.
func (t *target) stream(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, want int, buf []byte) (streamSample, error) {
	var s streamSample
	if t.chunks > 0 {
		want = t.chunks
	}
	if t.next != nil {
		req.SetBodyRaw(t.next(true))
	}
	start := time.Now()
	resp.StreamBody = true
	if err := t.client.DoDeadline(req, resp, deadline); err != nil {
		return s, fmt.Errorf("%s: %w", t.name, err)
	}
	defer func() { _ = resp.CloseBodyStream() }()
	if resp.StatusCode() != fasthttp.StatusOK {
		body, _ := readPrefix(resp, buf)
		return s, fmt.Errorf("%s: status %d: %.200s", t.name, resp.StatusCode(), body)
	}
	if err := t.checkHeaders(&resp.Header); err != nil {
		return s, err
	}
	body := resp.BodyStream()
	if body == nil {
		return s, fmt.Errorf("%s: stream without a body", t.name)
	}
	var (
		sc          sseScanner
		first, last time.Time
		done        bool
	)
	for {
		n, err := body.Read(buf)
		now := time.Now()
		sc.feed(buf[:n], func(ev []byte) {
			switch {
			case t.api.isContent(ev):
				if s.chunks == 0 {
					first = now
				}
				last = now
				s.chunks++
			case t.api.isEnd(ev):
				done = true
			}
		})
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// Including the timeout: fasthttp set the connection's read
			// deadline to the request's before reading the headers.
			return s, fmt.Errorf("%s: stream broke after %d chunks: %w", t.name, s.chunks, err)
		}
	}
	s.total = time.Since(start)
	if s.chunks != want || !done {
		return s, fmt.Errorf("%s: stream ended with %d content chunks (want %d), end seen: %v", t.name, s.chunks, want, done)
	}
	s.ttfb = first.Sub(start)
	if s.chunks > 1 {
		s.gap = last.Sub(first) / time.Duration(s.chunks-1)
	}
	return s, nil
}

// readPrefix reads the start of a streamed body into buf, for an error
// message.
func readPrefix(resp *fasthttp.Response, buf []byte) ([]byte, error) {
	body := resp.BodyStream()
	if body == nil {
		return resp.Body(), nil
	}
	n, err := io.ReadFull(body, buf)
	return buf[:n], err
}

// sseScanner splits a byte stream into SSE events.
type sseScanner struct{ pending []byte }

// feed adds p to the stream and calls fn with each event it completes,
// without the blank line ending it. Lines may end in "\n" or "\r\n".
func (sc *sseScanner) feed(p []byte, fn func(event []byte)) {
	sc.pending = append(sc.pending, p...)
	start := 0
	for i := start; i < len(sc.pending); i++ {
		if sc.pending[i] != '\n' {
			continue
		}
		// A line ending at i; the event ends if the next line is empty.
		j := i + 1
		if j < len(sc.pending) && sc.pending[j] == '\r' {
			j++
		}
		if j < len(sc.pending) && sc.pending[j] == '\n' {
			if ev := bytes.TrimRight(sc.pending[start:i], "\r"); len(ev) > 0 {
				fn(ev)
			}
			start = j + 1
			i = j
		}
	}
	sc.pending = append(sc.pending[:0], sc.pending[start:]...)
}

// isContentEvent reports whether an event carries a content chunk of the
// mock. The mock's content is "chunk N "; the object name
// "chat.completion.chunk" is not followed by a space.
func isContentEvent(ev []byte) bool {
	return bytes.Contains(ev, []byte(`"chunk `)) && bytes.Contains(ev, []byte(`"content"`))
}

// isDoneEvent reports whether an event is the final "data: [DONE]".
func isDoneEvent(ev []byte) bool {
	return bytes.Equal(bytes.TrimSpace(bytes.TrimPrefix(ev, []byte("data:"))), []byte("[DONE]"))
}
