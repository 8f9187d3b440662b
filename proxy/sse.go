package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"switchboard/upstream"
)

// nextEvent finds the first complete server-sent event in b: the bytes up
// to and including the blank line that ends it. Lines may end in "\n",
// "\r\n" or "\r" (the SSE spec allows all three). It returns the event's
// length, or 0 if b holds no complete event yet. A "\r" at the very end of
// b is not taken as a line end, since a "\n" may follow.
func nextEvent(b []byte) int {
	if bytes.IndexByte(b, '\r') < 0 { // the common case: "\n" only
		if len(b) > 0 && b[0] == '\n' {
			return 1
		}
		if i := bytes.Index(b, eventEnd); i >= 0 {
			return i + len(eventEnd)
		}
		return 0
	}
	lineStart := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\n' && c != '\r' {
			continue
		}
		end := i + 1
		if c == '\r' {
			if i+1 == len(b) {
				return 0
			}
			if b[i+1] == '\n' {
				end++
			}
		}
		if i == lineStart {
			return end
		}
		lineStart = end
		i = end - 1
	}
	return 0
}

// eventData returns the payload of an event's first "data:" line, without
// the one optional leading space, or nil.
func eventData(ev []byte) []byte {
	for len(ev) > 0 {
		line := ev
		if i := lineEnd(ev); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		if d, ok := bytes.CutPrefix(line, dataPrefix); ok {
			if len(d) > 0 && d[0] == ' ' {
				d = d[1:]
			}
			return d
		}
	}
	return nil
}

// lineEnd returns the index of the first '\n' or '\r' in b, or -1.
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		i = len(b)
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	if i == len(b) {
		return -1
	}
	return i
}

var (
	dataPrefix     = []byte("data:")
	eventEnd       = []byte("\n\n")
	doneData       = []byte("[DONE]")
	emptyChoices   = []byte(`"choices":[]`)
	usageKey       = []byte(`"usage"`)
	nullUsage      = []byte(`,"usage":null`)
	keepaliveEvent = []byte(": keep-alive\n\n")
)

// maxEventBytes bounds one upstream SSE event held in memory.
const maxEventBytes = 4 << 20

// relay copies an upstream SSE stream to the client event by event. It is
// the io.Reader fasthttp pulls the response body from (SetBodyStream), so
// it runs on the handler's goroutine and each Read that returns data is
// written and flushed at once; nothing is buffered beyond one event.
//
// Along the way it keeps the usage the provider reports and adds the
// cost to the client's usage event, hides the usage-only chunk when only
// the gateway asked for it, sends `: keep-alive` comments while the
// provider is silent, translates each event when the provider speaks
// another format (translate.go), and turns a failure after the stream
// started into an error event in the client's format (no retry is
// possible once bytes reached the client).
type relay struct {
	c         *call
	stream    upstream.Stream
	in        []byte // upstream bytes; in[head:] is not yet handled
	head      int
	pending   []byte // bytes to hand fasthttp before reading more
	scratch   []byte // an event being rewritten, or the error event
	dropUsage bool   // the client did not ask for usage (OpenAI's hidden usage chunk)
	done      bool
	events    int64 // data events relayed, to estimate missing usage
	translate bool  // the provider speaks another format: see translate.go
}

// relayBuffer is the upstream buffer a relay starts with, held by every
// open stream: enough for several events of any provider; a longer event
// doubles it, up to maxEventBytes.
const relayBuffer = 2 << 10

func (r *relay) reset() {
	r.in, r.scratch = reuse(r.in), reuse(r.scratch)
	r.head, r.pending = 0, nil
	r.dropUsage, r.done, r.translate = false, false, false
	r.events = 0
}

// Read hands fasthttp the next events to send.
func (r *relay) Read(p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			r.c.srv.logPanic(v)
			n, err = 0, fmt.Errorf("panic in stream relay: %v", v)
		}
	}()
	for {
		if len(r.pending) > 0 {
			n = copy(p, r.pending)
			r.pending = r.pending[n:]
			r.c.extendWriteDeadline()
			return n, nil
		}
		if r.done {
			return 0, io.EOF
		}
		if k := nextEvent(r.in[r.head:]); k > 0 {
			ev := r.in[r.head : r.head+k]
			r.head += k
			r.pending = r.filter(ev)
			continue
		}
		r.fill()
	}
}

// filter inspects one event and returns what the client gets of it:
// for a provider of the client's format, what the format's filter makes
// of it; else its translation.
func (r *relay) filter(ev []byte) []byte {
	data := eventData(ev)
	if r.translate {
		if data == nil {
			return nil // comments and pings of the provider's format
		}
		out, err := r.translateEvent(data)
		if err != nil {
			r.fail(&upstream.Error{Provider: r.c.provider(), Status: 502, Err: err})
			return append(out, r.pending...)
		}
		if len(out) > 0 {
			r.events++
		}
		return out
	}
	if data == nil || bytes.Equal(data, doneData) {
		return ev
	}
	r.events++
	if r.c.cache.store {
		r.cacheEvent(data)
	}
	return r.c.format.filter(r, ev, data)
}

// usageFilter is the filter of the formats whose events pass unchanged
// but for the cost: it keeps the usage of each event that carries some
// and adds the cost to the event that completes it (Responses'
// response.completed, Gemini's chunk with the finishReason).
func (r *relay) usageFilter(ev, data []byte) []byte {
	c := r.c
	if c.format.readEventUsage(data, &c.usage, &c.fields.node) {
		c.reported = true
		return r.withCost(ev, data)
	}
	return ev
}

