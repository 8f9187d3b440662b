package store

import (
	"fmt"
	"switchboard/store/money"
	"testing"
	"time"
)

// TestSpendMatchesTheLedger settles entries on 70 days in a scrambled
// order and checks Spend for every day boundary (ring, disk and total
// paths) against sums over the entries, before and after a reopen.
func TestSpendMatchesTheLedger(t *testing.T) {
	s, dir := openTest(t)
	if err := s.TopUp("team", 1000*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type spent struct {
		at   time.Time
		cost money.Money
	}
	var all []spent
	for i := range 120 {
		at := base.Add(time.Duration(i*53%70)*24*time.Hour + time.Duration(i)*time.Minute)
		cost := money.Money(i+1) * money.Dollar / 100
		key := "sk-sb-key001"
		if i%4 == 3 {
			key = "sk-sb-key002" // another key's spend is not counted
		} else {
			all = append(all, spent{at, cost})
		}
		r, err := s.Reserve("team", "", fmt.Sprintf("req-%03d", i), money.Dollar, at)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Settle(r, Entry{KeyID: key, Cost: cost}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 { // several groups, so rows are read back and added to
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func() {
		t.Helper()
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		sinces := []time.Time{{}, base.Add(-48 * time.Hour)}
		for d := -1; d <= 72; d++ {
			sinces = append(sinces, base.Add(time.Duration(d)*24*time.Hour), base.Add(time.Duration(d)*24*time.Hour+13*time.Hour))
		}
		for _, since := range sinces {
			dayStart := since.Truncate(24 * time.Hour)
			var want money.Money
			for _, sp := range all {
				if !sp.at.Before(dayStart) {
					want += sp.cost
				}
			}
			if got := s.Spend("sk-sb-key001", since); got != want {
				t.Fatalf("Spend since %s = %s, want %s", since, got, want)
			}
		}
		if got := s.Spend("sk-sb-unknown", time.Time{}); got != 0 {
			t.Fatalf("unknown key spent %s", got)
		}
	}
	check()
	s = reopen(t, s, dir)
	check()
}

func TestUnixDay(t *testing.T) {
	f := func(at time.Time, want int32) {
		t.Helper()
		if got := unixDay(at); got != want {
			t.Errorf("unixDay(%s) = %d, want %d", at, got, want)
		}
	}
	f(time.Unix(0, 0), 0)
	f(time.Unix(86399, 0), 0)
	f(time.Unix(86400, 0), 1)
	f(time.Unix(-1, 0), -1)
	f(time.Unix(-86400, 0), -1)
	f(time.Unix(-86401, 0), -2)
	f(time.Date(2026, 3, 10, 23, 59, 59, 0, time.FixedZone("x", -5*3600)), unixDay(time.Date(2026, 3, 11, 4, 59, 59, 0, time.UTC)))
	if unixDay(time.Time{}) >= 0 {
		t.Error("the zero time is not before every day")
	}
}
