package telemetry

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
)

// maxSeries bounds the attribute sets of the GenAI metrics. The request
// model is the client's string: past the bound, a new one is recorded as
// "_OTHER", so that clients cannot grow the metrics (or this cache)
// without end.
const maxSeries = 1024

// seriesKey is what the GenAI metrics' attributes are made of.
type seriesKey struct {
	op, provider, requestModel, responseModel, errorType string
}

// seriesSets are the measurement options of one seriesKey: the
// operation's duration, and its input and output token counts.
type seriesSets struct {
	all, input, output metric.MeasurementOption
}

// seriesCache keeps the measurement options of each seriesKey, so that
// recording a call builds (sorts, allocates) no attribute set once its
// series was seen. Safe for concurrent use.
type seriesCache struct {
	mu   sync.RWMutex
	sets map[seriesKey]*seriesSets
}

// get returns k's options, making them on first use.
func (sc *seriesCache) get(k seriesKey) *seriesSets {
	sc.mu.RLock()
	s, ok := sc.sets[k]
	sc.mu.RUnlock()
	if ok {
		return s
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if s, ok := sc.sets[k]; ok {
		return s
	}
	if len(sc.sets) >= maxSeries {
		k.requestModel = "_OTHER"
		if s, ok := sc.sets[k]; ok {
			return s
		}
	}
	if sc.sets == nil {
		sc.sets = map[seriesKey]*seriesSets{}
	}
	s = newSeriesSets(k)
	sc.sets[k] = s
	return s
}

func newSeriesSets(k seriesKey) *seriesSets {
	provider := k.provider
	if n, ok := providerNames[provider]; ok {
		provider = n
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameKey.String(k.op),
		semconv.GenAIProviderNameKey.String(provider),
		semconv.GenAIRequestModelKey.String(k.requestModel),
		semconv.GenAIResponseModelKey.String(k.responseModel),
	}
	if k.errorType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errorType))
	}
	with := func(extra ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(attrs[:len(attrs):len(attrs)], extra...)...))
	}
	return &seriesSets{
		all:    with(),
		input:  with(semconv.GenAITokenTypeKey.String(string(genaiconv.TokenTypeInput))),
		output: with(semconv.GenAITokenTypeKey.String(string(genaiconv.TokenTypeOutput))),
	}
}
