package mock

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

var (
	errStreamReset  = errors.New("mock: stream reset as requested")
	errServerClosed = errors.New("mock: server closed")
)

// sseStream is a response body that yields one SSE event per Read, after
// the wait that event asks for. fasthttp writes each Read as one HTTP chunk
// and flushes it, so every event leaves at once, with no goroutine per
// stream (SetBodyStreamWriter would add one).
//
// Timing: the first event waits ttft; events 1 to timed-1 (the content or
// tool-call deltas) are due gap apart, counted from the first event so
// that late timer wake-ups do not add up, the way a model emits tokens at
// a steady rate; the closing events (finish, usage, [DONE]) follow at once. With reset >= 0 the connection is reset instead of
// sending event number reset, so reset=N delivers exactly N events; a reset
// beyond the last event never happens.
type sseStream struct {
	s     *Server
	conn  net.Conn
	buf   *buffer
	ends  []int // end offset in buf.b of each event
	ttft  time.Duration
	gap   time.Duration
	timed int
	reset int

	first time.Time // when the first event went out
	next  int       // index of the next event to start
	off   int       // bytes of buf.b sent
	end   int       // end offset of the event being sent
}

// event appends "data: " to the buffer; finish the event with endEvent.
func (st *sseStream) event() {
	st.buf.b = append(st.buf.b, "data: "...)
}

// endEvent terminates the event being built with a blank line.
func (st *sseStream) endEvent() {
	st.buf.b = append(st.buf.b, "\n\n"...)
	st.ends = append(st.ends, len(st.buf.b))
}

// Read implements io.Reader.
func (st *sseStream) Read(p []byte) (int, error) {
	if st.off == st.end {
		if st.next == len(st.ends) {
			return 0, io.EOF
		}
		if st.next == st.reset {
			if err := resetConn(st.conn); err != nil {
				return 0, err
			}
			return 0, errStreamReset
		}
		wait := time.Duration(0)
		switch {
		case st.next == 0:
			wait = st.ttft
		case st.next < st.timed:
			wait = time.Until(st.first.Add(time.Duration(st.next) * st.gap))
		}
		if !st.s.sleep(wait) {
			return 0, errServerClosed
		}
		if st.next == 0 {
			st.first = time.Now()
		}
		st.end = st.ends[st.next]
		st.next++
	}
	n := copy(p, st.buf.b[st.off:st.end])
	st.off += n
	return n, nil
}

// Close implements io.Closer; fasthttp calls it once the body is written.
func (st *sseStream) Close() error {
	releaseBuf(st.buf)
	st.buf = nil
	return nil
}

// stream answers c with an SSE stream; ep is endpointChat or
// endpointCompletions.
func (s *Server) stream(c *call, ep endpoint) {
	st := &sseStream{
		s:     s,
		conn:  c.ctx.Conn(),
		buf:   acquireBuf(),
		ttft:  c.f.ttft,
		gap:   s.gap(&c.f),
		reset: c.f.reset,
	}
	if ep == endpointChat {
		s.chatEvents(st, c)
	} else {
		s.completionEvents(st, c)
	}
	st.event()
	st.buf.b = append(st.buf.b, "[DONE]"...)
	st.endEvent()

	ctx := c.ctx
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.Response.ImmediateHeaderFlush = true
	ctx.SetBodyStream(st, -1)
}

// chunks returns the number of content chunks f asks for.
func (s *Server) chunks(f *faults) int {
	if f.chunks >= 0 {
		return f.chunks
	}
	return s.opts.Chunks
}

// gap returns the delay between streamed chunks f asks for.
func (s *Server) gap(f *faults) time.Duration {
	if f.gap >= 0 {
		return f.gap
	}
	return s.opts.ChunkDelay
}
