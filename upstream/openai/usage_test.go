package openai

import (
	"testing"

	"github.com/bytedance/sonic/ast"

	"switchboard/upstream/canon"
)

func TestReadUsageReadsTheServiceTier(t *testing.T) {
	f := func(doc string, want canon.Usage) {
		t.Helper()
		var u canon.Usage
		var n ast.Node
		if !ReadUsage([]byte(doc), &u, &n) || u != want {
			t.Fatalf("ReadUsage(%s) = %+v; want %+v", doc, u, want)
		}
	}
	usage := `"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":40},"completion_tokens_details":{"reasoning_tokens":5}}`
	base := canon.Usage{Input: 60, CacheRead: 40, Output: 20, Reasoning: 5}
	f(`{"id":"x",`+usage+`}`, base)
	f(`{"id":"x","service_tier":"default",`+usage+`}`, base)
	flex := base
	flex.Tier = canon.TierFlex
	f(`{"id":"x","service_tier":"flex",`+usage+`}`, flex)
	prio := base
	prio.Tier = canon.TierPriority
	f(`{"id":"x",`+usage+`,"service_tier":"priority"}`, prio)
	// A service_tier inside the content is not the answer's.
	f(`{"choices":[{"message":{"content":"{\"service_tier\":\"flex\"}"}}],`+usage+`}`, base)

	doc := []byte(`{"id":"x","service_tier":"flex",` + usage + `}`)
	var u canon.Usage
	var n ast.Node
	if a := testing.AllocsPerRun(100, func() { ReadUsage(doc, &u, &n) }); a != 0 && !raceEnabled {
		t.Errorf("ReadUsage allocates %.0f times", a)
	}
}
