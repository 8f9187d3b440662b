package router

import (
	"testing"

	"switchboard/store/money"
	"switchboard/upstream/canon"
)

var sinkCost Cost

func BenchmarkPriceCost(b *testing.B) {
	p := Price{Rates: Rates{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000}}
	u := canon.Usage{Input: 1200, CacheRead: 50000, CacheWrite: 3000, Output: 900, Reasoning: 300}
	b.ReportAllocs()
	for b.Loop() {
		sinkCost = p.Cost(u)
	}
}

func BenchmarkPriceWorst(b *testing.B) {
	p := Price{Rates: Rates{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000}}
	b.ReportAllocs()
	for b.Loop() {
		sinkCost.Total = p.Worst(EstimateTokens(180_000), 64000)
	}
}

// BenchmarkPriceCostRules prices a call that hits every rule: a long
// prompt, 5-minute and 1-hour cache writes, a reasoning price and a
// service tier the model has no rates for.
func BenchmarkPriceCostRules(b *testing.B) {
	p := Price{
		Rates:     Rates{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000, CacheWrite1h: 6 * money.Dollar, Reasoning: 20 * money.Dollar},
		LongAbove: 200_000,
		Long:      Rates{Input: 6 * money.Dollar, Output: 22_500_000_000, CacheRead: 600_000_000, CacheWrite: 7_500_000_000, CacheWrite1h: 12 * money.Dollar, Reasoning: 30 * money.Dollar},
		Priority:  Rates{Input: 6 * money.Dollar, Output: 30 * money.Dollar},
	}
	u := canon.Usage{Input: 1200, CacheRead: 250000, CacheWrite: 3000, CacheWrite1h: 1000, Output: 900, Reasoning: 300, Tier: canon.TierFlex}
	b.ReportAllocs()
	for b.Loop() {
		sinkCost = p.Cost(u)
	}
}

func BenchmarkPriceWorstRules(b *testing.B) {
	p := Price{
		Rates:     Rates{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheWrite: 3_750_000_000, CacheWrite1h: 6 * money.Dollar},
		LongAbove: 200_000,
		Long:      Rates{Input: 6 * money.Dollar, Output: 22_500_000_000, CacheWrite: 7_500_000_000, CacheWrite1h: 12 * money.Dollar},
		Priority:  Rates{Input: 6 * money.Dollar, Output: 30 * money.Dollar},
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkCost.Total = p.Worst(EstimateTokens(900_000), 64000)
	}
}
