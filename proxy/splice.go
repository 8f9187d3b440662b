package proxy

import (
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"

	"switchboard/store/money"
	"switchboard/upstream/canon"
)

// appendWithCost appends doc to dst with "cost":<dollars> added as the last
// field of its usage object, found at path ("usage" at the top in most
// formats), so a client sees what the call cost in OpenRouter's shape:
// exact decimal dollars, e.g. 0.000001234. doc is appended unchanged when
// it has no usage object. n is search scratch space.
func appendWithCost(dst, doc []byte, path []any, cost money.Money, n *ast.Node) []byte {
	src := unsafe.String(unsafe.SliceData(doc), len(doc))
	var err error
	if *n, err = sonic.GetFromString(src, path...); err != nil || n.TypeSafe() != ast.V_OBJECT {
		return append(dst, doc...)
	}
	at, err := spanOf(src, n)
	if err != nil {
		return append(dst, doc...)
	}
	closing := at.end - 1 // the usage object's '}'
	dst = append(dst, doc[:closing]...)
	if skipSpace(doc, at.start+1) != closing { // not an empty object
		dst = append(dst, ',')
	}
	dst = append(dst, `"cost":`...)
	dst = cost.AppendDecimal(dst)
	return append(dst, doc[closing:]...)
}

// appendWithProvider appends the JSON object doc to dst with
// "provider":<name> added as its first field, as OpenRouter answers. A doc
// that is not an object is appended unchanged.
func appendWithProvider(dst, doc []byte, provider string) []byte {
	return appendFirstField(dst, doc, "provider", func(dst []byte) []byte { return canon.AppendString(dst, provider) })
}

// appendFirstField appends the JSON object doc to dst with the member
// key, whose value value appends, added as its first. A doc that is not
// an object is appended unchanged.
func appendFirstField(dst, doc []byte, key string, value func([]byte) []byte) []byte {
	open := skipSpace(doc, 0)
	if open >= len(doc) || doc[open] != '{' {
		return append(dst, doc...)
	}
	dst = value(canon.AppendKey(append(dst, doc[:open+1]...), key))
	if next := skipSpace(doc, open+1); next < len(doc) && doc[next] != '}' {
		dst = append(dst, ',')
	}
	return append(dst, doc[open+1:]...)
}
