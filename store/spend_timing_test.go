package store

import (
	"strconv"
	"switchboard/store/money"
	"testing"
	"time"
)

// BenchmarkSpend is the budget check on the hot path: a key's spend today
// and this month, from memory.
func BenchmarkSpend(b *testing.B) {
	s, _ := openTest(b)
	if err := s.TopUp("team", money.Max/2, "", CreateAccount); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		at := t0.Add(-time.Duration(i%40) * 24 * time.Hour)
		r, err := s.Reserve("team", "", "req-"+strconv.Itoa(i), money.Dollar, at)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Settle(r, Entry{KeyID: "sk-sb-key" + strconv.Itoa(i%100), Cost: money.Dollar / 100}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	day := t0.Truncate(24 * time.Hour)
	month := time.Date(t0.Year(), t0.Month(), 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var sink money.Money
		for pb.Next() {
			sink += s.Spend("sk-sb-key42", day) + s.Spend("sk-sb-key42", month)
		}
		_ = sink
	})
}
