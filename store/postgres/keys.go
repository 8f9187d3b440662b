package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"switchboard/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Keys reads every key from PostgreSQL; while it is unreachable, the
// last list read, so a node keeps serving the keys it knows.
func (s *Store) Keys() ([]store.Key, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	keys, err := s.readKeys(ctx)
	s.reachable(err)
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if err != nil {
		if s.keys != nil && isConnError(err) {
			return s.keys, nil
		}
		return nil, fmt.Errorf("cannot read keys: %w", err)
	}
	s.keys = keys
	return keys, nil
}

func (s *Store) readKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, record FROM keys ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []store.Key{}
	for rows.Next() {
		var id string
		var rec []byte
		if err := rows.Scan(&id, &rec); err != nil {
			return nil, err
		}
		k, err := store.DecodeKeyRecord(id, rec)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// KeyByID reads one key.
func (s *Store) KeyByID(id string) (store.Key, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var rec []byte
	err := s.pool.QueryRow(ctx, "SELECT record FROM keys WHERE id=$1", id).Scan(&rec)
	s.reachable(err)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Key{}, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("cannot read key %q: %w", id, err)
	}
	return store.DecodeKeyRecord(id, rec)
}

// CreateKey stores a new key (ErrExists for a taken id or hash).
func (s *Store) CreateKey(k store.Key) error { return s.createKey(k, false) }

// CreateKeyAndAccount is CreateKey that also creates the key's account.
func (s *Store) CreateKeyAndAccount(k store.Key) error { return s.createKey(k, true) }

func (s *Store) createKey(k store.Key, withAccount bool) error {
	if err := k.Validate(); err != nil {
		return err
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if withAccount {
			if _, err := tx.Exec(ctx, "INSERT INTO accounts (id) VALUES ($1) ON CONFLICT DO NOTHING", k.Account); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO keys (id, hash, account, record) VALUES ($1, $2, $3, $4)",
			k.ID, k.Hash[:], k.Account, store.AppendKeyRecord(nil, &k)); err != nil {
			return err
		}
		return notifyKeys(ctx, tx, k.ID)
	})
	s.reachable(err)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		if pe.ConstraintName == "keys_hash_key" {
			return fmt.Errorf("key %q: a key with the same secret hash %w", k.ID, store.ErrExists)
		}
		return fmt.Errorf("key %q: %w", k.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("cannot write key %q: %w", k.ID, err)
	}
	return nil
}

// UpdateKey changes a key with fn in one transaction, the row locked.
func (s *Store) UpdateKey(id string, fn func(*store.Key) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var rec []byte
		err := tx.QueryRow(ctx, "SELECT record FROM keys WHERE id=$1 FOR UPDATE", id).Scan(&rec)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("key %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		k, err := store.DecodeKeyRecord(id, rec)
		if err != nil {
			return err
		}
		old := k
		if err := fn(&k); err != nil {
			return err
		}
		if k.ID != old.ID || k.Hash != old.Hash {
			return fmt.Errorf("cannot update key %q: its id and hash never change", id)
		}
		if err := k.Validate(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE keys SET account=$2, record=$3 WHERE id=$1", id, k.Account, store.AppendKeyRecord(nil, &k)); err != nil {
			return err
		}
		return notifyKeys(ctx, tx, id)
	})
	s.reachable(err)
	return err
}

// RevokeKey marks a key revoked; every node refuses it within a moment.
func (s *Store) RevokeKey(id string) error {
	return s.UpdateKey(id, func(k *store.Key) error {
		k.Revoked = true
		return nil
	})
}

// notifyKeys tells every node, when tx commits, that key id changed.
func notifyKeys(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, "SELECT pg_notify('switchboard_keys', $1)", id)
	return err
}

// WatchKeys calls reload, the gateway's key index reload (which calls
// Keys), after every key change any node makes, at most a moment after
// its commit, and every key_refresh besides. It runs until Close.
func (s *Store) WatchKeys(reload func() error) {
	s.onKeys.Store(&reload)
	s.wg.Add(1)
	go s.listenLoop()
}

// listenLoop holds a connection that LISTENs for key and account
// changes, reconnecting after a pause when it breaks; after each
// (re)connect and each key_refresh it reloads the keys, for what it may
// have missed.
func (s *Store) listenLoop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for ctx.Err() == nil {
		err := s.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		s.o.Logf("postgres: key notifications: %v; reconnecting", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *Store) listen(ctx context.Context) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // a LISTENing connection never goes back to the pool
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN switchboard_keys; LISTEN switchboard_accounts"); err != nil {
		return err
	}
	s.reloadKeys()
	next := time.Now().Add(s.o.KeyRefresh)
	for {
		wctx, cancel := context.WithDeadline(ctx, next)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil && n.Channel == "switchboard_accounts":
			s.accountChanged(n.Payload)
		case err == nil:
			s.reloadKeys()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			s.reloadKeys()
			next = time.Now().Add(s.o.KeyRefresh)
		default:
			return err
		}
	}
}

func (s *Store) reloadKeys() {
	if fn := s.onKeys.Load(); fn != nil {
		if err := (*fn)(); err != nil {
			s.o.Logf("postgres: cannot reload keys: %v", err)
		}
	}
}
