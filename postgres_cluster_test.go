package main

// End-to-end tests of several gateways on one PostgreSQL (store.backend:
// postgres): the real binary, three processes on their own data
// directories, a real PostgreSQL from store/postgres/pgtest, the mock
// provider, and clients that go round-robin over the nodes. The ledger is
// read back from PostgreSQL itself.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/bench/mock"
	"switchboard/internal/testenv"
	"switchboard/store/money"
	"switchboard/store/postgres/pgtest"

	"github.com/jackc/pgx/v5"
)

const clusterMaster = "sk-sb-master-cluster-test"

// The cluster config prices mock/mock-model at $100/M input, $200/M
// output: a call of 18 prompt and 16 completion tokens costs $0.005 and
// reserves about $0.0128 (chatBody's estimate plus max_tokens 50).
const (
	clusterInputPerToken  money.Money = 100_000
	clusterOutputPerToken money.Money = 200_000
)

func clusterWorst(body []byte) money.Money {
	return money.Money((len(body)+2)/3)*clusterInputPerToken + testMaxTokens*clusterOutputPerToken
}

// pgCluster is a PostgreSQL database, a Redis, the mock provider and the config of
// the gateways that share them.
type pgCluster struct {
	bin   string
	pg    *pgtest.Server
	url   string
	mock  *mock.Server
	dir   string
	store string // the store: block of every node's config
}

// The PostgreSQL server the cluster tests share, each on a database of
// its own (but the outage test, which stops its own); TestMain stops it.
var (
	sharedPGOnce sync.Once
	sharedPG     *pgtest.Server
	sharedPGErr  error
)

// newCluster makes a cluster on the shared PostgreSQL server, or with
// own on a server of its own.
func newCluster(t *testing.T, storeExtra string, own bool) *pgCluster {
	t.Helper()
	bin := switchboardBinary(t)
	var pg *pgtest.Server
	if own {
		pg = pgtest.Start(t)
	} else {
		sharedPGOnce.Do(func() { sharedPG, sharedPGErr = pgtest.StartShared() })
		if sharedPGErr != nil {
			t.Fatalf("pgtest: %v", sharedPGErr)
		}
		pg = sharedPG
	}
	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c := &pgCluster{bin: bin, pg: pg, url: pg.NewDatabase(t), mock: m, dir: t.TempDir()}
	redis := testenv.StartRedis(t)
	c.store = "  backend: postgres\n  postgres_url: " + strconv.Quote(c.url) + "\n  redis_url: " + strconv.Quote(redis.URL) + "\n" + storeExtra
	return c
}

