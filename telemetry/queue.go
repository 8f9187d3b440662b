package telemetry

import (
	"context"
	"log"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Span export metrics.
var (
	spansDropped  = metrics.NewCounter("switchboard_trace_spans_dropped_total")
	spansExported = metrics.NewCounter("switchboard_trace_spans_exported_total")
	exportErrors  = metrics.NewCounter("switchboard_trace_export_errors_total")
)

const (
	// maxBatch is the most spans one export sends.
	maxBatch = 512
	// flushEvery is the longest a finished span waits in the queue.
	flushEvery = time.Second
)

// queue is the span processor between the request path and the OTLP
// exporter: a span that ends is put on a bounded channel without
// waiting, and one goroutine takes batches off it and exports them. When
// the collector is slow or gone the channel fills and further spans are
// dropped and counted (switchboard_trace_spans_dropped_total); a request
// never waits on export.
//
// The SDK's BatchSpanProcessor was rejected: it either blocks the ending
// goroutine when full (WithBlocking) or drops without a count anyone can
// read.
type queue struct {
	spans    chan sdktrace.ReadOnlySpan
	exporter sdktrace.SpanExporter
	timeout  time.Duration
	errLog   *log.Logger
	flush    chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

func newQueue(exp sdktrace.SpanExporter, size int, timeout time.Duration, errLog *log.Logger) *queue {
	q := &queue{
		spans:    make(chan sdktrace.ReadOnlySpan, size),
		exporter: exp,
		timeout:  timeout,
		errLog:   errLog,
		flush:    make(chan chan struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go q.run()
	return q
}

// OnStart does nothing: spans are only seen once they end.
func (q *queue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span for export, or drops it when the queue is
// full. It never blocks.
func (q *queue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	select {
	case q.spans <- s:
	default:
		spansDropped.Inc()
	}
}

// ForceFlush exports what is queued now, within ctx.
func (q *queue) ForceFlush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case q.flush <- done:
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued and stops the exporter, within ctx.
func (q *queue) Shutdown(ctx context.Context) error {
	q.once.Do(func() { close(q.stop) })
	select {
	case <-q.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return q.exporter.Shutdown(ctx)
}

// run takes batches off the queue and exports them: when maxBatch spans
// are in, every flushEvery, on ForceFlush, and once more on Shutdown.
func (q *queue) run() {
	defer close(q.done)
	batch := make([]sdktrace.ReadOnlySpan, 0, maxBatch)
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	failing := false
	export := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
		err := q.exporter.ExportSpans(ctx, batch)
		cancel()
		if err != nil {
			exportErrors.Inc()
			spansDropped.Add(len(batch))
			if !failing { // one line per failure streak
				q.errLog.Printf("telemetry: cannot export %d spans (dropped): %v", len(batch), err)
			}
		} else {
			spansExported.Add(len(batch))
		}
		failing = err != nil
		clear(batch)
		batch = batch[:0]
	}
	// drain moves what is queued now into batches and exports them.
	drain := func() {
		for {
			select {
			case s := <-q.spans:
				if batch = append(batch, s); len(batch) == maxBatch {
					export()
				}
			default:
				export()
				return
			}
		}
	}
	for {
		select {
		case s := <-q.spans:
			if batch = append(batch, s); len(batch) == maxBatch {
				export()
			}
		case <-tick.C:
			export()
		case done := <-q.flush:
			drain()
			close(done)
		case <-q.stop:
			drain()
			return
		}
	}
}
