package telemetry

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"switchboard/store/money"
)

// The gateway's own span attributes, beside the conventions'.
const (
	attrCost      = attribute.Key("switchboard.cost_usd")         // exact decimal dollars, "0.000012345"
	attrCacheHit  = attribute.Key("switchboard.cache_hit")        // answered from the response cache
	attrFallback  = attribute.Key("switchboard.fallback_reason")  // why an attempt (or, on the call, each one) failed over
	attrAttempt   = attribute.Key("switchboard.attempt")          // the attempt's number, from 1
	attrAttempts  = attribute.Key("switchboard.attempts")         // upstream attempts the call made
	attrProvider  = attribute.Key("switchboard.provider")         // the provider's configured name
	attrRequestID = attribute.Key("switchboard.request_id")       // x-request-id, the ledger entry's key
	attrStream    = semconv.GenAIRequestStreamKey                 // the client asked for a stream
	attrStatus    = semconv.HTTPResponseStatusCodeKey             // the status the client or the gateway got
	attrHedge     = attribute.Key("switchboard.hedge")            // the attempt is a hedge, started beside a slow one
	attrHedgeLost = attribute.Key("switchboard.hedge_lost")       // the attempt was cancelled: the other of a hedged pair answered first
	attrCacheRead = semconv.GenAIUsageCacheReadInputTokensKey     // prompt tokens read from the provider's cache
	attrCacheMade = semconv.GenAIUsageCacheCreationInputTokensKey // prompt tokens written to it
)

// Call is the trace of one gateway call: its server span and the client
// span of the upstream attempt in flight, and of a hedged call's second
// attempt beside it. The zero Call is off: every method but Start does
// nothing on it, so a call with telemetry off pays a branch per hook.
// Not safe for concurrent use, but for StartHedge (see there); Reset
// before reuse.
type Call struct {
	t       *Telemetry
	ctx     context.Context // the server span's
	span    trace.Span
	attempt trace.Span
	hedge   trace.Span // a hedge's attempt, beside attempt
	op      string
	start   time.Time
}

// headerCarrier reads and writes W3C trace context headers on a fasthttp
// header.
type headerCarrier struct {
	get func(key string) []byte
	set func(key, value string)
}

func (h headerCarrier) Get(key string) string { return string(h.get(key)) }
func (h headerCarrier) Set(key, value string) { h.set(key, value) }
func (h headerCarrier) Keys() []string        { return []string{"traceparent", "tracestate"} }

// Start begins the trace of a call of API surface surface (its metrics
// label) that arrived at start with header h: its server span continues
// the client's trace when h carries a W3C traceparent, and is sampled as
// the client's was, else by telemetry.sample_ratio. A nil Telemetry
// leaves c off.
func (t *Telemetry) Start(c *Call, h *fasthttp.RequestHeader, surface string, start time.Time) {
	if t == nil {
		return
	}
	c.t, c.op, c.start = t, Operation(surface), start
	parent := t.prop.Extract(context.Background(), headerCarrier{get: h.Peek})
	c.ctx, c.span = t.tracer.Start(parent, c.op,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(semconv.GenAIOperationNameKey.String(c.op)))
}

// On reports whether the call is traced (whether or not it is sampled).
func (c *Call) On() bool { return c.span != nil }

// StartAttempt begins the client span of upstream attempt n (from 1) to
// model at provider, and sets req's traceparent (and tracestate) to it,
// so the provider's own spans join the trace. An attempt still open is
// ended first. The strings are copied: they may alias a request.
func (c *Call) StartAttempt(req *fasthttp.Request, provider, model string, n int) {
	if c.span == nil {
		return
	}
	c.EndAttempt()
	c.attempt = c.startClient(req, provider, model, n)
}

// startClient begins an attempt's client span and sets req's trace
// context headers to it. It reads only what Start set.
func (c *Call) startClient(req *fasthttp.Request, provider, model string, n int) trace.Span {
	model = strings.Clone(model)
	ctx, span := c.t.tracer.Start(c.ctx, c.op+" "+model,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			semconv.GenAIOperationNameKey.String(c.op),
			semconv.GenAIRequestModelKey.String(model),
			providerAttr(provider),
			attrProvider.String(provider),
			attrAttempt.Int(n)))
	c.t.prop.Inject(ctx, headerCarrier{set: req.Header.Set})
	return span
}

// StartHedge begins the client span of hedge attempt n, which runs beside
// the attempt in flight, and sets req's trace context to it, as
// StartAttempt does. It touches only the hedge's span, so the goroutine
// that sends the hedge may call it while the call's own goroutine waits
// on its attempt; the call's goroutine must not use c's hedge methods
// until that goroutine is done.
func (c *Call) StartHedge(req *fasthttp.Request, provider, model string, n int) {
	if c.span == nil {
		return
	}
	c.hedge = c.startClient(req, provider, model, n)
	c.hedge.SetAttributes(attrHedge.Bool(true))
}

// TakeHedge makes the hedge the attempt in flight; the attempt it ran
// beside, if still open, ends as cancelled (switchboard.hedge_lost): the
// hedge answered first, or the other failed and the hedge is what is left.
func (c *Call) TakeHedge() {
	if c.hedge == nil {
		return
	}
	if c.attempt != nil {
		c.attempt.SetAttributes(attrHedgeLost.Bool(true))
		c.attempt.End()
	}
	c.attempt, c.hedge = c.hedge, nil
}

// HedgeLost ends the hedge's span as cancelled: the attempt it ran
// beside answered first.
func (c *Call) HedgeLost() {
	if c.hedge == nil {
		return
	}
	c.hedge.SetAttributes(attrHedgeLost.Bool(true))
	c.hedge.End()
	c.hedge = nil
}

