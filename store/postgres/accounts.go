package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"switchboard/store"
	"switchboard/store/money"

	"github.com/jackc/pgx/v5"
)

const accountColumns = `id, credits, plan, plan_price, plan_period, plan_since, period_start, period_end, plan_used, spent, topped_up`

// nanos and fromNanos store times as the embedded store does: unix
// nanoseconds, 0 for none, read back in UTC.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func scanAccount(row pgx.Row) (store.Account, error) {
	var a store.Account
	var credits, price, period, since, start, end, used, spent, topped int64
	err := row.Scan(&a.ID, &credits, &a.Plan, &price, &period, &since, &start, &end, &used, &spent, &topped)
	a.Credits, a.PlanPrice, a.PlanPeriod = money.Money(credits), money.Money(price), time.Duration(period)
	a.PlanSince, a.PeriodStart, a.PeriodEnd = fromNanos(since), fromNanos(start), fromNanos(end)
	a.PlanUsed, a.Spent, a.ToppedUp = money.Money(used), money.Money(spent), money.Money(topped)
	return a, err
}

// writeAccount stores a's every field.
func writeAccount(ctx context.Context, tx pgx.Tx, a *store.Account) error {
	_, err := tx.Exec(ctx, `UPDATE accounts SET credits=$2, plan=$3, plan_price=$4, plan_period=$5, plan_since=$6,
		period_start=$7, period_end=$8, plan_used=$9, spent=$10, topped_up=$11 WHERE id=$1`,
		a.ID, int64(a.Credits), a.Plan, int64(a.PlanPrice), int64(a.PlanPeriod), nanos(a.PlanSince),
		nanos(a.PeriodStart), nanos(a.PeriodEnd), int64(a.PlanUsed), int64(a.Spent), int64(a.ToppedUp))
	return err
}

