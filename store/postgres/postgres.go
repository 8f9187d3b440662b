// Package postgres is the store backend of several gateways behind a load
// balancer: keys, accounts, plans, the ledger and the audit log live in
// PostgreSQL, and each node serves its requests from memory.
//
// # Money: per-node credit leases
//
// A node leases a slice of an account's available balance (credits plus
// plan allowance left, less what other nodes hold) in one transaction
// (lease.go) and keeps it as that account's credits in its local store.
// Reserve, Settle and Release run there, in memory and the local
// journal, exactly as with the pebble backend; a node leases again in
// the background when its slice runs low, and synchronously only when a
// reservation finds it spent. Every ledger entry the local store commits
// also lands in its outbox, which the shipper (ship.go) copies to
// PostgreSQL in batches: one transaction inserts the entries (request id
// primary key, ON CONFLICT DO NOTHING), charges their accounts and
// consumes the lease, so a retried batch changes nothing. While
// PostgreSQL is unreachable the outbox is the spool: entries wait there,
// survive a crash, and drain in commit order when it is back.
//
// Overspend bound: a node reserves only what its lease holds, and the
// leases of all nodes never exceed an account's available balance when
// granted, so the only overspend is a call that ends costing more than
// the worst case it reserved (sized by max_output), summed over the
// calls that do; and with store.when_down.money fail_open, what nodes
// serve while PostgreSQL is down and their leases are spent.
//
// # Keys
//
// Every key change runs pg_notify('switchboard_keys') in its
// transaction; each node LISTENs and reloads its in-memory key index at
// once, and reloads it every key_refresh besides, for notifications
// missed while its connection was down (keys.go).
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/store"
	"switchboard/store/money"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune a Store.
type Options struct {
	// Node names this gateway in the leases table and the ledger; stable
	// across restarts (NodeID), so a restarted node takes back its own
	// leases. Required.
	Node string
	// LeaseMax caps one lease. Default $1.
	LeaseMax money.Money
	// LeaseShare is the share of the available balance a lease takes
	// before LeaseMax caps it. Default 0.1.
	LeaseShare float64
	// KeyRefresh is the period of the full key reload. Default 5s.
	KeyRefresh time.Duration
	// FailOpen serves a call whose account's lease is spent while
	// PostgreSQL is unreachable, instead of refusing it (402).
	FailOpen bool
	// Logf logs what goes wrong in the background. Default: discard.
	Logf func(format string, args ...any)
}

// Store is the postgres Backend. It is safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	local *store.Store
	o     Options

	leaseMu   sync.RWMutex
	leaseMap  map[string]*lease // never shrinks
	wantLease chan string

	keysMu    sync.Mutex
	keys      []store.Key // the last key list read, served while PostgreSQL is down
	onKeys    atomic.Pointer[func() error]
	spend     spendCache
	ship      shipper
	downErr   atomic.Pointer[error] // why PostgreSQL is unreachable; nil when it answers
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var _ store.Backend = (*Store)(nil)

// opTimeout bounds one statement or transaction of the admin API and
// the background loops.
const opTimeout = 5 * time.Second

// Open connects to url, applies the schema migrations and starts the
// shipper and the lease and health loops. local is the node's own store,
// opened with store.Options.Outbox; Close does not close it.
func Open(ctx context.Context, url string, local *store.Store, o Options) (*Store, error) {
	if o.Node == "" {
		return nil, errors.New("postgres store: no node id")
	}
	if !local.HasOutbox() {
		return nil, errors.New("postgres store: the local store has no outbox (store.Options.Outbox): its entries would never reach PostgreSQL")
	}
	if o.LeaseMax <= 0 {
		o.LeaseMax = money.Dollar
	}
	if o.LeaseShare <= 0 || o.LeaseShare > 1 {
		o.LeaseShare = 0.1
	}
	if o.KeyRefresh <= 0 {
		o.KeyRefresh = 5 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store.postgres_url: %w", err)
	}
	cfg.MaxConns = 8
	cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to PostgreSQL: %w", err)
	}
	if _, err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot migrate the PostgreSQL schema: %w", err)
	}
	s := &Store{pool: pool, local: local, o: o, leaseMap: map[string]*lease{}, wantLease: make(chan string, 256), stop: make(chan struct{})}
	s.spend.init()
	s.ship.wake = make(chan struct{}, 1)
	if _, err := s.Keys(); err != nil {
		pool.Close()
		return nil, err
	}
	// Entries a crash or an outage left in the spool go first, then the
	// leases this node held before are taken back: what the local store
	// still has of them returns to the accounts.
	if err := s.ship.drain(ctx, s); err != nil {
		o.Logf("postgres: spooled entries wait: %v", err)
	} else if err := s.returnLeases(ctx); err != nil {
		o.Logf("postgres: cannot return the leases of the last run: %v", err)
	}
	s.wg.Add(3)
	go s.shipLoop()
	go s.leaseLoop()
	go s.healthLoop()
	return s, nil
}

// Close ships what the outbox holds and returns this node's unspent
// leases, within ctx; stop serving requests first. It closes the pool,
// not the local store.
func (s *Store) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		if err = s.local.Flush(); err == nil {
			if err = s.ship.drain(ctx, s); err == nil {
				err = s.returnLeases(ctx)
			}
		}
		s.pool.Close()
	})
	return err
}

// Ready is the local store's readiness: a node serves from its leases
// and spool while PostgreSQL is down (see Degraded).
func (s *Store) Ready() error { return s.local.Ready() }

// Degraded says why the node is not whole: PostgreSQL unreachable, or
// ledger entries waiting in the local spool for longer than a moment.
func (s *Store) Degraded() error {
	if p := s.downErr.Load(); p != nil {
		return fmt.Errorf("PostgreSQL unreachable: %v; %d ledger entries spooled", *p, s.local.OutboxLen())
	}
	if n := s.local.OutboxLen(); n > 0 && s.ship.behind() {
		return fmt.Errorf("%d ledger entries spooled, not yet in PostgreSQL", n)
	}
	return nil
}

// Flush waits for the local writer, then ships the outbox to PostgreSQL.
func (s *Store) Flush() error {
	if err := s.local.Flush(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return s.ship.drain(ctx, s)
}

// reachable records the outcome of a statement: err nil or a database
// error clears the outage, a connection error sets it.
func (s *Store) reachable(err error) {
	if err != nil && isConnError(err) {
		e := err
		if s.downErr.Swap(&e) == nil {
			s.o.Logf("postgres: unreachable: %v", e)
		}
		return
	}
	if s.downErr.Swap(nil) != nil {
		s.o.Logf("postgres: reachable again")
		s.ship.poke()
	}
}

// healthLoop pings PostgreSQL every second while it is down, and every
// few seconds otherwise, so that Degraded and the shipper follow it.
func (s *Store) healthLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.reachable(s.pool.Ping(ctx))
		cancel()
	}
}

// NodeID returns the node id kept in dir (data_dir), making one the
// first time: a stable name for this gateway in PostgreSQL.
func NodeID(dir string) (string, error) {
	path := filepath.Join(dir, "node-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s-%s", strings.ReplaceAll(host, " ", "_"), hex.EncodeToString(rnd[:]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", err
	}
	return id, os.Rename(tmp, path)
}