// FailAttempt ends the attempt in flight as failed over, for reason (the
// gateway's x-switchboard-fallback reason: "503", "timeout-first",
// "unreachable", ...), which becomes its error.type too.
func (c *Call) FailAttempt(reason string) {
	if c.attempt == nil {
		return
	}
	c.attempt.SetAttributes(attrFallback.String(reason), semconv.ErrorTypeKey.String(reason))
	if status, err := strconv.Atoi(reason); err == nil {
		c.attempt.SetAttributes(attrStatus.Int(status))
	}
	c.attempt.SetStatus(codes.Error, reason)
	c.attempt.End()
	c.attempt = nil
}

// EndAttempt ends the attempt in flight, if any, as it stands.
func (c *Call) EndAttempt() {
	if c.attempt != nil {
		c.attempt.End()
		c.attempt = nil
	}
}

// Result is what a call came to, for its span and metrics.
type Result struct {
	RequestModel  string // the model the client asked for
	ResponseModel string // the upstream model id that answered, or ""
	Provider      string // the provider that answered, or ""
	InputTokens   int64  // the whole prompt, cache reads and writes included
	CacheRead     int64
	CacheWrite    int64
	OutputTokens  int64
	Cost          money.Money
	Costed        bool // Cost is known
	CacheHit      bool
	Stream        bool
	Attempts      int
	Fallbacks     []byte // "provider/model (reason), ..." of the failed attempts
	Status        int
	Error         string // why the call failed, or ""
	RequestID     []byte
}

// End ends the call's spans with r and records its GenAI metrics, at
// now. c is off afterwards. r's strings are copied: they may alias a
// request.
func (c *Call) End(r *Result, now time.Time) {
	if c.span == nil {
		return
	}
	r.RequestModel, r.ResponseModel = strings.Clone(r.RequestModel), strings.Clone(r.ResponseModel)
	var buf [20]attribute.KeyValue
	if c.attempt != nil {
		as := append(buf[:0],
			semconv.GenAIUsageInputTokensKey.Int64(r.InputTokens),
			semconv.GenAIUsageOutputTokensKey.Int64(r.OutputTokens))
		if r.Status != 0 {
			as = append(as, attrStatus.Int(r.Status))
		}
		if r.ResponseModel != "" {
			as = append(as, semconv.GenAIResponseModelKey.String(r.ResponseModel))
		}
		c.attempt.SetAttributes(as...)
		if r.Error != "" {
			c.attempt.SetStatus(codes.Error, r.Error)
		}
		c.attempt.End(trace.WithTimestamp(now))
	}
	c.HedgeLost() // not taken by now: lost
	span := c.span
	if span.IsRecording() {
		span.SetName(c.op + " " + r.RequestModel)
		as := append(buf[:0],
			semconv.GenAIRequestModelKey.String(r.RequestModel),
			semconv.GenAIUsageInputTokensKey.Int64(r.InputTokens),
			semconv.GenAIUsageOutputTokensKey.Int64(r.OutputTokens),
			attrCacheHit.Bool(r.CacheHit),
			attrStream.Bool(r.Stream),
			attrAttempts.Int(r.Attempts),
			attrStatus.Int(r.Status),
			attrRequestID.String(string(r.RequestID)))
		if r.ResponseModel != "" {
			as = append(as, semconv.GenAIResponseModelKey.String(r.ResponseModel))
		}
		if r.Provider != "" {
			as = append(as, providerAttr(r.Provider), attrProvider.String(r.Provider))
		}
		if r.CacheRead > 0 || r.CacheWrite > 0 {
			as = append(as, attrCacheRead.Int64(r.CacheRead), attrCacheMade.Int64(r.CacheWrite))
		}
		if r.Costed {
			as = append(as, attrCost.String(dollars(r.Cost)))
		}
		if len(r.Fallbacks) > 0 {
			as = append(as, attrFallback.String(string(r.Fallbacks)))
		}
		if r.Error != "" {
			as = append(as, semconv.ErrorTypeKey.String(errorType(r.Status)))
			span.SetStatus(codes.Error, r.Error)
		}
		span.SetAttributes(as...)
	}
	span.End(trace.WithTimestamp(now))
	c.record(r, now)
	c.Reset()
}

// record adds the call to the GenAI client metrics.
func (c *Call) record(r *Result, now time.Time) {
	errType := ""
	if r.Error != "" {
		errType = errorType(r.Status)
	}
	sets := c.t.series.get(seriesKey{op: c.op, provider: r.Provider, requestModel: r.RequestModel, responseModel: r.ResponseModel, errorType: errType})
	ctx := context.Background()
	c.t.duration.Inst().Record(ctx, durationSince(c.start, now), sets.all)
	if r.Error != "" || r.CacheHit {
		return // no tokens were used upstream
	}
	c.t.tokens.Inst().Record(ctx, r.InputTokens, sets.input)
	c.t.tokens.Inst().Record(ctx, r.OutputTokens, sets.output)
}

// Reset turns c off, for its next call.
func (c *Call) Reset() { *c = Call{} }

// errorType is the error.type of a failed call: its status, or "_OTHER".
func errorType(status int) string {
	if status == 0 {
		return "_OTHER"
	}
	return strconv.Itoa(status)
}

// dollars writes m as exact decimal dollars without the sign: "0.000012345".
func dollars(m money.Money) string {
	b := m.AppendDollars(nil)
	for i, ch := range b {
		if ch == '$' {
			return string(append(b[:i], b[i+1:]...))
		}
	}
	return string(b)
}
