package router

import (
	"math/bits"

	"switchboard/store/money"
	"switchboard/upstream/canon"
)

// Cost is what a call costs the user, by component. Total is the sum of
// the others.
type Cost struct {
	Input, Output, CacheRead, CacheWrite, Total money.Money
}

// Cost returns what u costs at price p. The gateway bills at provider
// price with zero markup and no platform fee:
//
//   - Input tokens at the input price.
//   - Output tokens, reasoning included, at the output price. Reasoning is
//     part of Output and is not charged again.
//   - Cache writes at the provider's cache-write price.
//   - Cache reads cost nothing: the gateway gives them away, so Cost.CacheRead
//     is always 0 whatever the catalog's cache-read price. (The field exists
//     so a ledger entry and the billing API show every component.)
//
// Each component is tokens × price per million / 1e6, rounded up to the
// whole nano-dollar, so a call never costs less than the provider charges
// and at most 1e-9 USD more per component. The product is taken in 128
// bits (math/bits), so no token count or price can overflow: 1e9 tokens at
// $1000/M is 1e21 before division, beyond int64 but far inside 128 bits.
// A component or total that would exceed money.Max (9.2 billion
// dollars) saturates there. Cost does not allocate.
func (p Price) Cost(u canon.Usage) Cost {
	c := Cost{
		Input:      perMillion(u.Input, p.Input),
		Output:     perMillion(u.Output, p.Output),
		CacheWrite: perMillion(u.CacheWrite, p.CacheWrite),
	}
	c.Total = addMoney(addMoney(c.Input, c.Output), c.CacheWrite)
	return c
}

// Worst returns the most a call can cost with promptTokens of prompt and
// at most maxOutput completion tokens: the amount a request reserves
// before it is forwarded.
//
// Every prompt token is priced at the dearer of the input and cache-write
// prices, not at the input price alone: at Anthropic a prompt written to
// the cache costs 1.25× one that is not, and a reservation at the input
// price would let concurrent requests overspend. When both prices are
// set, one nano-dollar more covers the rounding of a prompt split between
// the two components. So Worst(p, o) >= Cost(u).Total for every u with
// u.Input+u.CacheRead+u.CacheWrite <= p and u.Output <= o.
func (p Price) Worst(promptTokens, maxOutput int64) money.Money {
	w := addMoney(perMillion(promptTokens, max(p.Input, p.CacheWrite)), perMillion(maxOutput, p.Output))
	if promptTokens > 0 && p.Input > 0 && p.CacheWrite > 0 {
		w = addMoney(w, 1)
	}
	return w
}

// EstimateTokens estimates the prompt tokens of a request body of
// bodyBytes bytes without tokenizing it: ceil(bytes/3). It is a
// deliberate over-estimate for reservations: English prose runs about 4
// bytes a token and code and JSON 3-4, and the body's JSON framing,
// role names and escapes are bytes but few tokens. Base64 images are a
// large over-estimate, so callers clamp the result to the model's context
// window. A non-positive size is 0 tokens.
func EstimateTokens(bodyBytes int) int64 {
	if bodyBytes <= 0 {
		return 0
	}
	return (int64(bodyBytes) + 2) / 3
}

// perMillion returns tokens × price / 1e6 rounded up, where price is per
// million tokens, saturating at money.Max. Non-positive inputs give 0.
//
// Both factors are below 2^63, so the 128-bit product is below 2^126 and
// adding 1e6-1 for the rounding cannot overflow it. The quotient fits in
// 64 bits exactly when the high word is below the divisor (bits.Div64
// panics otherwise, so that case saturates first).
func perMillion(tokens int64, price money.Money) money.Money {
	if tokens <= 0 || price <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(tokens), uint64(price))
	var carry uint64
	lo, carry = bits.Add64(lo, 1e6-1, 0)
	hi += carry
	if hi >= 1e6 {
		return money.Max
	}
	q, _ := bits.Div64(hi, lo, 1e6)
	if q > uint64(money.Max) {
		return money.Max
	}
	return money.Money(q)
}

// addMoney returns a+b for non-negative a and b, saturating at
// money.Max.
func addMoney(a, b money.Money) money.Money {
	if s := a + b; s >= a {
		return s
	}
	return money.Max
}
