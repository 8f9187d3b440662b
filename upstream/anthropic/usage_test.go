package anthropic

import (
	"testing"

	"github.com/bytedance/sonic/ast"

	"switchboard/upstream/canon"
)

func TestReadUsageReadsHourCacheWritesAndTier(t *testing.T) {
	var u canon.Usage
	var n ast.Node
	start := []byte(`{"type":"message_start","message":{"id":"m","usage":{"input_tokens":10,"cache_creation_input_tokens":3000,` +
		`"cache_read_input_tokens":500,"cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":2000},` +
		`"output_tokens":1,"service_tier":"priority"}}}`)
	if ReadUsage(start, &u, &n) {
		t.Fatal("message_start completed the usage")
	}
	delta := []byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}`)
	if !ReadUsage(delta, &u, &n) {
		t.Fatal("message_delta did not complete the usage")
	}
	want := canon.Usage{Input: 10, CacheWrite: 3000, CacheWrite1h: 2000, CacheRead: 500, Output: 42, Tier: canon.TierPriority}
	if u != want {
		t.Fatalf("usage %+v; want %+v", u, want)
	}
	if a := testing.AllocsPerRun(100, func() { ReadUsage(start, &u, &n); ReadUsage(delta, &u, &n) }); a != 0 && !raceEnabled {
		t.Errorf("ReadUsage allocates %.0f times", a)
	}
}
