package proxy

import (
	"bufio"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// accessLog writes one line per request through a buffer that is flushed
// every flushInterval, so a request costs a memory copy, not a write(2).
// It is safe for concurrent use.
type accessLog struct {
	mu   sync.Mutex
	w    *bufio.Writer
	line []byte // guarded by mu
	stop chan struct{}
	done chan struct{}
}

const flushInterval = 200 * time.Millisecond

func newAccessLog(w io.Writer) *accessLog {
	l := &accessLog{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go l.flushLoop()
	return l
}

func (l *accessLog) flushLoop() {
	defer close(l.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.mu.Lock()
			_ = l.w.Flush()
			l.mu.Unlock()
		case <-l.stop:
			l.mu.Lock()
			_ = l.w.Flush()
			l.mu.Unlock()
			return
		}
	}
}

// Close flushes what is buffered and stops the flusher.
func (l *accessLog) Close() {
	close(l.stop)
	<-l.done
}

// write logs c as one line: time, request id, key, path, model,
// provider, status, duration, overhead, tokens in and out, cost in
// dollars, the response cache's part (hit, miss, or - when not
// cacheable), upstream attempts, and the error if any.
func (l *accessLog) write(c *call, now time.Time) {
	l.mu.Lock()
	b := l.line[:0]
	b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, " id="...)
	b = append(b, c.requestID...)
	b = append(b, " key="...)
	b = append(b, c.key.Name...)
	b = append(b, ' ')
	b = append(b, c.path...)
	b = append(b, " model="...)
	b = strconv.AppendQuote(b, c.fields.model)
	b = append(b, " provider="...)
	b = append(b, c.provider()...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(c.status), 10)
	b = append(b, " dur_us="...)
	b = strconv.AppendInt(b, now.Sub(c.start).Microseconds(), 10)
	b = append(b, " overhead_us="...)
	b = strconv.AppendInt(b, c.overhead(now).Microseconds(), 10)
	b = append(b, " in="...)
	b = strconv.AppendInt(b, c.usage.Prompt(), 10)
	b = append(b, " out="...)
	b = strconv.AppendInt(b, c.usage.Output, 10)
	b = append(b, " cost="...)
	b = c.cost.Total.AppendDecimal(b)
	b = append(b, " cache="...)
	switch {
	case c.cache.hit:
		b = append(b, "hit"...)
	case c.cache.store:
		b = append(b, "miss"...)
	default:
		b = append(b, '-')
	}
	b = append(b, " attempts="...)
	b = strconv.AppendInt(b, int64(c.attempts), 10)
	if c.errMsg != "" {
		b = append(b, " err="...)
		b = strconv.AppendQuote(b, c.errMsg)
	}
	b = append(b, '\n')
	_, _ = l.w.Write(b)
	l.line = b
	l.mu.Unlock()
}

// writeAPI logs a call of the management API as one line: time, request
// id, method and path, status, duration, and the error if any.
func (l *accessLog) writeAPI(ctx *fasthttp.RequestCtx, id []byte, start, now time.Time, err error) {
	l.mu.Lock()
	b := l.line[:0]
	b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, " id="...)
	b = append(b, id...)
	b = append(b, " api "...)
	b = append(b, ctx.Method()...)
	b = append(b, ' ')
	b = appendHeaderSafe(b, string(ctx.Path()))
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(ctx.Response.StatusCode()), 10)
	b = append(b, " dur_us="...)
	b = strconv.AppendInt(b, now.Sub(start).Microseconds(), 10)
	if err != nil {
		b = append(b, " err="...)
		b = strconv.AppendQuote(b, err.Error())
	}
	b = append(b, '\n')
	_, _ = l.w.Write(b)
	l.line = b
	l.mu.Unlock()
}
