package postgres

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/store"
	"switchboard/store/money"
)

// BenchmarkReserveSettle is the request path's billing on the postgres
// backend: a reservation from the node's lease and its settlement, with
// the background leasing and shipping running against a real PostgreSQL.
func BenchmarkReserveSettle(b *testing.B) {
	url := server.NewDatabase(b)
	local, err := store.OpenWith(b.TempDir(), store.Options{Outbox: true})
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	s, err := Open(b.Context(), url, local, Options{Node: "bench", LeaseMax: 100 * money.Dollar})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(b.Context())
	if err := s.TopUp("team", 1_000_000*money.Dollar, "", store.CreateAccount); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "req-" + strconv.FormatInt(n.Add(1), 10)
			r, err := s.Reserve("team", "", id, 10_000, now)
			if err != nil {
				b.Error(err)
				return
			}
			if err := s.Settle(r, store.Entry{Cost: 5000}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	bg, rq := leaseRequests.Get(), leaseRequestsSync.Get()
	b.ReportMetric(float64(bg+rq), "leases")
}
