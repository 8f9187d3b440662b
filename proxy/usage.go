package proxy

import (
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"
)

// usage is the token count a provider reported for one call.
type usage struct {
	prompt     int64
	completion int64
	cached     int64 // prompt tokens read from the provider's cache
	seen       bool  // the response carried a usage object
}

// readUsage reads the "usage" object of an OpenAI-format JSON document
// (a whole response or one stream chunk) into u. It reports whether there
// was one; a null or missing usage leaves u unchanged.
func readUsage(doc []byte, u *usage) bool {
	src := unsafe.String(unsafe.SliceData(doc), len(doc))
	n, err := sonic.GetFromString(src, "usage")
	if err != nil || n.TypeSafe() != ast.V_OBJECT {
		return false
	}
	u.seen = true
	u.prompt = intField(&n, "prompt_tokens")
	u.completion = intField(&n, "completion_tokens")
	if details := n.Get("prompt_tokens_details"); details != nil && details.TypeSafe() == ast.V_OBJECT {
		u.cached = intField(details, "cached_tokens")
	}
	return true
}

func intField(n *ast.Node, key string) int64 {
	v := n.Get(key)
	if v == nil || v.TypeSafe() != ast.V_NUMBER {
		return 0
	}
	i, err := v.Int64()
	if err != nil {
		return 0
	}
	return i
}