// node starts the gateway called name on its own data directory (the
// same one again after a kill) and waits until it is ready.
func (c *pgCluster) node(t *testing.T, name string) *gatewayProc {
	t.Helper()
	config := filepath.Join(c.dir, name+".yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %q
log: {access: false}
store:
%sauth:
  master_key: %s
  keys: [{name: op, key: sk-sb-operator-key}]
billing:
  prices:
    mock/mock-model: {input: "100", output: "200"}
providers:
  - name: mock
    base_url: %q
    api_key: sk-upstream
    models: [mock-model]
`, filepath.Join(c.dir, name), c.store, clusterMaster, c.mock.URL()+"/v1")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, name, exec.Command(c.bin, "-config", config))
}

// admin calls a node's admin API and decodes the answer's data into out.
func admin(t *testing.T, p *gatewayProc, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, p.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+clusterMaster)
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// fund tops up the account through node p and makes a key for it; it
// returns the key's secret and id once every node knows the key.
func fund(t *testing.T, p *gatewayProc, account string, amount string, nodes ...*gatewayProc) (string, string) {
	t.Helper()
	admin(t, p, "POST", "/api/v1/admin/accounts/"+account+"/topup",
		fmt.Sprintf(`{"amount":%q,"idempotency_key":"fund-%s","create_account":true}`, amount, account), nil)
	var key struct{ ID, Key string }
	admin(t, p, "POST", "/api/v1/admin/keys", `{"account":"`+account+`","name":"load"}`, &key)
	for _, n := range nodes {
		waitStatus(t, n, key.Key, func(s int) bool { return s != http.StatusUnauthorized }, 10*time.Second)
	}
	return key.Key, key.ID
}

// waitStatus polls GET /api/v1/key on p with secret until ok(status),
// and returns how long that took; it fails after limit.
func waitStatus(t *testing.T, p *gatewayProc, secret string, ok func(int) bool, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		req, _ := http.NewRequest("GET", p.url+"/api/v1/key", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := p.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return time.Since(start)
			}
		}
		if time.Since(start) > limit {
			t.Fatalf("node %s: key status never changed within %v (last %v)", p.url, limit, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pgLedger is what PostgreSQL holds for an account.
type pgLedger struct {
	ids              map[string]int // request id -> rows (always 1: the primary key)
	sum              money.Money
	credits, spent   money.Money
	toppedUp, leased money.Money
}

func readPGLedger(t *testing.T, url, account string) pgLedger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	l := pgLedger{ids: map[string]int{}}
	rows, err := conn.Query(ctx, "SELECT request_id, cost FROM ledger WHERE account=$1", account)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var cost int64
		if err := rows.Scan(&id, &cost); err != nil {
			t.Fatal(err)
		}
		l.ids[id]++
		l.sum += money.Money(cost)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var credits, spent, topped, leased int64
	if err := conn.QueryRow(ctx, "SELECT credits, spent, topped_up, (SELECT coalesce(sum(amount),0)::bigint FROM leases WHERE account=$1) FROM accounts WHERE id=$1", account).
		Scan(&credits, &spent, &topped, &leased); err != nil {
		t.Fatal(err)
	}
	l.credits, l.spent, l.toppedUp, l.leased = money.Money(credits), money.Money(spent), money.Money(topped), money.Money(leased)
	return l
}

// checkExact asserts the balance changed by exactly the ledger's sum and
// that every answered request id is in the ledger, once.
func (l pgLedger) checkExact(t *testing.T, answered map[string]bool) {
	t.Helper()
	if l.credits != l.toppedUp-l.sum || l.spent != l.sum {
		t.Errorf("PostgreSQL: credits %s, spent %s, topped up %s; the ledger sums to %s over %d entries: want credits %s",
			l.credits, l.spent, l.toppedUp, l.sum, len(l.ids), l.toppedUp-l.sum)
	}
	missing := 0
	for id := range answered {
		if l.ids[id] != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("request %s answered 200 has %d ledger entries", id, l.ids[id])
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered requests are not in the ledger exactly once", missing, len(answered))
	}
}

// load runs clients that post chatBody round-robin over nodes until stop
// is closed or a client saw 402 from every node in a row, and returns
// the ids of the 200 answers and the counts of each status.
type loadResult struct {
	mu       sync.Mutex
	answered map[string]bool
	statuses map[int]int
	errors   int
}

func runLoad(nodes func() []*gatewayProc, secret string, clients int, stop <-chan struct{}, maxPerClient int) *loadResult {
	res := &loadResult{answered: map[string]bool{}, statuses: map[int]int{}}
	client := newClient(clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refused := 0
			for i := 0; i < maxPerClient; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ns := nodes()
				p := ns[(c+i)%len(ns)]
				r, err := post(client, p.url, secret, chatBody)
				res.mu.Lock()
				if err != nil {
					res.errors++
				} else {
					res.statuses[r.status]++
					if r.status == http.StatusOK && r.complete {
						res.answered[r.requestID] = true
					}
				}
				res.mu.Unlock()
				if err == nil && r.status == http.StatusPaymentRequired {
					if refused++; refused >= 2*len(ns) {
						return
					}
					time.Sleep(20 * time.Millisecond)
					continue
				}
				refused = 0
			}
		}()
	}
	wg.Wait()
	return res
}

var leaseMetricRE = regexp.MustCompile(`(?m)^switchboard_lease_requests_total\{path="(\w+)"\} (\d+)`)

// leaseRoundTrips reads a node's lease round trips from /metrics.
func leaseRoundTrips(t *testing.T, p *gatewayProc) (background, request int) {
	resp, err := p.client.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, m := range leaseMetricRE.FindAllSubmatch(b, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		if string(m[1]) == "background" {
			background = n
		} else {
			request = n
		}
	}
	return background, request
}

// TestClusterSpendStaysWithinBalance: one account of $1.00, three nodes,
// 32 clients until every node refuses: the nodes together spend at most
// the balance plus the documented bound (the calls that cost more than
// they reserved; none here), the balance drops by the ledger's sum to the
// nano-dollar, and every call answered is in the ledger once.
func TestClusterSpendStaysWithinBalance(t *testing.T) {
	c := newCluster(t, "", false)
	nodes := []*gatewayProc{c.node(t, "a"), c.node(t, "b"), c.node(t, "c")}
	secret, _ := fund(t, nodes[0], "team", "1.00", nodes...)
	start := time.Now()
	res := runLoad(func() []*gatewayProc { return nodes }, secret, 32, nil, 400)
	elapsed := time.Since(start)
	var bg, rq int
	for _, n := range nodes {
		b, r := leaseRoundTrips(t, n)
		bg, rq = bg+b, rq+r
	}
	for _, n := range nodes {
		n.stop(t)
	}
	l := readPGLedger(t, c.url, "team")
	l.checkExact(t, res.answered)
	const bound = 0 // every call costs less than it reserves: mock usage stays under max_tokens
	if l.sum > money.Dollar+bound {
		t.Errorf("spent %s of $1.00: overspent by %s, bound %s", l.sum, l.sum-money.Dollar, money.Money(bound))
	}
	if l.leased != 0 {
		t.Errorf("%s still leased after every node stopped", l.leased)
	}
	if res.errors > 0 || res.statuses[http.StatusOK]+res.statuses[http.StatusPaymentRequired] != res.total() {
		t.Errorf("statuses %v, %d transport errors", res.statuses, res.errors)
	}
	t.Logf("%d calls served in %v (%v), %s of $1.00 spent (unspent, held by leases at the end: %s; one reservation %s); lease round trips: %d background + %d on a request, %.1f/s",
		len(res.answered), elapsed.Round(time.Millisecond), res.statuses, l.sum, money.Dollar-l.sum, clusterWorst(chatBody), bg, rq, float64(bg+rq)/elapsed.Seconds())
}

func (r *loadResult) total() int {
	n := 0
	for _, c := range r.statuses {
		n += c
	}
	return n
}

// TestClusterRevocationReachesEveryNode: a key revoked through node A is
// refused (401) by node C within a second.
func TestClusterRevocationReachesEveryNode(t *testing.T) {
	c := newCluster(t, "  key_refresh: 10m\n", false) // only the notification can make it in time
	a, cn := c.node(t, "a"), c.node(t, "c")
	secret, id := fund(t, a, "team", "1.00", a, cn)
	admin(t, a, "DELETE", "/api/v1/admin/keys/"+id, "", nil)
	took := waitStatus(t, cn, secret, func(s int) bool { return s == http.StatusUnauthorized }, time.Second)
	t.Logf("revoked on node A, refused by node C after %v", took)
}

// TestClusterKillNodeUnderLoad: a node SIGKILLed under load loses no
// entry: once it is back (its spool drains at start), every request a
// client saw answered by any node is in PostgreSQL's ledger, once.
func TestClusterKillNodeUnderLoad(t *testing.T) {
	c := newCluster(t, "", false)
	nodes := []*gatewayProc{c.node(t, "a"), c.node(t, "b"), c.node(t, "c")}
	secret, _ := fund(t, nodes[0], "team", "100", nodes...)
	var live atomic.Pointer[[]*gatewayProc]
	live.Store(&nodes)
	stop := make(chan struct{})
	done := make(chan *loadResult)
	go func() { done <- runLoad(func() []*gatewayProc { return *live.Load() }, secret, 16, stop, 1<<30) }()
	time.Sleep(time.Second)
	nodes[1].kill(t)
	rest := []*gatewayProc{nodes[0], nodes[2]}
	live.Store(&rest)
	time.Sleep(time.Second)
	close(stop)
	res := <-done
	var bg, rq int
	for _, n := range rest {
		b, r := leaseRoundTrips(t, n)
		bg, rq = bg+b, rq+r
	}
	b := c.node(t, "b") // drains what b's journal and spool held
	for _, n := range []*gatewayProc{nodes[0], b, nodes[2]} {
		n.stop(t)
	}
	l := readPGLedger(t, c.url, "team")
	l.checkExact(t, res.answered)
	if len(res.answered) == 0 {
		t.Fatal("no call answered")
	}
	t.Logf("%d calls answered (%v, %d transport errors, the killed node's in-flight calls among them); all in the ledger once; the two nodes that stayed up made %d background and %d request-path lease round trips in 2s",
		len(res.answered), res.statuses, res.errors, bg, rq)
}

// TestClusterSurvivesPostgresOutage: PostgreSQL stopped for 5 s under
// load and started again: nodes serve from their leases meanwhile and
// report degraded, spool the entries, and drain them once it is back;
// none is lost or doubled.
func TestClusterSurvivesPostgresOutage(t *testing.T) {
	c := newCluster(t, "  lease_max: \"5\"\n", true)
	nodes := []*gatewayProc{c.node(t, "a"), c.node(t, "b")}
	secret, _ := fund(t, nodes[0], "team", "100", nodes...)
	stop := make(chan struct{})
	done := make(chan *loadResult)
	go func() { done <- runLoad(func() []*gatewayProc { return nodes }, secret, 8, stop, 1<<30) }()
	time.Sleep(500 * time.Millisecond)
	c.pg.Stop(t)
	downAt := time.Now()
	waitReady(t, nodes[0], "degraded: PostgreSQL unreachable", 10*time.Second)
	time.Sleep(5*time.Second - time.Since(downAt))
	c.pg.Restart(t)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	res := <-done
	for _, n := range nodes {
		waitReady(t, n, "ready", 30*time.Second)
	}
	for _, n := range nodes {
		n.stop(t)
	}
	l := readPGLedger(t, c.url, "team")
	l.checkExact(t, res.answered)
	t.Logf("%d calls answered across the outage (%v, %d transport errors)", len(res.answered), res.statuses, res.errors)
}

// waitReady polls /readyz until its body starts with want.
func waitReady(t *testing.T, p *gatewayProc, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last []byte
	for time.Now().Before(deadline) {
		resp, err := p.client.Get(p.url + "/readyz")
		if err == nil {
			last, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.HasPrefix(last, []byte(want)) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("/readyz of %s never said %q in %v; last %q", p.url, want, limit, last)
}
