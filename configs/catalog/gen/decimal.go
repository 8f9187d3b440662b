package main

import (
	"fmt"
	"math/big"
	"strings"
)

// nano is 10^9: prices are kept to the nano-dollar per million tokens.
var nano = big.NewInt(1_000_000_000)

// decimalPrice converts a number literal of dollars per unit ("0.075",
// "2.5e-06", "3.0000000000000004e-07") times perUnit (1 for a price per
// million tokens, 1e6 for one per token) into a plain decimal string of
// dollars per million tokens, as the catalog writes prices ("0.075",
// "2.5", "0.3").
//
// The literal is read as the exact decimal it spells, with math/big
// rationals, never through a float. It is rounded half away from zero to
// 9 decimal places, the nano-dollar per million tokens the gateway's
// money keeps (1e-15 USD a token), which turns a float artifact such as
// 0.30000000000000004 back into 0.3 and changes no real price.
func decimalPrice(lit string, perUnit int64) (string, error) {
	r, ok := new(big.Rat).SetString(lit)
	if !ok || r.Sign() < 0 {
		return "", fmt.Errorf("cannot read price %q: want a non-negative number", lit)
	}
	r.Mul(r, new(big.Rat).SetInt64(perUnit))
	r.Mul(r, new(big.Rat).SetInt(nano))
	// Round half away from zero: floor(num*2/den + 1) / 2 for r >= 0.
	q := new(big.Int).Mul(r.Num(), big.NewInt(2))
	q.Add(q, r.Denom())
	q.Quo(q, new(big.Int).Mul(r.Denom(), big.NewInt(2)))
	whole, frac := new(big.Int).QuoRem(q, nano, new(big.Int))
	s := whole.String()
	if frac.Sign() != 0 {
		f := fmt.Sprintf("%09d", frac.Int64())
		s += "." + strings.TrimRight(f, "0")
	}
	return s, nil
}
