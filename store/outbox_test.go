package store

import (
	"errors"
	"fmt"
	"switchboard/store/money"
	"testing"
	"time"
)

// TestOutboxShipsEveryEntryOnce: with Options.Outbox each new entry waits
// in the outbox in commit order until Shipped, across a reopen, and a
// duplicate entry adds nothing.
func TestOutboxShipsEveryEntryOnce(t *testing.T) {
	s, dir := openWith(t, Options{Outbox: true})
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := s.GrantCredits("team", money.Dollar); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		r, err := s.Reserve("team", "", fmt.Sprintf("req-%d", i), 1000, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Settle(r, Entry{Cost: 100}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Reserve("team", "", "req-0", 1000, t0) // a replay of req-0
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(r, Entry{Cost: 100}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := s.OutboxLen(); n != 5 {
		t.Fatalf("outbox holds %d, want 5", n)
	}
	got, err := s.Outbox(nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, oe := range got {
		if oe.Entry.RequestID != fmt.Sprintf("req-%d", i) || oe.Entry.Cost != 100 {
			t.Errorf("outbox[%d] = %+v", i, oe)
		}
	}
	if err := s.Shipped(got); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	if n := s.OutboxLen(); n != 2 {
		t.Fatalf("after reopen the outbox holds %d, want 2", n)
	}
	rest, err := s.Outbox(nil, 10)
	if err != nil || len(rest) != 2 || rest[0].Entry.RequestID != "req-3" || rest[1].Entry.RequestID != "req-4" || rest[0].Seq <= got[2].Seq {
		t.Fatalf("rest %+v, %v", rest, err)
	}
}

// TestTakeCreditsLeavesHolds: TakeCredits takes only what open holds
// leave, and GrantCredits is no top-up.
func TestTakeCreditsLeavesHolds(t *testing.T) {
	s, _ := openTest(t)
	t0 := time.Now()
	if err := s.GrantCredits("team", 1000); err != nil {
		t.Fatal(err)
	}
	r, err := s.Reserve("team", "", "req-1", 600, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TakeCredits("team", 500); !errors.Is(err, ErrInsufficientCredit) {
		t.Fatalf("take past the holds: %v", err)
	}
	if err := s.TakeCredits("team", 400); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(r, Entry{Cost: 600}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if a := mustAccount(t, s, "team"); a.Credits != 0 || a.ToppedUp != 0 || a.Spent != 600 {
		t.Fatalf("account %+v", a)
	}
}
