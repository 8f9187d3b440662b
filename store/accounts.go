package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"switchboard/store/money"
	"time"
)

// ErrIdempotencyConflict: a top-up's idempotency key was already used for
// another account or amount.
var ErrIdempotencyConflict = errors.New("idempotency key reused with other values")

// Account is a balance that keys charge their requests to: pay-as-you-go
// credits and an optional subscription plan.
//
// A plan gives an allowance of PlanAllowanceFactor (2) times its price
// each period. Usage draws on the allowance first, then on credits. A
// period that has ended rolls over on the account's first charge after
// it: PlanUsed resets and the period advances to the one holding the
// charge's time (periods with no charges are skipped, not accumulated).
type Account struct {
	// ID names the account; keys refer to it.
	ID string
	// Credits is the pay-as-you-go balance. It goes negative only when a
	// request cost more than the worst case it reserved.
	Credits money.Money
	// Plan is the subscription plan's name; "" = no plan, and the other
	// plan fields are zero.
	Plan      string
	PlanPrice money.Money
	// PlanPeriod is the length of a period; Monthly (0) is calendar months.
	PlanPeriod time.Duration
	// PlanSince is when the plan was assigned; periods count from it.
	PlanSince time.Time
	// PeriodStart and PeriodEnd bound the current period: [start, end).
	PeriodStart, PeriodEnd time.Time
	// PlanUsed is what the current period's charges drew on the plan.
	PlanUsed money.Money
	// Spent is every charge ever, plan and credits together.
	Spent money.Money
	// ToppedUp is the sum of every TopUp.
	ToppedUp money.Money
}

// PlanAllowanceFactor is how many times its price a plan's allowance is
// worth each period.
const PlanAllowanceFactor = 2

// Monthly as a plan period means calendar months counted from the day the
// plan was assigned; a plan assigned on the 31st renews on the last day of
// shorter months and on the 31st again after them.
const Monthly time.Duration = 0

// IfMissing is what TopUp, SetCredits and AssignPlan do when their
// account does not exist.
type IfMissing bool

const (
	// MustExist fails with ErrNotFound and changes nothing, so a mistyped
	// account id never receives money.
	MustExist IfMissing = false
	// CreateAccount creates the account in the same atomic batch as the
	// change, as EnsureAccount would.
	CreateAccount IfMissing = true
)

// PlanAllowance is what the plan gives each period: 2x its price.
func (a *Account) PlanAllowance() money.Money {
	if a.Plan == "" {
		return 0
	}
	return PlanAllowanceFactor * a.PlanPrice
}

// PlanLeft is the allowance a charge at now could still draw: the whole
// allowance when the current period has ended by now (the charge rolls it
// over), else what PlanUsed leaves of it.
func (a *Account) PlanLeft(now time.Time) money.Money {
	if a.Plan == "" {
		return 0
	}
	if !now.Before(a.PeriodEnd) {
		return a.PlanAllowance()
	}
	return max(a.PlanAllowance()-a.PlanUsed, 0)
}

// Charge takes cost from the account as of time at: plan allowance first
// (rolling the period over when at is past it), then credits. It returns
// the part the plan paid.
func (a *Account) Charge(cost money.Money, at time.Time) (fromPlan money.Money) {
	if a.Plan != "" && !at.Before(a.PeriodEnd) {
		a.PeriodStart, a.PeriodEnd = planPeriod(a.PlanSince, a.PlanPeriod, at)
		a.PlanUsed = 0
	}
	fromPlan = min(cost, a.PlanLeft(at))
	a.PlanUsed += fromPlan
	a.Credits -= cost - fromPlan
	a.Spent += cost
	return fromPlan
}

// AssignPlan sets the account's plan as Store.AssignPlan does, from now;
// an empty plan removes it.
func (a *Account) AssignPlan(plan string, price money.Money, period time.Duration, now time.Time) {
	a.Plan, a.PlanPrice, a.PlanPeriod, a.PlanUsed = plan, price, period, 0
	if plan == "" {
		a.PlanPrice, a.PlanPeriod = 0, 0
		a.PlanSince, a.PeriodStart, a.PeriodEnd = time.Time{}, time.Time{}, time.Time{}
		return
	}
	a.PlanSince = now.UTC()
	a.PeriodStart, a.PeriodEnd = planPeriod(a.PlanSince, period, a.PlanSince)
}

// planPeriod returns the period [start, end) of a plan assigned at since
// that holds at (the first one if at is before since).
func planPeriod(since time.Time, period time.Duration, at time.Time) (start, end time.Time) {
	if at.Before(since) {
		at = since
	}
	if period > 0 {
		n := at.Sub(since) / period
		start = since.Add(n * period)
		return start, start.Add(period)
	}
	y0, m0, _ := since.Date()
	y1, m1, _ := at.Date()
	n := (y1-y0)*12 + int(m1-m0)
	if addMonths(since, n).After(at) {
		n--
	}
	return addMonths(since, n), addMonths(since, n+1)
}

