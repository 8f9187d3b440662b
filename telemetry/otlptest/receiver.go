// Package otlptest is a small OTLP/HTTP receiver on loopback for tests
// and the bench: it decodes the protobuf export requests of traces and
// metrics, as a collector would, and keeps what they carried.
package otlptest

import (
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	metricsv1 "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver is an OTLP/HTTP receiver listening on 127.0.0.1. Start it with
// Start; it is safe for concurrent use.
type Receiver struct {
	// URL is the receiver's base URL, the gateway's telemetry.otlp_endpoint.
	URL string

	srv     *http.Server
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on each export and stall
	spans   []*tracepb.Span
	metrics []*metricpb.Metric
	stalled chan struct{} // while open, exports wait on it
	held    int           // exports waiting on a stall
}

// Start listens on a free loopback port and serves /v1/traces and
// /v1/metrics.
func Start() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{URL: "http://" + ln.Addr().String(), changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.traces)
	mux.HandleFunc("POST /v1/metrics", r.metricsExport)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Close stops the receiver, releasing stalled exports first.
func (r *Receiver) Close() {
	r.Release()
	_ = r.srv.Close()
}

// Stall makes exports wait, unanswered, until Release: a collector that
// stopped reading.
func (r *Receiver) Stall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stalled == nil {
		r.stalled = make(chan struct{})
	}
}

// Release lets stalled exports through.
func (r *Receiver) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stalled != nil {
		close(r.stalled)
		r.stalled = nil
	}
}

// Spans returns the spans received so far, in the order they came.
func (r *Receiver) Spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

// Metrics returns the metrics received so far, in the order they came.
func (r *Receiver) Metrics() []*metricpb.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*metricpb.Metric(nil), r.metrics...)
}

// WaitSpans waits until at least n spans were received, at most timeout,
// and returns them.
func (r *Receiver) WaitSpans(n int, timeout time.Duration) ([]*tracepb.Span, error) {
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		got, changed := len(r.spans), r.changed
		r.mu.Unlock()
		if got >= n {
			return r.Spans(), nil
		}
		select {
		case <-changed:
		case <-deadline:
			return r.Spans(), fmt.Errorf("received %d spans in %v, want %d", got, timeout, n)
		}
	}
}

func (r *Receiver) traces(w http.ResponseWriter, req *http.Request) {
	var in tracev1.ExportTraceServiceRequest
	if !r.read(w, req, &in) {
		return
	}
	r.mu.Lock()
	for _, rs := range in.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.notifyLocked()
	r.mu.Unlock()
	r.answer(w, &tracev1.ExportTraceServiceResponse{})
}

func (r *Receiver) metricsExport(w http.ResponseWriter, req *http.Request) {
	var in metricsv1.ExportMetricsServiceRequest
	if !r.read(w, req, &in) {
		return
	}
	r.mu.Lock()
	for _, rm := range in.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			r.metrics = append(r.metrics, sm.Metrics...)
		}
	}
	r.notifyLocked()
	r.mu.Unlock()
	r.answer(w, &metricsv1.ExportMetricsServiceResponse{})
}

// read waits out a stall, then decodes the request's protobuf body into
// m; it answers 400 and returns false when it cannot.
func (r *Receiver) read(w http.ResponseWriter, req *http.Request, m proto.Message) bool {
	r.mu.Lock()
	stalled := r.stalled
	r.mu.Unlock()
	if stalled != nil {
		r.changeHeld(1)
		select {
		case <-stalled:
		case <-req.Context().Done():
		}
		r.changeHeld(-1)
		if req.Context().Err() != nil {
			return false
		}
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err == nil {
		err = proto.Unmarshal(data, m)
	}
	if err != nil {
		http.Error(w, "cannot decode the export: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (r *Receiver) changeHeld(d int) {
	r.mu.Lock()
	r.held += d
	r.notifyLocked()
	r.mu.Unlock()
}

// WaitHeld waits until an export is held by a stall, at most timeout.
func (r *Receiver) WaitHeld(timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		held, changed := r.held, r.changed
		r.mu.Unlock()
		if held > 0 {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("no export arrived in %v", timeout)
		}
	}
}

func (r *Receiver) answer(w http.ResponseWriter, m proto.Message) {
	out, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *Receiver) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}
