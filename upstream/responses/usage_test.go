package responses_test

import (
	"testing"

	"github.com/bytedance/sonic/ast"

	"switchboard/upstream/canon"
	"switchboard/upstream/responses"
)

func TestReadUsageReadsTheServiceTier(t *testing.T) {
	var u canon.Usage
	var n ast.Node
	usage := `"usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":20,"output_tokens_details":{"reasoning_tokens":5}}`
	want := canon.Usage{Input: 60, CacheRead: 40, Output: 20, Reasoning: 5, Tier: canon.TierFlex}
	resp := []byte(`{"id":"r","object":"response","service_tier":"flex",` + usage + `}`)
	if !responses.ReadUsage(resp, &u, &n) || u != want {
		t.Fatalf("ReadUsage = %+v; want %+v", u, want)
	}
	u = canon.Usage{}
	ev := []byte(`{"type":"response.completed","response":{"id":"r","service_tier":"flex",` + usage + `}}`)
	if !responses.ReadEventUsage(ev, &u, &n) || u != want {
		t.Fatalf("ReadEventUsage = %+v; want %+v", u, want)
	}
	if a := testing.AllocsPerRun(100, func() { responses.ReadEventUsage(ev, &u, &n) }); a != 0 && !raceEnabled {
		t.Errorf("ReadEventUsage allocates %.0f times", a)
	}
}
