package canon

import (
	"bytes"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"
)

// The lazy JSON reads of the request path: a few fields of a document
// found with sonic's non-copying search, which skips what it does not
// need. The usage readers of each format (ReadUsage in package openai,
// anthropic, responses and gemini) are built on them. n is search
// scratch space the caller keeps: ast.Node methods take a pointer that
// escapes, so a local Node would be a heap allocation per search.

// HasObject is a cheap pre-check: whether some key written as key
// (quotes included, e.g. `"usage"`) in doc has an object value. A quote
// cannot appear unescaped inside a JSON string, so every match is a real
// key. Stream chunks carry "usage":null on all but the last one; this
// spares them a search.
func HasObject(doc, key []byte) bool {
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

// ObjectAt returns the raw JSON object at path in doc, after HasObject's
// check that key, the path's last key written with its quotes, has an
// object value somewhere.
func ObjectAt(doc, key []byte, n *ast.Node, path ...any) (string, bool) {
	if !HasObject(doc, key) {
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

// IntAt returns the integer at path in the JSON object obj, or 0.
func IntAt(obj string, n *ast.Node, path ...any) int64 {
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

// ServiceTierKey is the key of the service tier OpenAI reports in an
// answer and Anthropic in its usage, quotes included: a cheap pre-check
// before TierAt.
const ServiceTierKey = `"service_tier"`

// TierAt returns the service tier named by the string at path in the
// JSON document doc (see ParseServiceTier), and whether there is one.
// Callers check first that doc contains ServiceTierKey.
func TierAt(doc string, n *ast.Node, path ...any) (ServiceTier, bool) {
	var err error
	if *n, err = sonic.GetFromString(doc, path...); err != nil || n.TypeSafe() != ast.V_STRING {
		return TierStandard, false
	}
	s, err := n.String()
	if err != nil {
		return TierStandard, false
	}
	return ParseServiceTier(s), true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}
