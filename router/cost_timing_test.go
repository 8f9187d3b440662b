package router

import (
	"testing"

	"switchboard/store/money"
	"switchboard/upstream/canon"
)

var sinkCost Cost

func BenchmarkPriceCost(b *testing.B) {
	p := Price{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000}
	u := canon.Usage{Input: 1200, CacheRead: 50000, CacheWrite: 3000, Output: 900, Reasoning: 300}
	b.ReportAllocs()
	for b.Loop() {
		sinkCost = p.Cost(u)
	}
}

func BenchmarkPriceWorst(b *testing.B) {
	p := Price{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000}
	b.ReportAllocs()
	for b.Loop() {
		sinkCost.Total = p.Worst(EstimateTokens(180_000), 64000)
	}
}
