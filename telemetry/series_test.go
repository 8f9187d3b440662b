package telemetry

import (
	"strconv"
	"testing"
)

// Clients choose the request model: past maxSeries series, new models
// share one "_OTHER" series, and a known one keeps its own.
func TestMetricSeriesAreBounded(t *testing.T) {
	var sc seriesCache
	key := func(model string) seriesKey { return seriesKey{op: "chat", provider: "mock", requestModel: model} }
	first := sc.get(key("m0"))
	for i := range maxSeries + 10 {
		sc.get(key("m" + strconv.Itoa(i)))
	}
	if n := len(sc.sets); n != maxSeries+1 {
		t.Errorf("%d series, want %d and one _OTHER", n, maxSeries+1)
	}
	other := sc.sets[key("_OTHER")]
	if other == nil || sc.get(key("new-model")) != other {
		t.Errorf("a model past the bound is not recorded as _OTHER")
	}
	if sc.get(key("m0")) != first {
		t.Errorf("a known model lost its series")
	}
}
