package store

import (
	"fmt"
	"math/rand/v2"
	"switchboard/store/money"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkUsageByModelByDay groups a month of 1,000,000 ledger entries
// (100 keys, 20 models, 1,000 users) by model and day, as the admin usage
// endpoint does for a month's chart. The entries are written straight to
// the time-ordered ledger (their usage records), as the writer would have, then flushed to
// sstables, so the benchmark reads from disk files, not the memtable.
func BenchmarkUsageByModelByDay(b *testing.B) {
	const n = 1_000_000
	s, _ := openTest(b)
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	step := 30 * 24 * time.Hour / n
	rng := rand.New(rand.NewPCG(1, 2))
	batch := s.db.NewBatch()
	var key, val []byte
	for i := range n {
		e := Entry{
			RequestID: fmt.Sprintf("req_%016x", i), Time: month.Add(time.Duration(i) * step),
			KeyID: fmt.Sprintf("sk-sb-k%05d", rng.IntN(100)), Account: "team",
			ModelRequested: fmt.Sprintf("model-%02d", rng.IntN(20)), Provider: "mock", UpstreamModel: "upstream-model",
			InputTokens: rng.Int64N(20000), OutputTokens: rng.Int64N(2000), CacheReadTokens: rng.Int64N(100000),
			Cost: money.Money(1 + rng.Int64N(100000)), LatencyMicros: 800000, OverheadMicros: 40, Status: 200, Attempts: 1,
			User: fmt.Sprintf("user-%04d", rng.IntN(1000)), Session: fmt.Sprintf("%08x", rng.Uint32()), Tags: "team-a,nightly",
		}
		key = ledgerTimeKey(key[:0], e.Time, e.RequestID)
		val = appendUsageRecord(val[:0], &e)
		_ = batch.Set(key, val, nil)
		if batch.Len() > 16<<20 {
			if err := batch.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		b.Fatal(err)
	}
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	q := UsageQuery{From: month, To: month.AddDate(0, 1, 0), GroupBy: DimModel, Bucket: 24 * time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		rows, err := s.Usage(q)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) != 30*20 {
			b.Fatalf("%d rows, want %d", len(rows), 30*20)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
}