// addMonths returns t n calendar months later, on the same day of the
// month or the month's last day if it is shorter.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, t.Location())
	last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, t.Location()).Day()
	hh, mm, ss := t.Clock()
	return time.Date(first.Year(), first.Month(), min(d, last), hh, mm, ss, t.Nanosecond(), t.Location())
}

// Account returns the account with id as last committed, or ErrNotFound.
// It reads memory, not disk.
func (s *Store) Account(id string) (Account, error) {
	s.acctMu.RLock()
	ac := s.accts[id]
	s.acctMu.RUnlock()
	if ac == nil {
		return Account{}, fmt.Errorf("account %q: %w", id, ErrNotFound)
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.a, nil
}

// Accounts returns every account, in ID order, from memory. Its error
// is always nil (a Backend's may not be).
func (s *Store) Accounts() ([]Account, error) {
	s.acctMu.RLock()
	all := make([]*account, 0, len(s.accts))
	for _, ac := range s.accts {
		all = append(all, ac)
	}
	s.acctMu.RUnlock()
	out := make([]Account, len(all))
	for i, ac := range all {
		ac.mu.Lock()
		out[i] = ac.a
		ac.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// TopUp adds amount (> 0) to an account's credits and returns once it is
// durable; an account that does not exist is an ErrNotFound, or with
// CreateAccount is created in the same batch. A non-empty idemKey makes
// it idempotent: a second TopUp with the same idemKey changes nothing and
// returns nil (it creates no account either), or an error if its account
// or amount differ from the first's. An empty idemKey is never
// deduplicated.
func (s *Store) TopUp(id string, amount money.Money, idemKey string, missing IfMissing) error {
	if err := checkID("account", id); err != nil {
		return err
	}
	if amount <= 0 {
		return fmt.Errorf("top-up of account %q: amount %s must be positive", id, amount)
	}
	if idemKey != "" {
		if err := checkID("idempotency key", idemKey); err != nil {
			return err
		}
	}
	return s.w.do(op{kind: opTopUp, account: id, amount: amount, idem: idemKey, at: time.Now(), create: bool(missing)})
}

// EnsureAccount creates the account with no credits and no plan if it
// does not exist, and changes nothing if it does; it returns once
// durable. Reserve refuses accounts without a record, so creating a key
// for a new account should ensure it.
func (s *Store) EnsureAccount(id string) error {
	if err := checkID("account", id); err != nil {
		return err
	}
	return s.w.do(op{kind: opEnsureAccount, account: id})
}

// SetCredits sets an account's credits to amount (>= 0) and returns once
// it is durable; an account that does not exist is an ErrNotFound, or
// with CreateAccount is created in the same batch. It does not count as
// a top-up in ToppedUp.
func (s *Store) SetCredits(id string, amount money.Money, missing IfMissing) error {
	if err := checkID("account", id); err != nil {
		return err
	}
	if amount < 0 {
		return fmt.Errorf("credits of account %q: amount %s must not be negative", id, amount)
	}
	return s.w.do(op{kind: opSetCredits, account: id, amount: amount, create: bool(missing)})
}

// AssignPlan subscribes an account to plan at price per period (a
// time.Duration, or Monthly for calendar months) from now; the first
// period starts at now with PlanUsed 0, even when the account already
// had this plan. An empty plan removes the plan. An account that does not
// exist is an ErrNotFound, or with CreateAccount is created in the same
// batch. It returns once durable. Charging the subscription price is not
// the store's business: it only tracks the allowance.
func (s *Store) AssignPlan(id, plan string, price money.Money, period time.Duration, now time.Time, missing IfMissing) error {
	if err := checkID("account", id); err != nil {
		return err
	}
	if plan != "" {
		if len(plan) > 64 {
			return fmt.Errorf("plan of account %q: name is longer than 64 bytes", id)
		}
		if price < 0 || price > money.Max/PlanAllowanceFactor {
			return fmt.Errorf("plan %q of account %q: price %s out of range", plan, id, price)
		}
		if period < 0 {
			return fmt.Errorf("plan %q of account %q: period %s must be positive, or Monthly", plan, id, period)
		}
		if now.IsZero() {
			return fmt.Errorf("plan %q of account %q: no start time", plan, id)
		}
	}
	return s.w.do(op{kind: opAssignPlan, account: id, plan: plan, amount: price, period: period, at: now, create: bool(missing)})
}

// stageTopUp adds a top-up to the group; the caller sees o.err.
func (s *Store) stageTopUp(g *group, o *op) error {
	if o.idem != "" {
		prev, seen := g.topUps[o.idem]
		if !seen {
			v, err := s.get(topUpKey(o.idem))
			switch {
			case err == nil:
				if prev, err = decodeTopUp(o.idem, v); err != nil {
					return err
				}
				seen = true
			case err != ErrNotFound:
				return fmt.Errorf("cannot read top-up %q: %w", o.idem, err)
			}
		}
		if seen {
			if prev.account != o.account || prev.amount != o.amount {
				return fmt.Errorf("%w: idempotency key %q was used for a top-up of %s to account %q, not %s to %q",
					ErrIdempotencyConflict, o.idem, prev.amount, prev.account, o.amount, o.account)
			}
			return nil // a replay: nothing changes
		}
	}
	if err := s.checkExists(g, o); err != nil {
		return err
	}
	p := s.pending(g, o.account)
	if p.a.Credits > money.Max-o.amount || p.a.ToppedUp > money.Max-o.amount {
		return fmt.Errorf("top-up of account %q: %s would overflow its credits %s", o.account, o.amount, p.a.Credits)
	}
	p.a.Credits += o.amount
	p.a.ToppedUp += o.amount
	p.dirty = true
	if o.idem != "" {
		rec := topUp{account: o.account, amount: o.amount, at: o.at}
		g.topUps[o.idem] = rec
		g.buf = appendTopUp(g.buf[:0], &rec)
		_ = g.b.Set(topUpKey(o.idem), g.buf, nil)
	}
	return nil
}

func (s *Store) stageEnsureAccount(g *group, o *op) {
	if p := s.pending(g, o.account); p.mem == nil {
		p.dirty = true // new: write its record
	}
}

func (s *Store) stageSetCredits(g *group, o *op) error {
	if err := s.checkExists(g, o); err != nil {
		return err
	}
	p := s.pending(g, o.account)
	p.a.Credits = o.amount
	p.dirty = true
	return nil
}

func (s *Store) stageAssignPlan(g *group, o *op) error {
	if err := s.checkExists(g, o); err != nil {
		return err
	}
	p := s.pending(g, o.account)
	p.a.AssignPlan(o.plan, o.amount, o.period, o.at)
	p.dirty = true
	return nil
}

// checkExists fails with ErrNotFound when o's account does not exist, in
// memory or earlier in the group, unless o may create it. It does not add
// the account to the group, so a refused op leaves no trace.
func (s *Store) checkExists(g *group, o *op) error {
	if o.create {
		return nil
	}
	if p := g.accts[o.account]; p != nil && (p.mem != nil || p.dirty) {
		return nil
	}
	s.acctMu.RLock()
	ac := s.accts[o.account]
	s.acctMu.RUnlock()
	if ac == nil {
		return fmt.Errorf("account %q: %w", o.account, ErrNotFound)
	}
	return nil
}

// stageAccounts writes the group's changed account records.
func stageAccounts(g *group) {
	for id, p := range g.accts {
		if p.dirty {
			g.buf = appendAccount(g.buf[:0], &p.a)
			_ = g.b.Set(accountKey(id), g.buf, nil)
		}
	}
}

// loadAccounts reads every account record into memory.
func (s *Store) loadAccounts() error {
	return s.scan(accountPrefix, func(k, v []byte) error {
		id := string(k[len(accountPrefix):])
		a, err := decodeAccount(id, v)
		if err != nil {
			return err
		}
		s.accts[id] = &account{a: a}
		return nil
	})
}

var (
	accountPrefix = []byte("a/")
	topUpPrefix   = []byte("u/")
)

func accountKey(id string) []byte {
	return append(append(make([]byte, 0, len(accountPrefix)+len(id)), accountPrefix...), id...)
}

func topUpKey(idem string) []byte {
	return append(append(make([]byte, 0, len(topUpPrefix)+len(idem)), topUpPrefix...), idem...)
}

const accountRecordV1 = 1

func appendAccount(dst []byte, a *Account) []byte {
	dst = append(dst, accountRecordV1)
	dst = appendString(dst, a.ID)
	dst = appendVarint(dst, int64(a.Credits))
	dst = appendString(dst, a.Plan)
	dst = appendVarint(dst, int64(a.PlanPrice))
	dst = appendVarint(dst, int64(a.PlanPeriod))
	dst = appendTime(dst, a.PlanSince)
	dst = appendTime(dst, a.PeriodStart)
	dst = appendTime(dst, a.PeriodEnd)
	dst = appendVarint(dst, int64(a.PlanUsed))
	dst = appendVarint(dst, int64(a.Spent))
	return appendVarint(dst, int64(a.ToppedUp))
}

func decodeAccount(id string, v []byte) (Account, error) {
	r := reader{b: v}
	var a Account
	r.version("account", accountRecordV1)
	a.ID = r.string()
	a.Credits = r.money()
	a.Plan = r.string()
	a.PlanPrice = r.money()
	a.PlanPeriod = r.duration()
	a.PlanSince = r.time()
	a.PeriodStart = r.time()
	a.PeriodEnd = r.time()
	a.PlanUsed = r.money()
	a.Spent = r.money()
	a.ToppedUp = r.money()
	return a, r.done("account", id)
}

// topUp is the record that makes a TopUp idempotent.
type topUp struct {
	account string
	amount  money.Money
	at      time.Time
}

const topUpRecordV1 = 1

func appendTopUp(dst []byte, t *topUp) []byte {
	dst = append(dst, topUpRecordV1)
	dst = appendString(dst, t.account)
	dst = appendVarint(dst, int64(t.amount))
	return appendTime(dst, t.at)
}

func decodeTopUp(idem string, v []byte) (topUp, error) {
	r := reader{b: v}
	var t topUp
	r.version("top-up", topUpRecordV1)
	t.account = r.string()
	t.amount = r.money()
	t.at = r.time()
	return t, r.done("top-up", idem)
}
