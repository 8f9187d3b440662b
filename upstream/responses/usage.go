package responses

import (
	"bytes"
	"unsafe"

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
	return readUsageAt(doc, UsagePath, tierPath, u, n)
}

// ReadEventUsage reads the usage of a stream event into u and reports
// whether the event had one: only the events that end a response do.
func ReadEventUsage(data []byte, u *canon.Usage, n *ast.Node) bool {
	return readUsageAt(data, EventUsagePath, eventTierPath, u, n)
}

// readUsageAt reads the usage object at path, and the Response's
// service_tier, its sibling, at tierPath.
func readUsageAt(doc []byte, path, tierPath []any, u *canon.Usage, n *ast.Node) bool {
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
	if bytes.Contains(doc, serviceTierKey) {
		u.Tier, _ = canon.TierAt(unsafe.String(unsafe.SliceData(doc), len(doc)), n, tierPath...)
	}
	return true
}

// serviceTierKey is canon.ServiceTierKey as bytes, for the pre-check;
// tierPath and eventTierPath are where the service tier is in a Response
// and in the event that ends a stream.
var (
	serviceTierKey = []byte(canon.ServiceTierKey)
	tierPath       = []any{"service_tier"}
	eventTierPath  = []any{"response", "service_tier"}
)
