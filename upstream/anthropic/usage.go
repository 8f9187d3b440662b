package anthropic

import (
	"bytes"
	"strings"

	"github.com/bytedance/sonic/ast"

	"switchboard/upstream/canon"
)

// UsageKey is the usage object's key, quotes included, and UsagePath
// where it is in a message and in a message_delta event.
var (
	UsageKey  = []byte(`"usage"`)
	UsagePath = []any{"usage"}
)

var (
	messageStartType      = []byte(`"message_start"`)
	messageStartUsagePath = []any{"message", "usage"}
)

// ReadUsage reads the usage of a Messages answer into u, with n as
// search scratch space: a whole message, or the message_start and
// message_delta stream events (the first carries the prompt's counts, the
// second the output's, cumulative). It reports whether doc completed the
// usage (a message or a message_delta), so that the call's cost can be
// known.
func ReadUsage(doc []byte, u *canon.Usage, n *ast.Node) bool {
	path, final := UsagePath, true
	if bytes.Contains(doc, messageStartType) {
		path, final = messageStartUsagePath, false
	}
	obj, ok := canon.ObjectAt(doc, UsageKey, n, path...)
	if !ok {
		return false
	}
	// input_tokens leaves out the tokens read from and written to the
	// cache. A message_delta may repeat the prompt's counts or leave them
	// out; zeros there do not undo message_start's.
	input := canon.IntAt(obj, n, "input_tokens")
	cacheRead := canon.IntAt(obj, n, "cache_read_input_tokens")
	cacheWrite := canon.IntAt(obj, n, "cache_creation_input_tokens")
	if input+cacheRead+cacheWrite > 0 || !final {
		u.Input, u.CacheRead, u.CacheWrite = input, cacheRead, cacheWrite
		// The part written for an hour, priced apart (cache_control ttl 1h).
		u.CacheWrite1h = canon.IntAt(obj, n, "cache_creation", "ephemeral_1h_input_tokens")
	}
	if strings.Contains(obj, canon.ServiceTierKey) {
		if t, ok := canon.TierAt(obj, n, "service_tier"); ok {
			u.Tier = t
		}
	}
	u.Output = canon.IntAt(obj, n, "output_tokens")
	return final
}
