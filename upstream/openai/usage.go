package openai

import (
	"bytes"
	"unsafe"

	"github.com/bytedance/sonic/ast"

	"switchboard/upstream/canon"
)

// UsageKey is the usage object's key, quotes included, and UsagePath
// where it is in an answer and in the stream chunk that carries it.
var (
	UsageKey  = []byte(`"usage"`)
	UsagePath = []any{"usage"}
)

// ReadUsage reads the top-level usage object of a chat completions
// answer or stream chunk into u, with n as search scratch space. It
// reports whether there was one; a null or missing usage leaves u
// unchanged. The counts are converted as DecodeResponse converts them;
// the answer's service_tier ("flex", "priority") goes in u.Tier.
func ReadUsage(doc []byte, u *canon.Usage, n *ast.Node) bool {
	obj, ok := canon.ObjectAt(doc, UsageKey, n, UsagePath...)
	if !ok {
		return false
	}
	var w chatUsage
	w.PromptTokens = canon.IntAt(obj, n, "prompt_tokens")
	w.CompletionTokens = canon.IntAt(obj, n, "completion_tokens")
	w.PromptTokensDetails.CachedTokens = canon.IntAt(obj, n, "prompt_tokens_details", "cached_tokens")
	w.PromptTokensDetails.CacheWriteTokens = canon.IntAt(obj, n, "prompt_tokens_details", "cache_write_tokens")
	w.CompletionTokensDetails.ReasoningTokens = canon.IntAt(obj, n, "completion_tokens_details", "reasoning_tokens")
	w.PromptCacheHitTokens = canon.IntAt(obj, n, "prompt_cache_hit_tokens")
	*u = w.canon()
	if bytes.Contains(doc, serviceTierKey) {
		u.Tier, _ = canon.TierAt(unsafe.String(unsafe.SliceData(doc), len(doc)), n, "service_tier")
	}
	return true
}

// serviceTierKey is canon.ServiceTierKey as bytes, for the pre-check.
var serviceTierKey = []byte(canon.ServiceTierKey)
