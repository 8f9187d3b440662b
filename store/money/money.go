// Package money is the gateway's amount of money: integer nano-dollars,
// parsed from and written as exact decimal dollars. It imports nothing of
// the gateway, so config and routing code use it without linking the store.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Money is an amount in nano-dollars (1e-9 USD). Money is never a float.
//
// A nano-dollar is fine enough for per-token prices (the cheapest models
// cost a few cents per million tokens, i.e. tens of nano-dollars per
// token) and an int64 still holds about 9.2 billion dollars.
type Money int64

// Dollar is one US dollar.
const Dollar Money = 1e9

// Max is the largest amount Money holds.
const Max Money = math.MaxInt64

// String formats m as exact dollars with all nine decimals:
// 1234567890 -> "$1.234567890", -5e8 -> "-$0.500000000".
func (m Money) String() string {
	return string(m.AppendDollars(nil))
}

// AppendDollars appends m as in String to dst.
func (m Money) AppendDollars(dst []byte) []byte {
	neg, whole, frac := m.digits()
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, '$')
	dst = strconv.AppendUint(dst, whole, 10)
	dst = append(dst, '.')
	return append(dst, frac[:]...)
}

// AppendDecimal appends m to dst as plain decimal dollars, a JSON number
// without "$" or trailing fractional zeros: 1234 -> 0.000001234,
// 2_500_000_000 -> 2.5, 0 -> 0, -5e8 -> -0.5. Parse reads it back.
func (m Money) AppendDecimal(dst []byte) []byte {
	neg, whole, frac := m.digits()
	if neg {
		dst = append(dst, '-')
	}
	dst = strconv.AppendUint(dst, whole, 10)
	n := len(frac)
	for n > 0 && frac[n-1] == '0' {
		n--
	}
	if n == 0 {
		return dst
	}
	dst = append(dst, '.')
	return append(dst, frac[:n]...)
}

// digits splits m into its sign, whole dollars and nine decimal digits.
func (m Money) digits() (neg bool, whole uint64, frac [9]byte) {
	u := uint64(m)
	if m < 0 {
		neg = true
		u = -u // math.MinInt64 negates to itself; as uint64 it is right
	}
	f := u % 1e9
	for i := len(frac) - 1; i >= 0; i-- {
		frac[i] = byte('0' + f%10)
		f /= 10
	}
	return neg, u / 1e9, frac
}

// Parse parses decimal dollars with at most nine decimals: "12.5",
// "0.000001", "-3", and String's own form "$1.234567890". It rejects
// floats' exponent notation, empty parts ("1.", ".5") and amounts beyond
// Max.
func Parse(s string) (Money, error) {
	in := s
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	if len(s) > 0 && s[0] == '$' {
		s = s[1:]
	}
	whole, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			whole, frac = s[:i], s[i+1:]
			if frac == "" {
				return 0, fmt.Errorf("cannot parse money %q: no digits after the decimal point", in)
			}
			break
		}
	}
	if whole == "" {
		return 0, fmt.Errorf("cannot parse money %q: want decimal dollars like 12.5", in)
	}
	if len(frac) > 9 {
		return 0, fmt.Errorf("cannot parse money %q: more than 9 decimals (nano-dollars)", in)
	}
	const maxWhole = uint64(Max / Dollar)
	var n uint64
	for i := 0; i < len(whole); i++ {
		c := whole[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("cannot parse money %q: want decimal dollars like 12.5", in)
		}
		if n > maxWhole {
			return 0, fmt.Errorf("cannot parse money %q: %w", in, errRange)
		}
		n = n*10 + uint64(c-'0')
	}
	if n > maxWhole {
		return 0, fmt.Errorf("cannot parse money %q: %w", in, errRange)
	}
	var f uint64
	for i := 0; i < 9; i++ {
		f *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("cannot parse money %q: want decimal dollars like 12.5", in)
			}
			f += uint64(c - '0')
		}
	}
	total := n*uint64(Dollar) + f
	if total > uint64(Max) {
		return 0, fmt.Errorf("cannot parse money %q: %w", in, errRange)
	}
	if neg {
		return -Money(total), nil
	}
	return Money(total), nil
}

var errRange = errors.New("beyond the largest amount, $9223372036.854775807")
