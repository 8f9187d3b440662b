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
	obj, ok := usageObject(doc, usageKey, answerUsagePaths[upstream.FormatOpenAI], n)
	if !ok {
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
	n := &c.fields.node
	switch c.surface.format {
	case upstream.FormatAnthropic:
		return readAnthropicUsage(doc, &c.usage, n)
	case upstream.FormatResponses:
		return readResponsesUsage(doc, answerUsagePaths[upstream.FormatResponses], &c.usage, n)
	case upstream.FormatGemini:
		return readGeminiUsage(doc, &c.usage, n)
	}
	return readUsage(doc, &c.usage, n)
}

// The key of the usage object in each format, and its path in a whole
// answer and in the stream event that carries it.
var (
	usageKeys = [...][]byte{
		upstream.FormatOpenAI: usageKey, upstream.FormatAnthropic: usageKey,
		upstream.FormatResponses: usageKey, upstream.FormatGemini: usageMetadataKey,
	}
	answerUsagePaths = [...][]any{
		upstream.FormatOpenAI: {"usage"}, upstream.FormatAnthropic: {"usage"},
		upstream.FormatResponses: {"usage"}, upstream.FormatGemini: {"usageMetadata"},
	}
	eventUsagePaths = [...][]any{
		upstream.FormatOpenAI: {"usage"}, upstream.FormatAnthropic: {"usage"},
		upstream.FormatResponses: {"response", "usage"}, upstream.FormatGemini: {"usageMetadata"},
	}
	usageMetadataKey = []byte(`"usageMetadata"`)
)

// readResponsesUsage reads the usage object at path of an OpenAI
// Responses document (a Response, or the response.completed event) into
// u. input_tokens include the cached ones, output_tokens the reasoning.
func readResponsesUsage(doc []byte, path []any, u *usage, n *ast.Node) bool {
	obj, ok := usageObject(doc, usageKey, path, n)
	if !ok {
		return false
	}
	u.seen = true
	u.prompt = intAt(obj, n, "input_tokens")
	u.completion = intAt(obj, n, "output_tokens")
	u.cached = intAt(obj, n, "input_tokens_details", "cached_tokens")
	u.reasoning = intAt(obj, n, "output_tokens_details", "reasoning_tokens")
	return true
}

// readGeminiUsage reads the usageMetadata of a Gemini answer or stream
// chunk into u. promptTokenCount includes the cached tokens;
// candidatesTokenCount leaves out the thoughts, which are output too.
func readGeminiUsage(doc []byte, u *usage, n *ast.Node) bool {
	obj, ok := usageObject(doc, usageMetadataKey, answerUsagePaths[upstream.FormatGemini], n)
	if !ok {
		return false
	}
	u.seen = true
	u.prompt = intAt(obj, n, "promptTokenCount")
	u.reasoning = intAt(obj, n, "thoughtsTokenCount")
	u.completion = intAt(obj, n, "candidatesTokenCount") + u.reasoning
	u.cached = intAt(obj, n, "cachedContentTokenCount")
	return true
}

// usageObject returns the raw JSON object at path in doc, after a cheap
// check that some key written as key has an object value.
func usageObject(doc, key []byte, path []any, n *ast.Node) (string, bool) {
	if !hasUsageObject(doc, key) {
		return "", false
	}
	src := unsafe.String(unsafe.SliceData(doc), len(doc))
	var err error
	if *n, err = sonic.GetFromString(src, path...); err != nil || n.TypeSafe() != ast.V_OBJECT {
		return "", false
	}
	obj, err := n.Raw()
	return obj, err == nil
}

// hasUsageObject is a cheap pre-check: whether some key written as key
// (quotes included, e.g. `"usage"`) in doc has an object value. A quote
// cannot appear unescaped inside a JSON string, so every match is a real
// key. Stream chunks carry "usage":null on all but the last one; this
// spares them a search.
func hasUsageObject(doc, key []byte) bool {
	for {
		i := bytes.Index(doc, key)
		if i < 0 {
			return false
		}
		doc = doc[i+len(key):]
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