// anthropicFilter is usageFilter for Anthropic streams, where
// message_start carries the prompt's counts and message_delta the
// output's; a byte search spares the other events the JSON search.
func (r *relay) anthropicFilter(ev, data []byte) []byte {
	if !bytes.Contains(data, usageKey) {
		return ev
	}
	return r.usageFilter(ev, data)
}

// openAIFilter is the filter of chat completions streams: the usage
// chunk the gateway asked for is hidden when the client did not ask for
// it, and so is the "usage":null of the other chunks.
func (r *relay) openAIFilter(ev, data []byte) []byte {
	if !bytes.Contains(data, usageKey) {
		return ev
	}
	c := r.c
	if c.format.readEventUsage(data, &c.usage, &c.fields.node) {
		c.reported = true
		if r.dropUsage && bytes.Contains(data, emptyChoices) {
			return nil
		}
		return r.withCost(ev, data)
	}
	if r.dropUsage {
		// Without include_usage a provider leaves "usage" out of chunks;
		// with it, every chunk has "usage":null. Cut it in place (the
		// event only shrinks, so nothing after it is touched).
		if i := bytes.Index(ev, nullUsage); i >= 0 {
			ev = append(ev[:i], ev[i+len(nullUsage):]...)
		}
	}
	return ev
}

// withCost returns the usage event ev, whose payload is data, with the
// call's cost added to its usage object.
func (r *relay) withCost(ev, data []byte) []byte {
	c := r.c
	c.computeCost()
	at := cap(ev) - cap(data) // data is ev[at : at+len(data)]
	r.scratch = append(r.scratch[:0], ev[:at]...)
	r.scratch = appendWithCost(r.scratch, data, c.format.eventUsage, c.cost.Total, &c.fields.node)
	r.scratch = append(r.scratch, ev[at+len(data):]...)
	return r.scratch
}

// fill reads more upstream bytes, or sets pending to a keep-alive comment,
// or ends the stream. A stream spends its idle time parked inside fill's
// read, so fill keeps its own frame small and leaves the rest to room and
// readEnded: with a shallow stack at the park, the GC can shrink the
// stack of an idle stream's goroutine (see the memory scenario of the
// bench).
func (r *relay) fill() {
	if !r.room() {
		return
	}
	n, err := r.stream.Read(r.in[len(r.in):cap(r.in)])
	r.in = r.in[:len(r.in)+n]
	if err != nil {
		r.readEnded(n, err)
	}
}

// room makes space in r.in for a read: it moves the unfinished event to
// the front and grows the buffer when that event fills it. It returns
// false, with the stream ended, when an event outgrows maxEventBytes.
func (r *relay) room() bool {
	if r.head > 0 { // move the unfinished event to the front
		r.in = r.in[:copy(r.in, r.in[r.head:])]
		r.head = 0
	}
	if cap(r.in) == 0 {
		r.in = make([]byte, 0, relayBuffer)
	}
	if len(r.in) == cap(r.in) {
		if cap(r.in) >= maxEventBytes {
			r.fail(&upstream.Error{Provider: r.c.provider(), Status: 502, Err: upstream.ErrEventTooLong})
			return false
		}
		r.in = append(r.in, make([]byte, cap(r.in))...)[:len(r.in)]
	}
	return true
}

// readEnded handles a read of the upstream stream that returned n bytes
// and err, after the bytes were added to r.in.
func (r *relay) readEnded(n int, err error) {
	switch {
	case err == upstream.ErrKeepaliveTick:
		if n == 0 {
			r.pending = keepaliveEvent
		}
	case err == io.EOF && r.translate:
		r.done = true
		tr := r.c.translation()
		tr.tail = tr.tail[:0]
		if k := len(r.in); k > 0 { // an unterminated last event
			r.in = append(r.in, "\n\n"...)
			tr.tail = append(tr.tail, r.filter(r.in[:k+2])...)
			r.in = r.in[:0]
		}
		end, err := r.endTranslation()
		tr.tail = append(tr.tail, end...)
		if err != nil {
			r.fail(&upstream.Error{Provider: r.c.provider(), Status: 502, Err: err})
			tr.tail = append(tr.tail, r.pending...)
		}
		r.pending = tr.tail
	case err == io.EOF:
		r.done = true
		r.pending = r.in // an unterminated last event goes out as it is
		r.in = r.in[:0]
	case errors.Is(err, upstream.ErrCanceled):
		// The client left while the provider was silent (see
		// upstream.Watch): nobody is there to take an error event, and
		// closing the relay closes the upstream connection.
		r.c.errMsg = "client went away while the provider was silent"
		r.done = true
	default:
		r.fail(err)
	}
}

// fail ends the stream with an error event in the client's format.
func (r *relay) fail(err error) {
	r.c.setError(err)
	r.scratch = r.appendStreamError(r.scratch[:0], err)
	r.pending = r.scratch
	r.done = true
}

// CloseWithError is called by fasthttp once the body is sent or the client
// is gone (err != nil): it ends the upstream call at once and finishes the
// call's accounting.
func (r *relay) CloseWithError(err error) error {
	if err != nil && r.c.errMsg == "" {
		r.c.errMsg = "client went away: " + err.Error()
	}
	r.stream.Close()
	openStreams.Dec()
	if r.c.rt.writeTimeout > 0 {
		// The stream's write deadline must not outlive it: the next
		// request on this keep-alive connection would be cut off.
		_ = r.c.ctx.Conn().SetWriteDeadline(time.Time{})
	}
	r.c.finish()
	return nil
}
