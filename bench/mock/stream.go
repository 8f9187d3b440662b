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

// sseEvent is one event of an sseStream. Offsets fit in int32: the
// longest answer the directive bounds allow is well under 100 MB.
type sseEvent struct {
	end  int32 // end offset in buf.b
	tick int32 // due tick*gap after the first event; 0: at once
}

// inlineEvents is how many events an sseStream holds without allocating:
// the default answer on every surface fits.
const inlineEvents = 16

// sseStream is a response body that yields one event per Read, after the
// wait that event asks for. fasthttp writes each Read as one HTTP chunk
// and flushes it, so every event leaves at once, with no goroutine per
// stream (SetBodyStreamWriter would add one). The whole answer is built
// before the first Read; events are byte ranges of one pooled buffer.
//
// Timing: the first event waits ttft. A delta (a content, thinking or
// tool-argument piece, ended with endDelta) number k is due k*gap after
// the first event, so that late timer wake-ups do not add up, the way a
// model emits tokens at a steady rate; every other event (role, block
// starts and stops, finish, usage, [DONE]) follows the one before at
// once. With reset >= 0 the connection is reset instead of sending event
// number reset, so reset=N delivers exactly N events; a reset beyond the
// last event never happens.
//
// In-band errors (streamerror=N): the event builder marks where the
// (N+1)th delta starts; failing cuts the answer there, or after the last
// delta if there are N or fewer, and the surface appends its error event.
type sseStream struct {
	s      *Server
	conn   net.Conn
	buf    *buffer
	events []sseEvent
	ttft   time.Duration
	gap    time.Duration
	reset  int
	// hold: before event number holdAt (> 0), go silent this long,
	// watching the connection (hold=); 0 once held.
	hold   time.Duration
	holdAt int

	deltas    int // deltas ended so far
	failAfter int // streamerror=: cut before delta number failAfter; -1: no
	cut       int // events kept before the in-band error; -1: none yet
	afterLast int // events up to and including the last delta

	first time.Time // when the first event went out
	next  int       // index of the next event to start
	off   int       // bytes of buf.b sent
	end   int       // end offset of the event being sent

	inline [inlineEvents]sseEvent
}

// newStream returns a stream answering c; build its events, then call
// send.
func (s *Server) newStream(c *call) *sseStream {
	st := &sseStream{
		s:         s,
		conn:      c.ctx.Conn(),
		buf:       acquireBuf(),
		ttft:      c.f.ttft,
		gap:       s.gap(&c.f),
		reset:     c.f.reset,
		hold:      c.f.hold,
		holdAt:    c.f.holdAfter,
		failAfter: c.f.streamErr,
		cut:       -1,
	}
	st.events = st.inline[:0]
	return st
}

// event appends "data: "; finish the event with endEvent or endDelta.
func (st *sseStream) event() {
	st.buf.b = append(st.buf.b, "data: "...)
}

// named appends "event: name" and "data: "; finish the event with
// endEvent or endDelta.
func (st *sseStream) named(name string) {
	st.buf.b = append(st.buf.b, "event: "...)
	st.buf.b = append(st.buf.b, name...)
	st.buf.b = append(st.buf.b, "\ndata: "...)
}

// endEvent terminates the event being built with a blank line; it follows
// the event before at once.
func (st *sseStream) endEvent() {
	st.buf.b = append(st.buf.b, "\n\n"...)
	st.mark()
}

// endDelta terminates the event being built, a delta, with a blank line;
// it is due gap after the delta before.
func (st *sseStream) endDelta() {
	st.buf.b = append(st.buf.b, "\n\n"...)
	st.markDelta()
}

// mark ends an event that follows the one before at once, whatever its
// framing.
func (st *sseStream) mark() {
	st.events = append(st.events, sseEvent{end: int32(len(st.buf.b))})
}

// markDelta ends a delta event, whatever its framing.
func (st *sseStream) markDelta() {
	if st.deltas == st.failAfter && st.cut < 0 {
		st.cut = len(st.events)
	}
	st.events = append(st.events, sseEvent{end: int32(len(st.buf.b)), tick: int32(st.deltas)})
	st.deltas++
	st.afterLast = len(st.events)
}

// failing reports whether streamerror= asks for an in-band error; if so it
// drops the events from the cut on, and the caller appends its error event
// in their place.
func (st *sseStream) failing() bool {
	if st.failAfter < 0 {
		return false
	}
	if st.cut < 0 {
		st.cut = st.afterLast
	}
	st.events = st.events[:st.cut]
	st.buf.b = st.buf.b[:st.endOf(st.cut)]
	return true
}

// endOf returns the end offset of the first n events.
func (st *sseStream) endOf(n int) int {
	if n == 0 {
		return 0
	}
	return int(st.events[n-1].end)
}

// Read implements io.Reader.
func (st *sseStream) Read(p []byte) (int, error) {
	if st.off == st.end {
		if st.next == len(st.events) {
			return 0, io.EOF
		}
		if st.next == st.reset {
			if err := resetConn(st.conn); err != nil {
				return 0, err
			}
			return 0, errStreamReset
		}
		if st.hold > 0 && st.holdAt > 0 && st.next == st.holdAt {
			d := st.hold
			st.hold = 0
			if st.s.hold(st.conn, d) {
				return 0, errHoldClosed
			}
		}
		ev := st.events[st.next]
		wait := time.Duration(0)
		switch {
		case st.next == 0:
			wait = st.ttft
		case ev.tick > 0 && st.gap > 0:
			wait = time.Until(st.first.Add(time.Duration(ev.tick) * st.gap))
		}
		if !st.s.sleep(wait) {
			return 0, errServerClosed
		}
		if st.next == 0 {
			st.first = time.Now()
		}
		st.end = int(ev.end)
		st.next++
	}
	n := copy(p, st.buf.b[st.off:st.end])
	st.off += n
	return n, nil
}

// Close implements io.Closer; fasthttp calls it once the body is written.
func (st *sseStream) Close() error {
	if st.buf != nil {
		releaseBuf(st.buf)
		st.buf = nil
	}
	return nil
}

// send makes st the response body, with contentType.
func (st *sseStream) send(ctx *fasthttp.RequestCtx, contentType string) {
	ctx.SetContentType(contentType)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.Response.ImmediateHeaderFlush = true
	ctx.SetBodyStream(st, -1)
}

// stream answers c with a stream in the format of ep.
func (s *Server) stream(c *call, ep endpoint) {
	st := s.newStream(c)
	contentType := "text/event-stream"
	switch ep {
	case endpointChat, endpointCompletions:
		if ep == endpointChat {
			s.chatEvents(st, c)
		} else {
			s.completionEvents(st, c)
		}
		if st.failing() {
			st.event()
			st.buf.b = appendOpenAIError(st.buf.b, streamErrorMessage, "server_error", "")
			st.endEvent()
			break
		}
		st.event()
		st.buf.b = append(st.buf.b, "[DONE]"...)
		st.endEvent()
	case endpointMessages:
		s.messageEvents(st, c)
	case endpointResponses:
		s.responseEvents(st, c)
	case endpointStreamGenerate:
		if !c.sse {
			contentType = "application/json"
		}
		s.geminiEvents(st, c)
	default:
		panic("BUG: no stream for endpoint " + ep.surface())
	}
	st.send(c.ctx, contentType)
}

// streamErrorMessage is the message of the in-band errors streamerror=
// injects.
const streamErrorMessage = "mock: injected stream error (streamerror=)"

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
