package store

import (
	"errors"
	"strings"
	"switchboard/store/money"
	"testing"
	"time"
)

func TestTopUpIsIdempotent(t *testing.T) {
	s, dir := openTest(t)
	for range 3 {
		if err := s.TopUp("team", 10*money.Dollar, "pay-1", CreateAccount); err != nil {
			t.Fatal(err)
		}
	}
	if a := mustAccount(t, s, "team"); a.Credits != 10*money.Dollar || a.ToppedUp != 10*money.Dollar {
		t.Fatalf("after 3 top-ups with one key: credits %s, topped up %s, want $10", a.Credits, a.ToppedUp)
	}
	if err := s.TopUp("team", 11*money.Dollar, "pay-1", CreateAccount); err == nil || !strings.Contains(err.Error(), "was used for a top-up") {
		t.Fatalf("same key, other amount: %v", err)
	}
	if err := s.TopUp("other", 10*money.Dollar, "pay-1", CreateAccount); err == nil {
		t.Fatal("same key, other account: no error")
	}
	// Unkeyed top-ups are never deduplicated.
	for range 2 {
		if err := s.TopUp("team", money.Dollar, "", CreateAccount); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, dir)
	if err := s.TopUp("team", 10*money.Dollar, "pay-1", CreateAccount); err != nil {
		t.Fatal(err)
	}
	if a := mustAccount(t, s, "team"); a.Credits != 12*money.Dollar {
		t.Fatalf("replay after reopen: credits %s, want $12", a.Credits)
	}
	if _, err := s.Account("other"); err == nil {
		t.Fatal("a refused top-up created an account")
	}
}

// TestAccountChangesNeedTheAccount: a top-up, credits or a plan for an
// account that does not exist is an ErrNotFound that leaves no trace,
// unless CreateAccount, which creates the account in the same batch.
func TestAccountChangesNeedTheAccount(t *testing.T) {
	changes := []struct {
		name   string
		change func(s *Store, id string, m IfMissing) error
		want   func(a Account) bool
	}{
		{"top-up", func(s *Store, id string, m IfMissing) error {
			return s.TopUp(id, 3*money.Dollar, "pay-"+id, m)
		}, func(a Account) bool { return a.Credits == 3*money.Dollar && a.ToppedUp == 3*money.Dollar }},
		{"credits", func(s *Store, id string, m IfMissing) error {
			return s.SetCredits(id, 4*money.Dollar, m)
		}, func(a Account) bool { return a.Credits == 4*money.Dollar && a.ToppedUp == 0 }},
		{"plan", func(s *Store, id string, m IfMissing) error {
			return s.AssignPlan(id, "pro", money.Dollar, Monthly, t0, m)
		}, func(a Account) bool { return a.Plan == "pro" && a.PlanPrice == money.Dollar && a.Credits == 0 }},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			s, dir := openTest(t)
			if err := c.change(s, "typo", MustExist); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `account "typo"`) {
				t.Fatalf("unknown account: %v, want ErrNotFound naming it", err)
			}
			if _, err := s.Account("typo"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a refused %s created the account: %v", c.name, err)
			}
			// Created with the change; a retry (the same idempotency key
			// for a top-up) neither creates nor charges twice.
			for range 2 {
				if err := c.change(s, "new", CreateAccount); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.EnsureAccount("old"); err != nil {
				t.Fatal(err)
			}
			if err := c.change(s, "old", MustExist); err != nil {
				t.Fatalf("existing account: %v", err)
			}
			s = reopen(t, s, dir)
			if _, err := s.Account("typo"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after reopen, the refused %s's account exists: %v", c.name, err)
			}
			for _, id := range []string{"new", "old"} {
				if a := mustAccount(t, s, id); !c.want(a) {
					t.Errorf("after reopen, account %q: %+v", id, a)
				}
			}
			if n := len(accountList(t, s)); n != 2 {
				t.Errorf("%d accounts, want 2", n)
			}
		})
	}
}

// TestRefusedTopUpKeepsItsKey: a top-up refused for its unknown account
// records nothing, so the same idempotency key works once the account is
// created; and a replay of a top-up that created its account needs no
// CreateAccount.
func TestRefusedTopUpKeepsItsKey(t *testing.T) {
	s, _ := openTest(t)
	if err := s.TopUp("team", money.Dollar, "pay-1", MustExist); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if err := s.TopUp("team", money.Dollar, "pay-1", CreateAccount); err != nil {
		t.Fatal(err)
	}
	if err := s.TopUp("team", money.Dollar, "pay-1", MustExist); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if a := mustAccount(t, s, "team"); a.Credits != money.Dollar {
		t.Fatalf("credits %s, want $1", a.Credits)
	}
}

