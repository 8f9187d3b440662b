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
//   - The rates are the model's for the service tier the provider reports
//     (u.Tier: flex, priority, batch) when the catalog gives it one, else
//     its long-prompt rates when the prompt (input, cache reads and cache
//     writes together) is more than LongAbove tokens, else its standard
//     ones. A long prompt is billed whole at the long rates, as Anthropic
//     and Google bill it.
//   - Input tokens at the input price.
//   - Output tokens at the output price; the reasoning part of them
//     (u.Reasoning) at the reasoning price where the model has one.
//     Reasoning is part of Output and is never charged twice.
//   - Cache writes at the cache-write price, the one-hour part of them
//     (u.CacheWrite1h) at the one-hour price where the model has one.
//   - Cache reads cost nothing: the gateway gives them away, so Cost.CacheRead
//     is always 0 whatever the catalog's cache-read price. (The field exists
//     so a ledger entry and the billing API show every component.)
//
// Each priced part is tokens × price per million / 1e6, rounded up to the
// whole nano-dollar, so a call never costs less than the provider charges
// and at most 1e-9 USD more per part. The product is taken in 128
// bits (math/bits), so no token count or price can overflow: 1e9 tokens at
// $1000/M is 1e21 before division, beyond int64 but far inside 128 bits.
// A component or total that would exceed money.Max (9.2 billion
// dollars) saturates there. Cost does not allocate.
func (p *Price) Cost(u canon.Usage) Cost {
	r := p.rates(u.Tier, u.Prompt())
	c := Cost{
		Input:      perMillion(u.Input, r.Input),
		Output:     perMillion(u.Output, r.Output),
		CacheWrite: perMillion(u.CacheWrite, r.CacheWrite),
	}
	if r.Reasoning > 0 && u.Reasoning > 0 {
		reasoning := min(u.Reasoning, max(u.Output, 0))
		c.Output = addMoney(perMillion(u.Output-reasoning, r.Output), perMillion(reasoning, r.Reasoning))
	}
	if r.CacheWrite1h > 0 && u.CacheWrite1h > 0 {
		hour := min(u.CacheWrite1h, max(u.CacheWrite, 0))
		c.CacheWrite = addMoney(perMillion(u.CacheWrite-hour, r.CacheWrite), perMillion(hour, r.CacheWrite1h))
	}
	c.Total = addMoney(addMoney(c.Input, c.Output), c.CacheWrite)
	return c
}

// rates returns the rates a call in service tier tier with a prompt of
// prompt tokens is billed at.
func (p *Price) rates(tier canon.ServiceTier, prompt int64) *Rates {
	switch tier {
	case canon.TierFlex:
		if p.Flex.offered() {
			return &p.Flex
		}
	case canon.TierPriority:
		if p.Priority.offered() {
			return &p.Priority
		}
	case canon.TierBatch:
		if p.Batch.offered() {
			return &p.Batch
		}
	}
	if p.LongAbove > 0 && prompt > p.LongAbove {
		return &p.Long
	}
	return &p.Rates
}

// Worst returns the most a call can cost with promptTokens of prompt and
// at most maxOutput completion tokens: the amount a request reserves
// before it is forwarded.
//
// Every prompt token is priced at the dearest of the input and cache-write
// prices, not at the input price alone: at Anthropic a prompt written to
// the cache costs 1.25× one that is not (2× for an hour), and a
// reservation at the input price would let concurrent requests overspend.
// Output is priced at the dearer of the output and reasoning prices. A
// prompt split among n priced parts (input, 5-minute and 1-hour writes)
// rounds up n-1 nano-dollars more than it would whole, and output split
// between reasoning and the rest one more; Worst adds them. The rates are the dearest the call may be billed
// at: the long-prompt ones when promptTokens is past LongAbove, and any
// service tier's, since the provider says which served the call only in
// its answer. So Worst(p, o) >= Cost(u).Total for every u with
// u.Input+u.CacheRead+u.CacheWrite <= p and u.Output <= o.
func (p *Price) Worst(promptTokens, maxOutput int64) money.Money {
	w := p.Rates.worst(promptTokens, maxOutput)
	if p.LongAbove > 0 && promptTokens > p.LongAbove {
		w = max(w, p.Long.worst(promptTokens, maxOutput))
	}
	for _, t := range [...]*Rates{&p.Flex, &p.Priority, &p.Batch} {
		if t.offered() {
			w = max(w, t.worst(promptTokens, maxOutput))
		}
	}
	return w
}

// worst is Worst at rates r.
func (r *Rates) worst(promptTokens, maxOutput int64) money.Money {
	w := addMoney(perMillion(promptTokens, max(r.Input, r.CacheWrite, r.CacheWrite1h)), perMillion(maxOutput, max(r.Output, r.Reasoning)))
	if promptTokens > 0 {
		set := -1 // a prompt split among n priced parts rounds up n-1 more
		for _, v := range [...]money.Money{r.Input, r.CacheWrite, r.CacheWrite1h} {
			if v > 0 {
				set++
			}
		}
		w = addMoney(w, money.Money(max(set, 0)))
	}
	if maxOutput > 0 && r.Reasoning > 0 && r.Output > 0 {
		w = addMoney(w, 1)
	}
	return w
}

// offered reports whether r is a price list: a tier the model does not
// offer has neither an input nor an output price.
func (r *Rates) offered() bool { return r.Input > 0 || r.Output > 0 }

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
