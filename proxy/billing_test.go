package proxy

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bytedance/sonic"

	"switchboard/bench/mock"
	"switchboard/configs"
	"switchboard/router"
	"switchboard/store"
	"switchboard/store/money"
)

// pricedYAML prices the mock's models at $1/M input and $2/M output; the
// cached= variant lets the mock report cache reads.
const pricedYAML = `
billing:
  prices:
    mock/mock-model: {input: "1", output: "2", cache_read: "0.5"}
    mock/mock-model+cached=3: {input: "1", output: "2", cache_read: "0.5"}
    down/down-model: {input: "1", output: "2"}
`

// billingTestKey creates a metered key in the gateway's store with the
// account topped up by credits, reloads the key index and returns the
// secret. edit may set limits.
func billingTestKey(t testing.TB, g *gateway, account string, credits money.Money, edit func(*store.Key)) string {
	t.Helper()
	secret, err := store.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	k := store.Key{ID: store.SecretID(secret), Hash: store.SecretHash(secret), Account: account, Name: "t"}
	if edit != nil {
		edit(&k)
	}
	st := g.srv.backend
	if err := st.CreateKey(k); err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureAccount(account); err != nil {
		t.Fatal(err)
	}
	if credits > 0 {
		if err := st.TopUp(account, credits, "", store.MustExist); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.srv.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
	return secret
}

func bearer(secret string) []string { return []string{"Authorization", "Bearer " + secret} }

// entryOf waits for the ledger entry of a response and returns it.
func entryOf(t *testing.T, g *gateway, r result) store.Entry {
	t.Helper()
	if err := g.srv.backend.Flush(); err != nil {
		t.Fatal(err)
	}
	id := r.header["x-request-id"]
	// A stream's entry is settled when fasthttp closes the relay, just
	// after the client read the last byte: wait for it briefly.
	for deadline := time.Now().Add(5 * time.Second); ; {
		e, err := g.srv.backend.Entry(id)
		if err == nil {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ledger entry for %s: %v", id, err)
		}
		time.Sleep(5 * time.Millisecond)
		_ = g.srv.backend.Flush()
	}
}

// reportedCost reads usage.cost from a chat answer (the last usage object
// of a stream).
func reportedCost(t *testing.T, body string) money.Money {
	t.Helper()
	i := strings.LastIndex(body, `"cost":`)
	if i < 0 {
		t.Fatalf("no usage.cost in %s", body)
	}
	num := body[i+len(`"cost":`):]
	num = num[:strings.IndexAny(num, ",}")]
	m, err := money.Parse(num)
	if err != nil {
		t.Fatalf("usage.cost %q: %v", num, err)
	}
	return m
}

func TestMeteredCallIsChargedAtProviderPriceWithFreeCacheReads(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	secret := billingTestKey(t, g, "team", money.Dollar, nil)

	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+cached=3", ""), bearer(secret)...)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var resp struct {
		Usage struct {
			Prompt     int64 `json:"prompt_tokens"`
			Completion int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := sonic.UnmarshalString(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	u := resp.Usage
	// $1/M for uncached prompt tokens, $2/M for output, cached ones free.
	want := money.Money((u.Prompt-3)*1000 + u.Completion*2000)
	if got := reportedCost(t, r.body); got != want {
		t.Fatalf("usage.cost = %s, want %s (usage %+v)", got, want, u)
	}
	e := entryOf(t, g, r)
	if e.Cost != want || e.CostCacheRead != 0 || e.CacheReadTokens != 3 || e.InputTokens != u.Prompt-3 ||
		e.OutputTokens != u.Completion || e.Status != 200 || e.Provider != "mock" || e.Account != "team" {
		t.Fatalf("entry %+v, want cost %s", e, want)
	}
	a, err := g.srv.backend.Account("team")
	if err != nil {
		t.Fatal(err)
	}
	if a.Credits != money.Dollar-want {
		t.Fatalf("credits %s, want %s", a.Credits, money.Dollar-want)
	}
}

func TestStreamReportsCostInTheUsageChunk(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	secret := billingTestKey(t, g, "team", money.Dollar, nil)
	r := g.post(t, "/v1/chat/completions",
		chat("mock/mock-model", `,"stream":true,"stream_options":{"include_usage":true}`), bearer(secret)...)
	if r.status != 200 || !strings.HasSuffix(r.body, "data: [DONE]\n\n") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	cost := reportedCost(t, r.body)
	if e := entryOf(t, g, r); e.Cost != cost || cost == 0 || e.Settled != "" {
		t.Fatalf("entry cost %s settled %q, stream said %s", e.Cost, e.Settled, cost)
	}

	// Without include_usage the client sees no usage, but the call is
	// still billed from the usage the gateway asked for.
	r = g.post(t, "/v1/chat/completions", chat("mock/mock-model", `,"stream":true`), bearer(secret)...)
	if strings.Contains(r.body, `"usage"`) {
		t.Fatalf("usage leaked to a client that did not ask: %s", r.body)
	}
	if e := entryOf(t, g, r); e.Cost != cost {
		t.Fatalf("entry cost %s, want %s", e.Cost, cost)
	}
}

func TestCutStreamIsBilledFromAnEstimate(t *testing.T) {
	g := startGateway(t, mock.Options{}, strings.Replace(pricedYAML, "prices:", "prices:\n    mock/mock-model+reset=3: {input: \"1\", output: \"2\"}", 1))
	secret := billingTestKey(t, g, "team", money.Dollar, nil)
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+reset=3", `,"stream":true`), bearer(secret)...)
	e := entryOf(t, g, r)
	if e.Settled != store.SettledEstimate || e.OutputTokens != 3 || e.Cost == 0 {
		t.Fatalf("entry of a cut stream: %+v", e)
	}
}

func TestInsufficientCreditIs402AndReachesNoProvider(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	// A reservation without max_tokens assumes default_max_output (4096)
	// output tokens: $0.008192 at $2/M, more than this key's account has.
	secret := billingTestKey(t, g, "poor", money.Dollar/1000, nil)
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
	if r.status != 402 || !strings.Contains(r.body, `"code":"insufficient_credits"`) {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if n := g.Mock.Requests(); n != 0 {
		t.Fatalf("the provider got %d requests", n)
	}
	// A max_tokens the balance covers goes through.
	r = g.post(t, "/v1/chat/completions", chat("mock/mock-model", `,"max_tokens":20`), bearer(secret)...)
	if r.status != 200 {
		t.Fatalf("with max_tokens: status %d: %s", r.status, r.body)
	}
}

func TestRateLimitIs429WithHeaders(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	secret := billingTestKey(t, g, "team", money.Dollar, func(k *store.Key) { k.RPM = 2 })
	for i := range 2 {
		r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
		if r.status != 200 {
			t.Fatalf("call %d: status %d: %s", i, r.status, r.body)
		}
		if got, want := r.header["x-ratelimit-remaining-requests"], strconv.Itoa(1-i); got != want {
			t.Fatalf("call %d: remaining %q, want %q", i, got, want)
		}
		if r.header["x-ratelimit-limit-requests"] != "2" {
			t.Fatalf("limit header %q", r.header["x-ratelimit-limit-requests"])
		}
	}
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
	if r.status != 429 || !strings.Contains(r.body, `"code":"rate_limit_exceeded"`) {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ra, err := strconv.Atoi(r.header["retry-after"]); err != nil || ra < 1 || ra > 30 {
		t.Fatalf("retry-after %q", r.header["retry-after"])
	}
	if g.Mock.Requests() != 2 {
		t.Fatalf("the provider got %d requests, want 2", g.Mock.Requests())
	}
}

func TestDailyBudgetIs402OnceSpent(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	secret := billingTestKey(t, g, "team", money.Dollar, func(k *store.Key) { k.DailyLimit = 1000 })
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	entryOf(t, g, r) // settled: the spend counts
	r = g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
	if r.status != 402 || !strings.Contains(r.body, `"code":"budget_exceeded"`) {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestKeyModelListAndUnpricedModels(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML+`
  unpriced: refuse
`)
	limited := billingTestKey(t, g, "team", money.Dollar, func(k *store.Key) { k.AllowedModels = []string{"mock/mock-model"} })
	if r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(limited)...); r.status != 200 {
		t.Fatalf("allowed model: status %d: %s", r.status, r.body)
	}
	if r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+cached=3", ""), bearer(limited)...); r.status != 403 {
		t.Fatalf("model outside the list: status %d: %s", r.status, r.body)
	}
	open := billingTestKey(t, g, "team", 0, nil)
	// alias-model is served as mock/mock-model-upstream, which has no price.
	if r := g.post(t, "/v1/chat/completions", chat("alias-model", ""), bearer(open)...); r.status != 403 ||
		!strings.Contains(r.body, "no price") {
		t.Fatalf("unpriced model, metered key: status %d: %s", r.status, r.body)
	}
	// Operator keys may call it, at $0, and it is still in the ledger.
	r := g.post(t, "/v1/chat/completions", chat("alias-model", ""))
	if r.status != 200 {
		t.Fatalf("unpriced model, operator key: status %d: %s", r.status, r.body)
	}
	if e := entryOf(t, g, r); e.Cost != 0 || e.Account != "operator" || e.KeyID != "config:test" {
		t.Fatalf("operator entry %+v", e)
	}
}

func TestRevokedAndExpiredKeysAre401(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	revoked := billingTestKey(t, g, "team", money.Dollar, func(k *store.Key) { k.Revoked = true })
	expired := billingTestKey(t, g, "team", 0, func(k *store.Key) { k.ExpiresAt = time.Now().Add(-time.Minute) })
	for _, s := range []string{revoked, expired} {
		if r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(s)...); r.status != 401 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
}

func TestUnreachableProviderReleasesTheReservation(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	secret := billingTestKey(t, g, "team", money.Dollar, nil)
	r := g.post(t, "/v1/chat/completions", chat("down/down-model", ""), bearer(secret)...)
	if r.status != 502 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := g.srv.backend.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.srv.backend.Entry(r.header["x-request-id"]); err == nil {
		t.Fatal("a call that reached no provider has a ledger entry")
	}
	if avail, _ := g.srv.backend.Available("team", time.Now()); avail != money.Dollar {
		t.Fatalf("available %s after release, want $1", avail)
	}
}

func TestProviderErrorIsSettledAtNoCost(t *testing.T) {
	g := startGateway(t, mock.Options{}, strings.Replace(pricedYAML, "prices:", "prices:\n    mock/mock-model+status=500: {input: \"1\", output: \"2\"}", 1))
	secret := billingTestKey(t, g, "team", money.Dollar, nil)
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model+status=500", ""), bearer(secret)...)
	if r.status != 500 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if e := entryOf(t, g, r); e.Cost != 0 || e.Status != 500 {
		t.Fatalf("entry %+v", e)
	}
}

func TestKeyAllows(t *testing.T) {
	k := &Key{allowed: []string{"smart", "openai/gpt-4o"}}
	for _, c := range []struct {
		model, prov, up string
		want            bool
	}{
		{"smart", "anthropic", "claude", true},
		{"gpt-4o", "openai", "gpt-4o", true},
		{"openai/gpt-4o", "openai", "gpt-4o", true},
		{"gpt-4o", "azure", "gpt-4o", false},
		{"gpt-4o-mini", "openai", "gpt-4o-mini", false},
	} {
		if got := k.allows(c.model, c.prov, c.up); got != c.want {
			t.Errorf("allows(%q, %q, %q) = %v", c.model, c.prov, c.up, got)
		}
	}
	if !(&Key{}).allows("anything", "p", "m") {
		t.Error("an empty list must allow every model")
	}
}

// TestDefaultConfigModelsArePriced: every model the default config lists
// by name for a provider has a catalog price, so metered keys can call it
// (router's test of the same name checks that each pattern matches priced
// models).
func TestDefaultConfigModelsArePriced(t *testing.T) {
	cfg, err := configs.Load(configs.Default, func(name string) string {
		if name == "SWITCHBOARD_API_KEY" {
			return testKey
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := router.CatalogWithPrices(configs.Catalog, cfg.Billing.Prices)
	if err != nil {
		t.Fatal(err)
	}
	selfHosted := map[string]bool{"ollama": true, "vllm": true, "lmstudio": true}
	for _, p := range cfg.Providers {
		for _, m := range p.Models {
			if configs.IsModelPattern(m) {
				continue
			}
			if _, ok := cat.Lookup(p.Name, m); !ok && !selfHosted[p.Name] {
				t.Errorf("%s/%s has no catalog price", p.Name, m)
			}
		}
	}
}

func TestBillingDisabledMetersNothingButReportsCost(t *testing.T) {
	g := startGateway(t, mock.Options{}, strings.Replace(pricedYAML, "billing:", "billing:\n  disabled: true", 1))
	secret := billingTestKey(t, g, "broke", 0, func(k *store.Key) { k.TPM = 10 })
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
	if r.status != 200 || reportedCost(t, r.body) == 0 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := g.srv.backend.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.srv.backend.Entry(r.header["x-request-id"]); err == nil {
		t.Fatal("billing is disabled but the call has a ledger entry")
	}
	// The key's token limit still counts.
	r = g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
	if r.status != 429 {
		t.Fatalf("over the TPM limit with billing disabled: status %d: %s", r.status, r.body)
	}
}

func TestTokenRateLimitRefusesOnceSpent(t *testing.T) {
	g := startGateway(t, mock.Options{}, pricedYAML)
	secret := billingTestKey(t, g, "team", money.Dollar, func(k *store.Key) { k.TPM = 10 })
	r := g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	entryOf(t, g, r) // the call's tokens (more than 10) are charged at settle
	r = g.post(t, "/v1/chat/completions", chat("mock/mock-model", ""), bearer(secret)...)
	if r.status != 429 || !strings.Contains(r.body, "tokens") || r.header["x-ratelimit-remaining-tokens"] != "0" {
		t.Fatalf("status %d remaining-tokens %q: %s", r.status, r.header["x-ratelimit-remaining-tokens"], r.body)
	}
}