func TestAccountWritesRejectBadInput(t *testing.T) {
	s, _ := openTest(t)
	f := func(err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to mention %q", err, want)
		}
	}
	f(s.TopUp("team", -money.Dollar, "k", CreateAccount), "must be positive")
	f(s.TopUp("team", 0, "k", CreateAccount), "must be positive")
	f(s.TopUp("", money.Dollar, "k", CreateAccount), "account is empty")
	f(s.TopUp("team", money.Dollar, "a\x00", CreateAccount), "NUL")
	f(s.SetCredits("team", -1, CreateAccount), "must not be negative")
	f(s.AssignPlan("team", "pro", -money.Dollar, Monthly, t0, CreateAccount), "out of range")
	f(s.AssignPlan("team", "pro", money.Dollar, -time.Hour, t0, CreateAccount), "must be positive")
	if err := s.TopUp("team", money.Max, "", CreateAccount); err != nil {
		t.Fatal(err)
	}
	f(s.TopUp("team", 1, "", CreateAccount), "overflow")
	if len(accountList(t, s)) != 1 {
		t.Fatalf("accounts: %+v", accountList(t, s))
	}
}

// settleNow reserves worst and settles cost at time at.
func settleNow(t *testing.T, s *Store, account, id string, worst, cost money.Money, at time.Time) {
	t.Helper()
	r, err := s.Reserve(account, "", id, worst, at)
	if err != nil {
		t.Fatalf("reserve %s: %v", id, err)
	}
	if err := s.Settle(r, Entry{Cost: cost}); err != nil {
		t.Fatalf("settle %s: %v", id, err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestPlanAllowanceIsTwicePriceAndDrawnBeforeCredits(t *testing.T) {
	s, _ := openTest(t)
	if err := s.SetCredits("team", 5*money.Dollar, CreateAccount); err != nil {
		t.Fatal(err)
	}
	if err := s.AssignPlan("team", "pro", 12*money.Dollar, Monthly, t0, CreateAccount); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Available("team", t0); got != 29*money.Dollar {
		t.Fatalf("available with $5 credits and a $12 plan: %s, want $29", got)
	}
	settleNow(t, s, "team", "r1", 25*money.Dollar, 20*money.Dollar, t0.Add(time.Hour))
	a := mustAccount(t, s, "team")
	if a.PlanUsed != 20*money.Dollar || a.Credits != 5*money.Dollar || a.Spent != 20*money.Dollar {
		t.Fatalf("after $20: %+v", a)
	}
	settleNow(t, s, "team", "r2", 9*money.Dollar, 6*money.Dollar, t0.Add(2*time.Hour))
	a = mustAccount(t, s, "team")
	if a.PlanUsed != 24*money.Dollar || a.Credits != 3*money.Dollar || a.Spent != 26*money.Dollar {
		t.Fatalf("after $6 more (4 from plan, 2 from credits): %+v", a)
	}
	e1, _ := s.Entry("r1")
	e2, _ := s.Entry("r2")
	if e1.PaidByPlan != 20*money.Dollar || e2.PaidByPlan != 4*money.Dollar {
		t.Fatalf("PaidByPlan = %s, %s; want $20, $4", e1.PaidByPlan, e2.PaidByPlan)
	}
	if _, err := s.Reserve("team", "", "r3", 3*money.Dollar+1, t0.Add(3*time.Hour)); err == nil {
		t.Fatal("reserved beyond the credits with the plan used up")
	}
	// Removing the plan leaves the credits.
	if err := s.AssignPlan("team", "", 0, 0, t0, CreateAccount); err != nil {
		t.Fatal(err)
	}
	if a := mustAccount(t, s, "team"); a.Plan != "" || a.PlanUsed != 0 || a.Credits != 3*money.Dollar || !a.PeriodEnd.IsZero() {
		t.Fatalf("after removing the plan: %+v", a)
	}
}

func TestPlanPeriodRollsOverOnFirstChargeAfterItEnds(t *testing.T) {
	s, dir := openTest(t)
	day := 24 * time.Hour
	if err := s.AssignPlan("team", "daily", 5*money.Dollar, day, t0, CreateAccount); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCredits("team", money.Dollar, CreateAccount); err != nil {
		t.Fatal(err)
	}
	settleNow(t, s, "team", "r1", 10*money.Dollar, 10*money.Dollar, t0.Add(time.Hour))
	if got, _ := s.Available("team", t0.Add(2*time.Hour)); got != money.Dollar {
		t.Fatalf("available with the allowance used: %s, want $1", got)
	}
	// Once the period ended, the next charge would roll it over: the whole
	// allowance is available before any charge happened.
	if got, _ := s.Available("team", t0.Add(day)); got != 11*money.Dollar {
		t.Fatalf("available at the period's end: %s, want $11", got)
	}
	if a := mustAccount(t, s, "team"); !a.PeriodEnd.Equal(t0.Add(day)) || a.PlanUsed != 10*money.Dollar {
		t.Fatalf("period moved without a charge: %+v", a)
	}
	// The first charge, two and a half periods later, lands in the third
	// period; the second one is skipped, not accumulated.
	s = reopen(t, s, dir)
	at := t0.Add(2*day + 12*time.Hour)
	settleNow(t, s, "team", "r2", 3*money.Dollar, 3*money.Dollar, at)
	a := mustAccount(t, s, "team")
	if !a.PeriodStart.Equal(t0.Add(2*day)) || !a.PeriodEnd.Equal(t0.Add(3*day)) || a.PlanUsed != 3*money.Dollar || a.Credits != money.Dollar {
		t.Fatalf("after rollover: %+v", a)
	}
}

func TestMonthlyPlanPeriods(t *testing.T) {
	d := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	f := func(since, at, wantStart, wantEnd string) {
		t.Helper()
		start, end := planPeriod(d(since), Monthly, d(at))
		if !start.Equal(d(wantStart)) || !end.Equal(d(wantEnd)) {
			t.Errorf("period of plan since %s at %s = [%s, %s), want [%s, %s)", since, at, start, end, wantStart, wantEnd)
		}
	}
	f("2026-01-31T10:00:00Z", "2026-01-31T10:00:00Z", "2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z")
	f("2026-01-31T10:00:00Z", "2026-02-28T09:59:59Z", "2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z")
	f("2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z", "2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z")
	f("2026-01-31T10:00:00Z", "2026-03-05T00:00:00Z", "2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z")
	f("2026-01-31T10:00:00Z", "2026-04-30T10:00:00Z", "2026-04-30T10:00:00Z", "2026-05-31T10:00:00Z")
	f("2026-01-31T10:00:00Z", "2028-02-29T12:00:00Z", "2028-02-29T10:00:00Z", "2028-03-31T10:00:00Z")
	f("2026-03-15T00:00:00Z", "2027-03-14T23:59:59Z", "2027-02-15T00:00:00Z", "2027-03-15T00:00:00Z")
	f("2026-03-15T00:00:00Z", "2026-01-01T00:00:00Z", "2026-03-15T00:00:00Z", "2026-04-15T00:00:00Z")
	// Fixed-length periods count from the assignment too.
	start, end := planPeriod(d("2026-03-15T00:00:00Z"), 7*24*time.Hour, d("2026-03-30T00:00:00Z"))
	if !start.Equal(d("2026-03-29T00:00:00Z")) || !end.Equal(d("2026-04-05T00:00:00Z")) {
		t.Errorf("weekly period: [%s, %s)", start, end)
	}
}

func TestEnsureAccountCreatesOnce(t *testing.T) {
	s, dir := openTest(t)
	if _, err := s.Reserve("team", "", "r0", 0, t0); err == nil {
		t.Fatal("reserved on an account without a record")
	}
	if err := s.EnsureAccount("team"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve("team", "", "r1", 0, t0); err != nil {
		t.Fatalf("a free request on an empty account: %v", err)
	}
	if err := s.TopUp("team", money.Dollar, "", MustExist); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureAccount("team"); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	if a := mustAccount(t, s, "team"); a.Credits != money.Dollar || a.ID != "team" {
		t.Fatalf("EnsureAccount changed an existing account: %+v", a)
	}
}

// TestCreateAccountWithinAGroup: in one writer group, an account that an
// earlier op created exists for the ops after it, and a refused op adds
// nothing to memory.
func TestCreateAccountWithinAGroup(t *testing.T) {
	s, dir := openTest(t)
	ops := []op{
		{kind: opTopUp, account: "new", amount: 2 * money.Dollar, idem: "pay-1", at: t0, create: true},
		{kind: opSetCredits, account: "new", amount: 5 * money.Dollar},
		{kind: opAssignPlan, account: "ghost", plan: "pro", amount: money.Dollar, at: t0},
		{kind: opTopUp, account: "new", amount: 2 * money.Dollar, idem: "pay-1", at: t0},
	}
	// Queued under the lock at once, so the writer takes them as one group.
	s.w.mu.Lock()
	for i := range ops {
		ops[i].done = make(chan error, 1)
		s.w.queue = append(s.w.queue, ops[i])
	}
	s.w.mu.Unlock()
	poke(s.w.wake)
	poke(s.w.urgent)
	for i, want := range []error{nil, nil, ErrNotFound, nil} {
		if err := <-ops[i].done; !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("op %d: %v, want %v", i, err, want)
		}
	}
	if _, err := s.Account("ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused op's account is in memory: %v", err)
	}
	s = reopen(t, s, dir)
	if a := mustAccount(t, s, "new"); a.Credits != 5*money.Dollar || a.ToppedUp != 2*money.Dollar {
		t.Fatalf("account: %+v, want credits $5, topped up $2", a)
	}
	if n := len(accountList(t, s)); n != 1 {
		t.Fatalf("%d accounts, want 1", n)
	}
}
