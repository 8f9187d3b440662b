// Package telemetry exports the gateway's OpenTelemetry traces and GenAI
// metrics over OTLP/HTTP, following the GenAI semantic conventions: one
// server span per call (Call), a client span per upstream attempt, the
// W3C traceparent taken from the client and passed to each upstream, and
// the gen_ai.client.token.usage and gen_ai.client.operation.duration
// histograms.
//
// Export never waits on the request path: finished spans go to a bounded
// queue (queue.go) that drops, and counts, what does not fit; metrics are
// aggregated in memory and exported by the SDK's periodic reader on its
// own goroutine. With telemetry off there is no Telemetry at all (nil),
// and the request path pays one nil check per hook.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log"
	"runtime/debug"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
	"go.opentelemetry.io/otel/trace"

	"switchboard/configs"
)

// instrumentation is the scope name of the gateway's spans and metrics.
const instrumentation = "switchboard"

// Telemetry is the gateway's trace and metric pipeline. Create it with
// New; it is safe for concurrent use. A nil *Telemetry is telemetry off.
type Telemetry struct {
	traces   *sdktrace.TracerProvider
	tracer   trace.Tracer
	meters   *sdkmetric.MeterProvider
	tokens   genaiconv.ClientTokenUsage
	duration genaiconv.ClientOperationDuration
	series   seriesCache
	prop     propagation.TraceContext
	stopped  sync.Once
}

// New starts the pipeline cfg describes, or returns nil when cfg has no
// OTLP endpoint. The service.version resource attribute is the binary's
// module version. Export errors are logged to errLog, a line per failure
// streak. Nothing is sent before the first call ends.
func New(cfg configs.Telemetry, errLog *log.Logger) (*Telemetry, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	headers := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers[k] = string(v)
	}
	timeout := cfg.ExportTimeout.D()
	spans, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(cfg.OTLPEndpoint+"/v1/traces"),
		otlptracehttp.WithHeaders(headers),
		otlptracehttp.WithTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("telemetry.otlp_endpoint: cannot export traces: %w", err)
	}
	metrics, err := otlpmetrichttp.New(context.Background(),
		otlpmetrichttp.WithEndpointURL(cfg.OTLPEndpoint+"/v1/metrics"),
		otlpmetrichttp.WithHeaders(headers),
		otlpmetrichttp.WithTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("telemetry.otlp_endpoint: cannot export metrics: %w", err)
	}
	res := resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.ServiceName),
		semconv.ServiceVersion(moduleVersion()))
	// The SDK reports the metric reader's export errors through the
	// global handler; the span queue reports its own.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { errLog.Printf("telemetry: %v", err) }))

	t := &Telemetry{}
	t.traces = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*cfg.SampleRatio))),
		sdktrace.WithSpanProcessor(newQueue(spans, cfg.QueueSize, timeout, errLog)))
	t.tracer = t.traces.Tracer(instrumentation, trace.WithSchemaURL(semconv.SchemaURL))
	t.meters = sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics,
			sdkmetric.WithInterval(cfg.MetricsInterval.D()),
			sdkmetric.WithTimeout(timeout))))
	meter := t.meters.Meter(instrumentation)
	if t.tokens, err = genaiconv.NewClientTokenUsage(meter); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if t.duration, err = genaiconv.NewClientOperationDuration(meter); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	return t, nil
}

// Shutdown exports what is queued (spans and the metrics aggregated since
// the last export) and stops the pipeline, within ctx. Calls that end
// after it are not exported; a second Shutdown does nothing, and so does
// a nil Telemetry's.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var err error
	t.stopped.Do(func() { err = errors.Join(t.traces.Shutdown(ctx), t.meters.Shutdown(ctx)) })
	return err
}

// providerNames maps the gateway's provider presets to the
// gen_ai.provider.name values the conventions define; any other provider
// is named as configured.
var providerNames = map[string]string{
	"gemini":  string(genaiconv.ProviderNameGCPGemini),
	"vertex":  string(genaiconv.ProviderNameGCPVertexAI),
	"azure":   string(genaiconv.ProviderNameAzureAIOpenAI),
	"bedrock": string(genaiconv.ProviderNameAWSBedrock),
	"mistral": string(genaiconv.ProviderNameMistralAI),
	"xai":     string(genaiconv.ProviderNameXAI),
}

// providerAttr is the gen_ai.provider.name of the configured provider
// name.
func providerAttr(name string) attribute.KeyValue {
	if n, ok := providerNames[name]; ok {
		return semconv.GenAIProviderNameKey.String(n)
	}
	return semconv.GenAIProviderNameKey.String(name)
}

// Operation returns the gen_ai.operation.name of an API surface of the
// gateway, by its metrics label.
func Operation(surface string) string {
	switch surface {
	case "chat", "messages", "responses":
		return string(genaiconv.OperationNameChat)
	case "completions":
		return string(genaiconv.OperationNameTextCompletion)
	case "embeddings":
		return string(genaiconv.OperationNameEmbeddings)
	case "generate_content", "stream_generate_content":
		return string(genaiconv.OperationNameGenerateContent)
	}
	return surface // the token counts and compaction have no name of their own
}

// moduleVersion is the main module's version in the build info, such as
// "v1.2.0" or "(devel)".
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// durationSince returns the seconds from start to end, the unit of
// gen_ai.client.operation.duration.
func durationSince(start, end time.Time) float64 { return end.Sub(start).Seconds() }
