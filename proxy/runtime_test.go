package proxy

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
	"switchboard/configs"
	"switchboard/router"
	"switchboard/store/money"
)

// reloadConfig loads the config of g's own kind with extra, on g's data
// directory, and builds its router on g's running one, as main does on
// SIGHUP.
func reloadConfig(t *testing.T, g *gateway, extra string) (*configs.Config, *router.Router) {
	t.Helper()
	cfg, err := configs.Load([]byte(gatewayYAML(g.srv.Config().DataDir, g.Mock.URL(), extra)), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	r, err := router.Build(cfg, configs.Catalog, g.srv.Router())
	if err != nil {
		t.Fatal(err)
	}
	return cfg, r
}

// streamCost sends a streamed chat call for model and returns its status
// and the cost its usage chunk reports; it may run off the test's
// goroutine.
func streamCost(url, secret, model string) (int, money.Money, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(url + "/v1/chat/completions")
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.SetContentType("application/json")
	req.SetBodyString(chat(model, `,"stream":true,"stream_options":{"include_usage":true}`))
	if err := fasthttp.DoTimeout(req, resp, 30*time.Second); err != nil {
		return 0, 0, err
	}
	body := string(resp.Body())
	if resp.StatusCode() != fasthttp.StatusOK {
		return resp.StatusCode(), 0, nil
	}
	if !strings.Contains(body, "data: [DONE]") {
		return resp.StatusCode(), 0, fmt.Errorf("stream cut: %q", body)
	}
	for _, data := range sseEvents(body) {
		var ev struct {
			Usage *struct{ Cost sonic.NoCopyRawMessage }
		}
		if sonic.UnmarshalString(data, &ev) == nil && ev.Usage != nil && len(ev.Usage.Cost) > 0 {
			c, err := money.Parse(strings.Trim(string(ev.Usage.Cost), `"`))
			return resp.StatusCode(), c, err
		}
	}
	return resp.StatusCode(), 0, fmt.Errorf("no usage cost in %q", body)
}

// TestReloadSwapsForNewCallsOnly: Reload swaps the whole runtime at
// once. A stream open across it finishes on the config it started with
// (billed at the old price); a call after it sees the new config (a
// route it adds, at ten times the price), and an unchanged provider keeps
// its pool.
func TestReloadSwapsForNewCallsOnly(t *testing.T) {
	g := startGateway(t, mock.Options{Chunks: 20, ChunkDelay: 50 * time.Millisecond}, pricedYAML)
	secret := billingTestKey(t, g, "team", 100*money.Dollar, nil)
	if status, _, err := streamCost(g.URL, secret, "fresh"); err != nil || status != fasthttp.StatusNotFound {
		t.Fatalf("fresh before the reload: %d, %v; want 404", status, err)
	}
	type answer struct {
		status int
		cost   money.Money
		err    error
	}
	open := make(chan answer, 1)
	go func() {
		s, c, err := streamCost(g.URL, secret, "mock/mock-model")
		open <- answer{s, c, err}
	}()
	for g.Mock.Requests() < 1 {
		time.Sleep(time.Millisecond)
	}
	before := g.srv.rt.Load()
	cfg, r := reloadConfig(t, g, strings.Replace(pricedYAML, `mock/mock-model: {input: "1", output: "2"`, `mock/mock-model: {input: "10", output: "20"`, 1)+
		"routes:\n  - {model: fresh, targets: [mock/mock-model]}\n")
	kept, err := g.srv.Reload(cfg, r)
	if err != nil || len(kept) != 0 {
		t.Fatalf("Reload: kept %q, %v", kept, err)
	}
	after := g.srv.rt.Load()
	if after == before || after.cfg != cfg || after.router != r {
		t.Fatal("Reload did not swap in the new runtime whole")
	}
	if after.router.Providers()[0] != before.router.Providers()[0] {
		t.Error("the unchanged provider got a new pool")
	}
	status, fresh, err := streamCost(g.URL, secret, "fresh")
	if err != nil || status != fasthttp.StatusOK {
		t.Fatalf("fresh after the reload: %d, %v", status, err)
	}
	old := <-open
	if old.err != nil || old.status != fasthttp.StatusOK {
		t.Fatalf("the stream open across the reload: %d, %v", old.status, old.err)
	}
	if old.cost <= 0 || fresh != 10*old.cost {
		t.Errorf("the open stream cost %s and the call after the reload %s: want the old price, then ten times it", old.cost, fresh)
	}
}

// TestReloadRejectedChangesNothing: a config whose runtime cannot be
// built (a compression stage that does not exist) is an error naming the
// field, and the running runtime stays, so the route the bad config adds
// stays unknown.
func TestReloadRejectedChangesNothing(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	before := g.srv.rt.Load()
	cfg, r := reloadConfig(t, g, "routes:\n  - {model: fresh, targets: [mock/mock-model], compression: {stages: bogus}}\n")
	if _, err := g.srv.Reload(cfg, r); err == nil || !strings.Contains(err.Error(), "routes[0].compression") {
		t.Fatalf("Reload of a bad compression: %v, want an error naming routes[0].compression", err)
	}
	if g.srv.rt.Load() != before {
		t.Fatal("a rejected reload swapped the runtime")
	}
	if res := g.post(t, "/v1/chat/completions", chat("fresh", "")); res.status != fasthttp.StatusNotFound {
		t.Errorf("fresh after a rejected reload: %d %s, want 404", res.status, res.body)
	}
}

// TestReloadKeepsRestartOnlyFields: a reload that changes a field read
// only at start keeps its running value and names it.
func TestReloadKeepsRestartOnlyFields(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	cfg, r := reloadConfig(t, g, "server: {max_conns: 7, write_timeout: 9s}\n")
	kept, err := g.srv.Reload(cfg, r)
	if err != nil || len(kept) != 1 || kept[0] != "server.max_conns" {
		t.Fatalf("Reload: kept %q, %v; want server.max_conns", kept, err)
	}
	if c := g.srv.Config(); c.Server.MaxConns == 7 || c.Server.WriteTimeout.D() != 9*time.Second {
		t.Errorf("after the reload: max_conns %d (want the running one), write_timeout %v (want 9s)", c.Server.MaxConns, c.Server.WriteTimeout.D())
	}
}
