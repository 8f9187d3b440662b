package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/store"
	"switchboard/store/money"
	"switchboard/store/postgres/pgtest"

	"github.com/jackc/pgx/v5/pgxpool"
)

// server is one PostgreSQL server for the package's tests, each of which
// takes a database of its own.
var server *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	if server, err = pgtest.StartShared(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Close()
	os.Exit(code)
}

func testDB(t *testing.T) string {
	t.Helper()
	return server.NewDatabase(t)
}

// open opens a node: a local store in a temp dir and a Store over url.
func open(t *testing.T, url, node string, o Options) (*Store, *store.Store) {
	t.Helper()
	local, err := store.OpenWith(t.TempDir(), store.Options{Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	o.Node = node
	o.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, url, local, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
		_ = local.Close()
	})
	return s, local
}

func TestMigrationsAreIdempotentAndSafeConcurrently(t *testing.T) {
	url := testDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var wg sync.WaitGroup
	var total atomic.Int64
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := migrate(ctx, pool)
			total.Add(int64(n))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ms, _ := migrations()
	if total.Load() != int64(len(ms)) {
		t.Fatalf("4 concurrent runs applied %d migrations, want %d", total.Load(), len(ms))
	}
	if n, err := migrate(ctx, pool); err != nil || n != 0 {
		t.Fatalf("a second run applied %d (%v), want 0", n, err)
	}
	var versions int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&versions); err != nil || versions != len(ms) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", versions, err, len(ms))
	}
}

