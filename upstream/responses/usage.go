package responses

import (
	"github.com/bytedance/sonic/ast"

	"switchboard/upstream/canon"
)

// UsageKey is the usage object's key, quotes included. UsagePath is
// where it is in a Response; EventUsagePath is where it is in the event
// that ends a stream (response.completed, .incomplete or .failed).
var (
	UsageKey       = []byte(`"usage"`)
	UsagePath      = []any{"usage"}
	EventUsagePath = []any{"response", "usage"}
)

// ReadUsage reads the usage of a Response into u, with n as search
// scratch space, and reports whether it had one.
func ReadUsage(doc []byte, u *canon.Usage, n *ast.Node) bool {
	return readUsageAt(doc, UsagePath, u, n)
}

// ReadEventUsage reads the usage of a stream event into u and reports
// whether the event had one: only the events that end a response do.
func ReadEventUsage(data []byte, u *canon.Usage, n *ast.Node) bool {
	return readUsageAt(data, EventUsagePath, u, n)
}

func readUsageAt(doc []byte, path []any, u *canon.Usage, n *ast.Node) bool {
	obj, ok := canon.ObjectAt(doc, UsageKey, n, path...)
	if !ok {
		return false
	}
	var w respUsage
	w.InputTokens = canon.IntAt(obj, n, "input_tokens")
	w.InputTokensDetails.CachedTokens = canon.IntAt(obj, n, "input_tokens_details", "cached_tokens")
	w.OutputTokens = canon.IntAt(obj, n, "output_tokens")
	w.OutputTokensDetails.ReasoningTokens = canon.IntAt(obj, n, "output_tokens_details", "reasoning_tokens")
	*u = w.canon()
	return true
}
