package proxy

import (
	"strconv"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"
)

// appendDollars appends an amount of nano-dollars as an exact decimal
// number of dollars, the unit of OpenRouter's usage.cost and credits:
// 1234 -> 0.000001234, 2_500_000_000 -> 2.5.
func appendDollars(dst []byte, nanos int64) []byte {
	if nanos < 0 {
		dst = append(dst, '-')
		nanos = -nanos
	}
	dst = strconv.AppendInt(dst, nanos/1e9, 10)
	frac := nanos % 1e9
	if frac == 0 {
		return dst
	}
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 9
	for digits[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, digits[:n]...)
}

// appendWithCost appends doc to dst with "cost":<dollars> added as the last
// field of its top-level "usage" object, so a client sees what the call
// cost in OpenRouter's shape. doc is appended unchanged when it has no
// usage object. n is search scratch space.
func appendWithCost(dst, doc []byte, nanos int64, n *ast.Node) []byte {
	src := unsafe.String(unsafe.SliceData(doc), len(doc))
	var err error
	if *n, err = sonic.GetFromString(src, "usage"); err != nil || n.TypeSafe() != ast.V_OBJECT {
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
	dst = appendDollars(dst, nanos)
	return append(dst, doc[closing:]...)
}
