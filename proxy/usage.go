package proxy

import (
	"bytes"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"

	"switchboard/upstream"
)

// usage is the token count a provider reported for one call.
type usage struct {
	prompt     int64 // every prompt token, cached ones included
	completion int64 // every output token, reasoning included
	cached     int64 // prompt tokens read from the provider's cache
	cacheWrite int64 // prompt tokens written to the provider's cache
	reasoning  int64 // of completion, the reasoning tokens
	seen       bool  // the response carried a usage object
	estimated  bool  // no usage came: the gateway estimated it
}

// readUsage reads the top-level "usage" object of an OpenAI-format JSON
// document (a whole response or one stream chunk) into u, using n as
// search scratch space. It reports whether there was one; a null or
// missing usage leaves u unchanged.
func readUsage(doc []byte, u *usage, n *ast.Node) bool {
	if !hasUsageObject(doc) {
		return false
	}
	src := unsafe.String(unsafe.SliceData(doc), len(doc))
	var err error
	if *n, err = sonic.GetFromString(src, "usage"); err != nil || n.TypeSafe() != ast.V_OBJECT {
		return false
	}
	obj, err := n.Raw()
	if err != nil {
		return false
	}
	u.seen = true
	u.prompt = intAt(obj, n, "prompt_tokens")
	u.completion = intAt(obj, n, "completion_tokens")
	u.cached = intAt(obj, n, "prompt_tokens_details", "cached_tokens")
	if u.cached == 0 { // DeepSeek's names
		u.cached = intAt(obj, n, "prompt_cache_hit_tokens")
	}
	u.cacheWrite = intAt(obj, n, "prompt_tokens_details", "cache_write_tokens")
	u.reasoning = intAt(obj, n, "completion_tokens_details", "reasoning_tokens")
	return true
}

// readUsage reads the usage of a whole answer in the call's wire format.
func (c *call) readUsage(doc []byte) bool {
	if c.surface.format == upstream.FormatAnthropic {
		return readAnthropicUsage(doc, &c.usage, &c.fields.node)
	}
	return readUsage(doc, &c.usage, &c.fields.node)
}

// hasUsageObject is a cheap pre-check: whether some "usage" key in doc has
// an object value. A quote cannot appear unescaped inside a JSON string,
// so every match of `"usage"` is a real key. Stream chunks carry
// "usage":null on all but the last one; this spares them a search.
func hasUsageObject(doc []byte) bool {
	for {
		i := bytes.Index(doc, usageKey)
		if i < 0 {
			return false
		}
		doc = doc[i+len(usageKey):]
		j := skipSpace(doc, 0)
		if j < len(doc) && doc[j] == ':' {
			if j = skipSpace(doc, j+1); j < len(doc) && doc[j] == '{' {
				return true
			}
		}
	}
}

// intAt returns the integer at path in the JSON object obj, or 0.
func intAt(obj string, n *ast.Node, path ...any) int64 {
	var err error
	if *n, err = sonic.GetFromString(obj, path...); err != nil || n.TypeSafe() != ast.V_NUMBER {
		return 0
	}
	v, err := n.Int64()
	if err != nil {
		return 0
	}
	return v
}
