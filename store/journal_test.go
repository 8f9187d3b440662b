package store

import (
	"errors"
	"fmt"
	"runtime"
	"switchboard/store/money"
	"testing"
	"time"
)

// openKilled opens the copy killCopy made, and closes it at the end.
func openKilled(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("open after the kill: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitCommitted waits until the writer committed the entry of id (it is
// visible), without Flush, which would sync.
func waitCommitted(t testing.TB, s *Store, id string) {
	t.Helper()
	for {
		_, err := s.Entry(id)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
}

func reserveSettle(t testing.TB, s *Store, id string, worst money.Money, e Entry) {
	t.Helper()
	r, err := s.Reserve("team", "sk-sb-key001", id, worst, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(r, e); err != nil {
		t.Fatal(err)
	}
}

// TestSettledEntryReachesTheOSBeforeSettleReturns: with nothing synced,
// the files as the OS has them right after Settle returned (what a kill
// -9 then leaves) hold the entry at its real cost, both before the writer
// committed it and after (a pebble.NoSync commit is not in the OS).
func TestSettledEntryReachesTheOSBeforeSettleReturns(t *testing.T) {
	for _, committed := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", committed), func(t *testing.T) {
			s, dir := openWith(t, Options{SyncInterval: noSync})
			if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
				t.Fatal(err)
			}
			e := Entry{ModelRequested: "gpt-4o", InputTokens: 100, OutputTokens: 20, Cost: 3 * money.Dollar / 10, Status: 200}
			reserveSettle(t, s, "req-1", money.Dollar, e)
			if committed {
				waitCommitted(t, s, "req-1")
			}
			after := openKilled(t, killCopy(t, dir))
			got, err := after.Entry("req-1")
			if err != nil {
				t.Fatalf("the entry Settle returned for is lost: %v", err)
			}
			if got.Cost != e.Cost || got.Settled != "" || got.InputTokens != 100 || got.KeyID != "sk-sb-key001" || !got.Time.Equal(t0) {
				t.Fatalf("entry after the kill %+v, want the settled one", got)
			}
			if a := mustAccount(t, after, "team"); a.Credits != 10*money.Dollar-e.Cost || a.Spent != e.Cost {
				t.Fatalf("account after the kill %+v", a)
			}
			if got := after.Spend("sk-sb-key001", time.Time{}); got != e.Cost {
				t.Fatalf("key spend after the kill %s", got)
			}
		})
	}
}

// TestKilledStoreReplaysEntriesInTheOrderCharged: the settle records are
// replayed in the order the writer charged them, not the requests' time
// order, so the plan allowance goes to the same entries; their
// reservations' records sit in older journal segments.
func TestKilledStoreReplaysEntriesInTheOrderCharged(t *testing.T) {
	defer func(n int64) { journalSegmentMax = n }(journalSegmentMax)
	journalSegmentMax = 128
	s, dir := openWith(t, Options{SyncInterval: noSync})
	if err := s.TopUp("team", 10*money.Dollar, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	if err := s.AssignPlan("team", "pro", money.Dollar, Monthly, t0, CreateAccount); err != nil { // $2 of allowance
		t.Fatal(err)
	}
	var rs []*Reservation
	for i := range 6 {
		r, err := s.Reserve("team", "", fmt.Sprintf("req-%d", i), money.Dollar, t0.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for i := len(rs) - 1; i >= 0; i-- { // latest first
		if err := s.Settle(rs[i], Entry{Cost: 6 * money.Dollar / 10}); err != nil {
			t.Fatal(err)
		}
	}
	waitCommitted(t, s, "req-0")
	after := openKilled(t, killCopy(t, dir))
	for _, r := range rs {
		want, err := s.Entry(r.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := after.Entry(r.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PaidByPlan != want.PaidByPlan || got.Cost != want.Cost || got.Settled != "" {
			t.Errorf("%s after the kill: cost %s, plan paid %s; charged before: %s, %s", r.RequestID, got.Cost, got.PaidByPlan, want.Cost, want.PaidByPlan)
		}
	}
	if a, b := mustAccount(t, after, "team"), mustAccount(t, s, "team"); a != b {
		t.Fatalf("account after the kill %+v, before %+v", a, b)
	}
}