// TestLeaseShipExactlyOnce: two nodes serve one account from leases;
// PostgreSQL's ledger has every entry once, the balance dropped by their
// sum, and once the nodes close their leases are back.
func TestLeaseShipExactlyOnce(t *testing.T) {
	url := testDB(t)
	a, _ := open(t, url, "a", Options{LeaseShare: 0.25})
	b, _ := open(t, url, "b", Options{LeaseShare: 0.25})
	if err := a.TopUp("team", money.Dollar, "inv-1", store.CreateAccount); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const worst, cost = 10_000_000, 7_000_000 // a cent reserved, 0.7 cents spent
	served := 0
	for i := 0; ; i++ {
		node := a
		if i%2 == 1 {
			node = b
		}
		r, err := node.Reserve("team", "", fmt.Sprintf("req-%d", i), worst, now)
		if errors.Is(err, store.ErrInsufficientCredit) {
			if i%2 == 1 {
				break
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := node.Settle(r, store.Entry{Cost: cost}); err != nil {
			t.Fatal(err)
		}
		served++
		if i > 1000 {
			t.Fatal("never ran out")
		}
	}
	for _, n := range []*Store{a, b} {
		if err := n.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	acct, err := a.Account("team")
	if err != nil {
		t.Fatal(err)
	}
	var count, sum int64
	if err := a.pool.QueryRow(context.Background(), "SELECT count(*), coalesce(sum(cost),0)::bigint FROM ledger").Scan(&count, &sum); err != nil {
		t.Fatal(err)
	}
	if int(count) != served || money.Money(sum) != money.Money(served)*cost || acct.Credits != money.Dollar-money.Money(sum) || acct.Spent != money.Money(sum) {
		t.Fatalf("served %d; ledger %d entries, %d nano-dollars; account %+v", served, count, sum, acct)
	}
	if acct.Credits < 0 {
		t.Fatalf("overspent: %+v", acct)
	}
	t.Logf("served %d calls of $0.007 from $1.00: %s left", served, acct.Credits)
	ctx := context.Background()
	_ = a.Close(ctx)
	_ = b.Close(ctx)
	var held int64
	if err := a.pool.QueryRow(ctx, "SELECT coalesce(sum(amount),0)::bigint FROM leases").Scan(&held); err == nil {
		t.Fatalf("pool still open after Close")
	}
	pool, _ := pgxpool.New(ctx, url)
	defer pool.Close()
	if err := pool.QueryRow(ctx, "SELECT coalesce(sum(amount),0)::bigint FROM leases").Scan(&held); err != nil || held != 0 {
		t.Fatalf("leases held after close: %d (%v)", held, err)
	}
}

// TestShipRetryChangesNothing: entries shipped twice (a Shipped lost in
// a crash) are charged once.
func TestShipRetryChangesNothing(t *testing.T) {
	url := testDB(t)
	a, local := open(t, url, "a", Options{})
	if err := a.TopUp("team", money.Dollar, "", store.CreateAccount); err != nil {
		t.Fatal(err)
	}
	a.ship.mu.Lock() // hold the shipper off
	locked := true
	defer func() {
		if locked {
			a.ship.mu.Unlock()
		}
	}()
	r, err := a.Reserve("team", "", "req-1", 1000, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Settle(r, store.Entry{Cost: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := local.Flush(); err != nil {
		t.Fatal(err)
	}
	batch, err := local.Outbox(nil, 10)
	if err != nil || len(batch) != 1 {
		t.Fatalf("outbox %v, %v", batch, err)
	}
	ctx := context.Background()
	for range 2 {
		if err := a.shipBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	a.ship.mu.Unlock()
	locked = false
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	acct, _ := a.Account("team")
	if acct.Spent != 1000 || acct.Credits != money.Dollar-1000 {
		t.Fatalf("account after a double ship: %+v", acct)
	}
}

// TestKeyChangeReachesOtherNode: a revocation on one node reaches the
// other's key reload through LISTEN/NOTIFY.
func TestKeyChangeReachesOtherNode(t *testing.T) {
	url := testDB(t)
	a, _ := open(t, url, "a", Options{KeyRefresh: time.Hour})
	c, _ := open(t, url, "c", Options{KeyRefresh: time.Hour})
	reloaded := make(chan []store.Key, 16)
	c.WatchKeys(func() error {
		keys, err := c.Keys()
		reloaded <- keys
		return err
	})
	<-reloaded // the listener's first load
	k := store.Key{ID: "sk-sb-AbCdEf", Hash: store.SecretHash("sk-sb-AbCdEf-secret"), Account: "team"}
	if err := a.CreateKeyAndAccount(k); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeKey(k.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case keys := <-reloaded:
			if len(keys) == 1 && keys[0].Revoked {
				return
			}
		case <-deadline:
			t.Fatal("node c never saw the revocation")
		}
	}
}

// TestMoneyWhenPostgresIsDown: with PostgreSQL stopped a node serves
// from its lease; once the lease is spent, fail_closed refuses (402) and
// fail_open serves. The spool drains when PostgreSQL is back, and
// Degraded says why meanwhile.
func TestMoneyWhenPostgresIsDown(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	closed, _ := open(t, url, "closed", Options{LeaseMax: 50_000})
	openNode, _ := open(t, url, "open", Options{LeaseMax: 50_000, FailOpen: true})
	if err := closed.TopUp("team", money.Dollar, "", store.CreateAccount); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Each node leases 5 reservations' worth (lease_max) with its first.
	for i, n := range []*Store{closed, openNode} {
		r, err := n.Reserve("team", "", fmt.Sprintf("warm-%d", i), 10_000, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Settle(r, store.Entry{Cost: 10_000}); err != nil {
			t.Fatal(err)
		}
		if err := n.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	pg.Stop(t)
	for _, n := range []*Store{closed, openNode} {
		deadline := time.Now().Add(10 * time.Second)
		for n.Degraded() == nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if err := n.Degraded(); err == nil {
			t.Fatal("Degraded is nil with PostgreSQL stopped")
		}
	}
	serve := func(n *Store, name string) (served int, refused error) {
		for i := range 20 {
			r, err := n.Reserve("team", "", fmt.Sprintf("%s-%d", name, i), 10_000, now)
			if err != nil {
				return served, err
			}
			if err := n.Settle(r, store.Entry{Cost: 10_000}); err != nil {
				t.Fatal(err)
			}
			served++
		}
		return served, nil
	}
	if served, err := serve(closed, "closed"); !errors.Is(err, store.ErrInsufficientCredit) || served == 0 || served >= 20 {
		t.Fatalf("fail_closed served %d then %v; want its lease's worth, then ErrInsufficientCredit", served, err)
	}
	if served, err := serve(openNode, "open"); err != nil || served != 20 {
		t.Fatalf("fail_open served %d then %v; want all 20", served, err)
	}
	pg.Restart(t)
	for _, n := range []*Store{closed, openNode} {
		deadline := time.Now().Add(20 * time.Second)
		for (n.Degraded() != nil || n.local.OutboxLen() > 0) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if err := n.Degraded(); err != nil {
			t.Fatalf("still degraded with PostgreSQL back: %v", err)
		}
	}
	var count, sum int64
	if err := closed.pool.QueryRow(context.Background(), "SELECT count(*), coalesce(sum(cost),0)::bigint FROM ledger").Scan(&count, &sum); err != nil {
		t.Fatal(err)
	}
	acct, err := closed.Account("team")
	if err != nil {
		t.Fatal(err)
	}
	if acct.Credits != money.Dollar-money.Money(sum) || acct.Spent != money.Money(sum) || sum != count*10_000 {
		t.Fatalf("after the outage: %d entries, %d nano-dollars, account %+v", count, sum, acct)
	}
	t.Logf("%d entries reached PostgreSQL after the outage", count)
}
