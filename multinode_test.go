package main

// Several gateway processes of the real binary behind a real nginx,
// sharing a real Redis (internal/testenv): the keys' rate limits and the
// response cache are one for all of them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/bench/mock"
	"switchboard/internal/testenv"
)

// cluster is n gateways on one Redis, and nginx in front of them.
type cluster struct {
	mock   *mock.Server
	redis  *testenv.Redis
	nodes  []*gatewayProc
	nginx  *testenv.Nginx
	client *http.Client
}

// clusterOptions shape a cluster's config.
type clusterOptions struct {
	nodes      int
	rpm        int    // the operator key's RPM; 0 none
	whenDown   string // store.when_down.limits; "" the default
	cacheOn    bool   // cache.responses.enabled
	redis      *testenv.Redis
	skipNginx  bool
	nameSuffix string
}

const clusterKey = "sk-sb-cluster-key"

// startCluster starts a mock provider, a Redis (unless o.redis), o.nodes
// gateways with their own data dirs and store.redis_url, and nginx.
func startCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	bin := switchboardBinary(t)
	c := &cluster{redis: o.redis, client: newClient(64)}
	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c.mock = m
	if c.redis == nil {
		c.redis = testenv.StartRedis(t)
	}
	dir := t.TempDir()
	var addrs []string
	for i := range o.nodes {
		nodeDir := filepath.Join(dir, fmt.Sprintf("node%d", i))
		if err := os.MkdirAll(nodeDir, 0o700); err != nil {
			t.Fatal(err)
		}
		rpm := ""
		if o.rpm > 0 {
			rpm = fmt.Sprintf(", rpm: %d", o.rpm)
		}
		whenDown := ""
		if o.whenDown != "" {
			whenDown = fmt.Sprintf("\n  when_down: {limits: %s}", o.whenDown)
		}
		cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %q
log: {access: false}
store:
  redis_url: %q%s
auth:
  keys: [{name: op, key: %s%s}]
cache:
  responses: {enabled: %v}
billing:
  prices:
    mock/mock-model: {input: "1", output: "2"}
providers:
  - name: mock
    base_url: %q
    api_key: sk-upstream
    models: [mock-model]
`, filepath.Join(nodeDir, "data"), c.redis.URL, whenDown, clusterKey, rpm, o.cacheOn, m.URL()+"/v1")
		path := filepath.Join(nodeDir, "switchboard.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p := startGateway(t, fmt.Sprintf("gateway-%d%s", i+1, o.nameSuffix), exec.Command(bin, "-config", path))
		c.nodes = append(c.nodes, p)
		addrs = append(addrs, strings.TrimPrefix(p.url, "http://"))
	}
	if !o.skipNginx {
		c.nginx = testenv.StartNginx(t, addrs)
	}
	return c
}

// clusterReply is one chat completion's outcome.
type clusterReply struct {
	status int
	node   string // the serving process's request-id prefix
	header http.Header
	body   []byte
}

// chat posts body to url's /v1/chat/completions with the cluster key.
func (c *cluster) chat(t *testing.T, url string, body []byte) (clusterReply, error) {
	req, err := http.NewRequest("POST", url+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+clusterKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return clusterReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return clusterReply{}, err
	}
	r := clusterReply{status: resp.StatusCode, header: resp.Header, body: b}
	if id := resp.Header.Get("x-request-id"); len(id) >= 12 {
		r.node = id[4:12] // req_<process prefix><counter>
	}
	return r, nil
}

// Three gateways behind nginx, one key with RPM 120: once the key's burst
// is spent, a 60 s window at 4x the limit (8 requests a second, spread
// by nginx over the nodes) lets 120 +-5% through, served by every node.
func TestClusterRateLimit(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOptions{nodes: 3, rpm: 120})
	// Spend the burst: the limiter is then at its steady 2 a second.
	for i := 0; ; i++ {
		r, err := c.chat(t, c.nginx.URL, chatBody)
		if err != nil {
			t.Fatal(err)
		}
		if r.status == http.StatusTooManyRequests {
			break
		}
		if r.status != http.StatusOK || i > 200 {
			t.Fatalf("request %d while spending the burst: %d %s", i, r.status, r.body)
		}
	}
	const (
		window = 60 * time.Second
		rate   = 8 // 4x 120/min
	)
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	var (
		mu       sync.Mutex
		ok, shed int
		other    []string
		byNode   = map[string]int{}
		wg       sync.WaitGroup
	)
	end := time.Now().Add(window)
	for now := range tick.C {
		if now.After(end) {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.chat(t, c.nginx.URL, chatBody)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				other = append(other, err.Error())
			case r.status == http.StatusOK:
				ok++
				byNode[r.node]++
			case r.status == http.StatusTooManyRequests:
				shed++
				if r.header.Get("retry-after") == "" {
					other = append(other, "429 without retry-after")
				}
			default:
				other = append(other, fmt.Sprintf("%d %s", r.status, r.body))
			}
		}()
	}
	wg.Wait()
	t.Logf("60s at 8/s on RPM 120: %d allowed %v, %d refused", ok, byNode, shed)
	if len(other) > 0 {
		t.Fatalf("%d answers neither 200 nor 429: %v", len(other), other[:min(len(other), 5)])
	}
	if ok < 114 || ok > 126 {
		t.Errorf("%d requests allowed in 60s on a 120 RPM key, want 120 +-5%%", ok)
	}
	if len(byNode) != 3 {
		t.Errorf("the allowed requests were served by %d nodes, want all 3: %v", len(byNode), byNode)
	}
}

// A response cached through node A is a hit through node B.
func TestClusterCache(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOptions{nodes: 2, cacheOn: true, skipNginx: true})
	body := []byte(`{"model":"mock-model","messages":[{"role":"user","content":"cache me"}],"max_tokens":20,"temperature":0}`)
	a, err := c.chat(t, c.nodes[0].url, body)
	if err != nil || a.status != http.StatusOK || a.header.Get("x-switchboard-cache") != "miss" {
		t.Fatalf("first call through node A: %v %d cache=%q %s", err, a.status, a.header.Get("x-switchboard-cache"), a.body)
	}
	b, err := c.chat(t, c.nodes[1].url, body)
	if err != nil || b.status != http.StatusOK {
		t.Fatalf("call through node B: %v %d %s", err, b.status, b.body)
	}
	if got := b.header.Get("x-switchboard-cache"); got != "hit" {
		t.Fatalf("node B answered x-switchboard-cache: %q, want hit", got)
	}
	var ra, rb struct {
		Choices []struct {
			Message struct{ Content string }
		}
	}
	if json.Unmarshal(a.body, &ra) != nil || json.Unmarshal(b.body, &rb) != nil || len(ra.Choices) == 0 || len(rb.Choices) == 0 ||
		ra.Choices[0].Message.Content != rb.Choices[0].Message.Content {
		t.Fatalf("node B's hit is not node A's answer:\n%s\n%s", a.body, b.body)
	}
	if n := c.mock.Requests(); n != 1 {
		t.Fatalf("the provider was called %d times, want once", n)
	}
}

// Redis stopped: the fail_open nodes keep serving without limits, a
// fail_closed node answers 503 in the surface's error shape; once Redis
// is back both enforce the limits again.
func TestClusterRedisDown(t *testing.T) {
	t.Parallel()
	open := startCluster(t, clusterOptions{nodes: 2, rpm: 3})
	closed := startCluster(t, clusterOptions{nodes: 1, rpm: 3, whenDown: "fail_closed", redis: open.redis, skipNginx: true, nameSuffix: "-closed"})
	statuses := func(c *cluster, url string, n int) []int {
		var got []int
		for range n {
			r, err := c.chat(t, url, chatBody)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.status)
		}
		return got
	}
	want := fmt.Sprint([]int{200, 200, 200, 429, 429})
	if got := fmt.Sprint(statuses(open, open.nginx.URL, 5)); got != want {
		t.Fatalf("Redis up, 5 calls on a 3 RPM key: %v, want %v", got, want)
	}
	open.redis.Stop()
	for i, s := range statuses(open, open.nginx.URL, 20) {
		if s != http.StatusOK {
			t.Fatalf("Redis down, fail_open: call %d answered %d, want 200", i, s)
		}
	}
	r, err := closed.chat(t, closed.nodes[0].url, chatBody)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Type, Code, Message string }
	}
	if r.status != http.StatusServiceUnavailable || json.Unmarshal(r.body, &e) != nil || e.Error.Code != "rate_limits_unavailable" ||
		!strings.Contains(e.Error.Message, "store.when_down.limits") {
		t.Fatalf("Redis down, fail_closed: %d %s; want 503 with code rate_limits_unavailable", r.status, r.body)
	}
	if m := metric(t, open.nodes[0], "switchboard_ratelimit_unchecked_total") + metric(t, open.nodes[1], "switchboard_ratelimit_unchecked_total"); m < 20 {
		t.Errorf("switchboard_ratelimit_unchecked_total is %v over the open nodes, want the 20 calls", m)
	}
	open.redis.Start() // empty: the windows start over
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := fmt.Sprint(statuses(closed, closed.nodes[0].url, 5))
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back, 5 calls on the fail_closed node: %v, want %v", got, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// metric reads one unlabelled series from a gateway's /metrics.
func metric(t *testing.T, p *gatewayProc, name string) float64 {
	t.Helper()
	resp, err := p.client.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}