// Account reads the account from PostgreSQL.
func (s *Store) Account(id string) (store.Account, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	a, err := scanAccount(s.pool.QueryRow(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id=$1", id))
	s.reachable(err)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Account{}, fmt.Errorf("account %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("cannot read account %q: %w", id, err)
	}
	return a, nil
}

// Accounts lists every account in ID order.
func (s *Store) Accounts() ([]store.Account, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT "+accountColumns+" FROM accounts ORDER BY id COLLATE \"C\"")
	if err != nil {
		s.reachable(err)
		return nil, fmt.Errorf("cannot list accounts: %w", err)
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	s.reachable(rows.Err())
	return out, rows.Err()
}

// Available is the account's credits plus the plan allowance left at
// now, as PostgreSQL has them; what nodes hold in leases is part of it
// (their in-flight reservations are not subtracted). Without PostgreSQL
// it is what this node's lease has left.
func (s *Store) Available(id string, now time.Time) (money.Money, error) {
	if s.downErr.Load() != nil {
		return s.local.Available(id, now) // a 402 must not wait for a connect timeout
	}
	a, err := s.Account(id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	if err != nil {
		return s.local.Available(id, now)
	}
	return a.Credits + a.PlanLeft(now), nil
}

// EnsureAccount creates the account with nothing in it unless it exists.
func (s *Store) EnsureAccount(id string) error {
	if err := store.CheckID("account", id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := s.pool.Exec(ctx, "INSERT INTO accounts (id) VALUES ($1) ON CONFLICT DO NOTHING", id)
	s.reachable(err)
	if err != nil {
		return fmt.Errorf("cannot create account %q: %w", id, err)
	}
	return nil
}

// changeAccount runs fn on the account, locked, in one transaction, and
// writes it back; a missing account is ErrNotFound or, with
// CreateAccount, created first.
func (s *Store) changeAccount(id string, missing store.IfMissing, fn func(ctx context.Context, tx pgx.Tx, a *store.Account) (changed bool, err error)) error {
	if err := store.CheckID("account", id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if missing == store.CreateAccount {
			if _, err := tx.Exec(ctx, "INSERT INTO accounts (id) VALUES ($1) ON CONFLICT DO NOTHING", id); err != nil {
				return err
			}
		}
		a, err := scanAccount(tx.QueryRow(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id=$1 FOR UPDATE", id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("account %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		changed, err := fn(ctx, tx, &a)
		if err != nil || !changed {
			return err
		}
		if err := writeAccount(ctx, tx, &a); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "SELECT pg_notify('switchboard_accounts', $1)", id)
		return err
	})
	s.reachable(err)
	return err
}

// TopUp adds amount to the account's credits, once per idemKey.
func (s *Store) TopUp(id string, amount money.Money, idemKey string, missing store.IfMissing) error {
	if amount <= 0 {
		return fmt.Errorf("top-up of account %q: amount %s must be positive", id, amount)
	}
	if idemKey != "" {
		// A replay creates no account either: look before changeAccount.
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		var acct string
		var amt int64
		err := s.pool.QueryRow(ctx, "SELECT account, amount FROM topups WHERE idem=$1", idemKey).Scan(&acct, &amt)
		cancel()
		s.reachable(err)
		switch {
		case err == nil:
			return replayTopUp(idemKey, acct, money.Money(amt), id, amount)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("cannot read top-up %q: %w", idemKey, err)
		}
	}
	return s.changeAccount(id, missing, func(ctx context.Context, tx pgx.Tx, a *store.Account) (bool, error) {
		if idemKey != "" {
			tag, err := tx.Exec(ctx, "INSERT INTO topups (idem, account, amount, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
				idemKey, id, int64(amount), time.Now().UnixNano())
			if err != nil {
				return false, err
			}
			if tag.RowsAffected() == 0 { // a concurrent replay won
				var acct string
				var amt int64
				if err := tx.QueryRow(ctx, "SELECT account, amount FROM topups WHERE idem=$1", idemKey).Scan(&acct, &amt); err != nil {
					return false, err
				}
				return false, replayTopUp(idemKey, acct, money.Money(amt), id, amount)
			}
		}
		if a.Credits > money.Max-amount || a.ToppedUp > money.Max-amount {
			return false, fmt.Errorf("top-up of account %q: %s would overflow its credits %s", id, amount, a.Credits)
		}
		a.Credits += amount
		a.ToppedUp += amount
		return true, nil
	})
}

// replayTopUp is nil for a replay of the same top-up, else the conflict.
func replayTopUp(idem, prevAcct string, prevAmt money.Money, acct string, amt money.Money) error {
	if prevAcct != acct || prevAmt != amt {
		return fmt.Errorf("%w: idempotency key %q was used for a top-up of %s to account %q, not %s to %q",
			store.ErrIdempotencyConflict, idem, prevAmt, prevAcct, amt, acct)
	}
	return nil
}

// SetCredits sets the account's credits (not a top-up).
func (s *Store) SetCredits(id string, amount money.Money, missing store.IfMissing) error {
	if amount < 0 {
		return fmt.Errorf("credits of account %q: amount %s must not be negative", id, amount)
	}
	return s.changeAccount(id, missing, func(_ context.Context, _ pgx.Tx, a *store.Account) (bool, error) {
		a.Credits = amount
		return true, nil
	})
}

// AssignPlan subscribes the account to plan from now ("" removes it).
func (s *Store) AssignPlan(id, plan string, price money.Money, period time.Duration, now time.Time, missing store.IfMissing) error {
	if plan != "" {
		if len(plan) > 64 {
			return fmt.Errorf("plan of account %q: name is longer than 64 bytes", id)
		}
		if price < 0 || price > money.Max/store.PlanAllowanceFactor {
			return fmt.Errorf("plan %q of account %q: price %s out of range", plan, id, price)
		}
		if period < 0 {
			return fmt.Errorf("plan %q of account %q: period %s must be positive, or Monthly", plan, id, period)
		}
		if now.IsZero() {
			return fmt.Errorf("plan %q of account %q: no start time", plan, id)
		}
	}
	return s.changeAccount(id, missing, func(_ context.Context, _ pgx.Tx, a *store.Account) (bool, error) {
		a.AssignPlan(plan, price, period, now)
		return true, nil
	})
}
