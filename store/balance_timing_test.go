package store

import (
	"fmt"
	"strconv"
	"switchboard/store/money"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkReserveSettle is the hot path's use of the store per request:
// Reserve before forwarding, Settle after the last byte, with the default
// sync interval and with SyncAlways (one fsync per group commit). The time
// includes the group commits and the syncs (the benchmark flushes, which
// syncs, before it stops), so ns/op is the store's throughput, not only
// the caller's cost.
func BenchmarkReserveSettle(b *testing.B) {
	for _, sync := range []struct {
		name  string
		every time.Duration
	}{{"interval", DefaultSyncInterval}, {"always", SyncAlways}} {
		for _, accounts := range []int{1, 64} {
			b.Run(fmt.Sprintf("sync=%s/accounts=%d", sync.name, accounts), func(b *testing.B) {
				s, _ := openWith(b, Options{SyncInterval: sync.every})
				names := make([]string, accounts)
				for i := range names {
					names[i] = "acct-" + strconv.Itoa(i)
					if err := s.TopUp(names[i], money.Max/2, "", CreateAccount); err != nil {
						b.Fatal(err)
					}
				}
				ids := make([]string, b.N)
				for i := range ids {
					ids[i] = "req-" + strconv.Itoa(i)
				}
				commits, syncs := ledgerCommits.Get(), ledgerCommitSyncs.Get()+ledgerIntervalSyncs.Get()
				var next atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := next.Add(1) - 1
						r, err := s.Reserve(names[int(i)%accounts], "", ids[i], money.Dollar, t0)
						if err != nil {
							b.Error(err)
							return
						}
						e := Entry{KeyID: "sk-sb-bench1", ModelRequested: "gpt-4o", InputTokens: 1000, OutputTokens: 200, Cost: money.Dollar / 1000}
						if err := s.Settle(r, e); err != nil {
							b.Error(err)
							return
						}
					}
				})
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if n := ledgerCommits.Get() - commits; n > 0 {
					b.ReportMetric(float64(b.N)/float64(n), "entries/commit")
				}
				if n := ledgerCommitSyncs.Get() + ledgerIntervalSyncs.Get() - syncs; n > 0 {
					b.ReportMetric(float64(b.N)/float64(n), "entries/sync")
				}
			})
		}
	}
}

// BenchmarkSettle is Settle as the handler sees it, serially: the checks,
// the settle record's write(2) and the queueing. Each chunk of settles is
// reserved before and committed after, outside the timer, so that what it
// measures is not the queue's backpressure (BenchmarkReserveSettle's).
func BenchmarkSettle(b *testing.B) {
	s, _ := openTest(b)
	if err := s.TopUp("team", money.Max/2, "", CreateAccount); err != nil {
		b.Fatal(err)
	}
	e := Entry{KeyID: "sk-sb-bench1", ModelRequested: "gpt-4o", InputTokens: 1000, OutputTokens: 200, Cost: money.Dollar / 1000}
	rs := make([]*Reservation, 0, maxGroup)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += len(rs) {
		b.StopTimer()
		rs = rs[:0]
		for i := done; i < min(b.N, done+maxGroup); i++ {
			r, err := s.Reserve("team", "", "req-"+strconv.Itoa(i), money.Dollar, t0)
			if err != nil {
				b.Fatal(err)
			}
			rs = append(rs, r)
		}
		b.StartTimer()
		for _, r := range rs {
			if err := s.Settle(r, e); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkReserveRelease is Reserve's own cost on the hot path (memory
// and one journal write) with nothing for the writer to do.
func BenchmarkReserveRelease(b *testing.B) {
	s, _ := openTest(b)
	if err := s.TopUp("team", money.Max/2, "", CreateAccount); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "req-" + strconv.Itoa(i)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := s.Reserve("team", "", ids[next.Add(1)-1], money.Dollar, t0)
			if err != nil {
				b.Error(err)
				return
			}
			if err := s.Release(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReserve is one Reserve as the handler sees it, serially: the
// balance check and the journal write.
func BenchmarkReserve(b *testing.B) {
	s, _ := openTest(b)
	if err := s.TopUp("team", money.Max/2, "", CreateAccount); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "req-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Reserve("team", "", ids[i], money.Dollar, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReserveAllocationBudget holds the store's part of the hot path to
// its budget: the Reservation itself (read by the writer after Settle
// returns, so not pooled), nothing for the budget check.
func TestReserveAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race; make test checks the budget in its non-race run")
	}
	s, _ := openTest(t)
	if err := s.TopUp("team", money.Max/2, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 301)
	for i := range ids {
		ids[i] = "req-" + strconv.Itoa(i)
	}
	i := 0
	allocs := testing.AllocsPerRun(300, func() {
		r, err := s.Reserve("team", "", ids[i], money.Dollar, t0)
		if err != nil {
			t.Fatal(err)
		}
		i++
		if s.Spend("sk-sb-key001", t0) != 0 {
			t.Fatal("spend")
		}
		if err := s.Release(r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Reserve+Spend+Release allocate %.1f times, budget 1", allocs)
	}
}
