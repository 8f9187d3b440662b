package store

import (
	"fmt"
	"switchboard/store/money"
)

// Credits leased from a shared backend: the postgres backend keeps, in
// the local store of each node, an account record whose Credits are what
// is left of the node's lease of that account. Reserve, Settle and
// Release then work on it as on any account, from memory, and
// GrantCredits and TakeCredits move money between it and the lease.

// GrantCredits adds amount (> 0) to the account's credits, creating the
// account if needed, and returns once durable. It is not a top-up:
// ToppedUp does not change.
func (s *Store) GrantCredits(id string, amount money.Money) error {
	if err := checkID("account", id); err != nil {
		return err
	}
	if amount <= 0 {
		return fmt.Errorf("grant to account %q: amount %s must be positive", id, amount)
	}
	return s.w.do(op{kind: opGrant, account: id, amount: amount})
}

// TakeCredits takes amount (> 0) out of the account's credits and
// returns once durable, or fails with ErrInsufficientCredit, taking
// nothing, when the credits less the open holds are below amount.
func (s *Store) TakeCredits(id string, amount money.Money) error {
	if err := checkID("account", id); err != nil {
		return err
	}
	if amount <= 0 {
		return fmt.Errorf("take from account %q: amount %s must be positive", id, amount)
	}
	return s.w.do(op{kind: opTake, account: id, amount: amount})
}

func (s *Store) stageGrant(g *group, o *op) error {
	p := s.pending(g, o.account)
	if p.a.Credits > money.Max-o.amount {
		return fmt.Errorf("grant to account %q: %s would overflow its credits %s", o.account, o.amount, p.a.Credits)
	}
	p.a.Credits += o.amount
	p.dirty = true
	return nil
}

func (s *Store) stageTake(g *group, o *op) error {
	p := s.pending(g, o.account)
	var held money.Money
	if p.mem != nil {
		p.mem.mu.Lock()
		held = p.mem.reserved
		p.mem.mu.Unlock()
	}
	// The group's settled holds are still in reserved; their charges
	// are already in p.a.
	if avail := p.a.Credits - (held - p.hold); avail < o.amount {
		return fmt.Errorf("account %q has %s free, cannot take %s: %w", o.account, avail, o.amount, ErrInsufficientCredit)
	}
	p.a.Credits -= o.amount
	p.dirty = true
	return nil
}
