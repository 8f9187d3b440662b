package gemini

import (
	"github.com/bytedance/sonic/ast"

	"switchboard/upstream/canon"
)

// UsageKey is the usage object's key, quotes included, and UsagePath
// where it is in an answer and in each stream chunk.
var (
	UsageKey  = []byte(`"usageMetadata"`)
	UsagePath = []any{"usageMetadata"}
)

// ReadUsage reads the usageMetadata of an answer or stream chunk (every
// chunk may carry the usage so far) into u, with n as search scratch
// space, and reports whether it had one.
func ReadUsage(doc []byte, u *canon.Usage, n *ast.Node) bool {
	obj, ok := canon.ObjectAt(doc, UsageKey, n, UsagePath...)
	if !ok {
		return false
	}
	var w usageMetadata
	w.PromptTokenCount = canon.IntAt(obj, n, "promptTokenCount")
	w.CandidatesTokenCount = canon.IntAt(obj, n, "candidatesTokenCount")
	w.CachedContentTokenCount = canon.IntAt(obj, n, "cachedContentTokenCount")
	w.ThoughtsTokenCount = canon.IntAt(obj, n, "thoughtsTokenCount")
	w.ToolUsePromptTokenCount = canon.IntAt(obj, n, "toolUsePromptTokenCount")
	*u = w.canon()
	return true
}
