package router

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"switchboard/configs"
	"switchboard/store/money"
	"switchboard/upstream"
)

// selectRouter serves model "m" from providers a, b, c and d (e has no
// key), with catalog prices (input+output per million) a $6, b $2, c $4
// and d unpriced, and one route per strategy over a, b, c (and d where
// prices matter).
func selectRouter(t testing.TB, explore int) *Router {
	t.Helper()
	var providers []*upstream.Provider
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		p, err := upstream.New(configs.Provider{Name: name, BaseURL: "http://127.0.0.1:1/v1", Disabled: name == "e"})
		if err != nil {
			t.Fatal(err)
		}
		providers = append(providers, p)
	}
	cat := newCatalog()
	for prov, price := range map[string]string{"a": "3", "b": "1", "c": "2"} {
		if err := cat.Override(prov, "m", PriceOverride{Input: &price, Output: &price}); err != nil {
			t.Fatal(err)
		}
	}
	abc := targets("a/m", "b/m", "c/m")
	abcd := targets("a/m", "b/m", "c/m", "d/m")
	routes := []configs.Route{
		{Model: "prio", Targets: abc},
		{Model: "weighted", Strategy: "weighted", Targets: []configs.RouteTarget{{Target: "a/m", Weight: 1}, {Target: "b/m", Weight: 3}, {Target: "c/m", Weight: 6}}},
		{Model: "latency", Strategy: "latency", Targets: abc},
		{Model: "throughput", Strategy: "throughput", Targets: abc},
		{Model: "price", Strategy: "price", Targets: abcd},
		{Model: "default", Strategy: "default", Targets: abcd},
	}
	r, err := New(providers, nil, routes, Options{Catalog: cat, Explore: explore})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func resolve(t testing.TB, r *Router, model string) *Route {
	t.Helper()
	rt := new(Route)
	if err := r.Resolve(model, rt); err != nil {
		t.Fatal(err)
	}
	return rt
}

// health returns the shared Health of provider's model "m".
func health(r *Router, provider string) *Health {
	return r.targets[modelKey{provider, "m"}].Health
}

// order returns the providers of model's order at t0, space-separated.
func order(t testing.TB, r *Router, model string, p *ProviderPrefs, rnd *rand.Rand) string {
	t.Helper()
	ts, err := r.Order(nil, resolve(t, r, model), p, t0, rnd)
	if err != nil {
		t.Fatalf("Order(%q, %+v): %v", model, p, err)
	}
	names := make([]string, len(ts))
	for i, tg := range ts {
		names[i] = tg.Provider.Name
	}
	return strings.Join(names, " ")
}

func wantOrder(t *testing.T, r *Router, model string, p *ProviderPrefs, want string) {
	t.Helper()
	if got := order(t, r, model, p, rand.New(rand.NewPCG(1, 2))); got != want {
		t.Fatalf("order of %q with %+v: got %q, want %q", model, p, got, want)
	}
}

func openBreaker(h *Health) {
	for range 5 {
		h.Failure(t0)
	}
}

func TestOrderPriorityPutsUnreadyTargetsLast(t *testing.T) {
	r := selectRouter(t, -1)
	wantOrder(t, r, "prio", nil, "a b c")
	openBreaker(health(r, "a"))
	wantOrder(t, r, "prio", nil, "b c a")
	// Once the cool-down is over a is ready for its probe and back in place.
	ts, err := r.Order(nil, resolve(t, r, "prio"), nil, at(30*time.Second), nil)
	if err != nil || ts[0].Provider.Name != "a" {
		t.Fatalf("after the cool-down: %v %v, want a first", ts, err)
	}
}

func TestOrderPrice(t *testing.T) {
	r := selectRouter(t, -1)
	wantOrder(t, r, "price", nil, "b c a d")    // $2, $4, $6, unpriced
	wantOrder(t, r, "prio:floor", nil, "b c a") // :floor forces price order
	wantOrder(t, r, "weighted:floor", nil, "b c a")
	openBreaker(health(r, "b"))
	wantOrder(t, r, "price", nil, "c a d b")
}

func TestOrderLatency(t *testing.T) {
	r := selectRouter(t, -1)
	wantOrder(t, r, "latency", nil, "a b c") // no samples: config order
	health(r, "b").Success(t0, 100*time.Millisecond)
	health(r, "c").Success(t0, 200*time.Millisecond)
	wantOrder(t, r, "latency", nil, "b c a") // a has no sample yet
	health(r, "a").Success(t0, 50*time.Millisecond)
	wantOrder(t, r, "latency", nil, "a b c")
	wantOrder(t, r, "prio:nitro", nil, "a b c")
	for range 3 {
		health(r, "a").Success(t0, 2*time.Second)
	}
	wantOrder(t, r, "latency", nil, "b c a")
	wantOrder(t, r, "prio:nitro", nil, "b c a")
	wantOrder(t, r, "prio", &ProviderPrefs{Sort: StrategyLatency}, "b c a")
}

func TestOrderLatencyShiftsAwayFromSlowedTarget(t *testing.T) {
	r := selectRouter(t, 0) // default exploration
	rnd := rand.New(rand.NewPCG(3, 4))
	rt := resolve(t, r, "latency")
	truth := map[string]time.Duration{"a": 80 * time.Millisecond, "b": 120 * time.Millisecond, "c": 300 * time.Millisecond}
	var buf [4]Target
	picks := map[string]int{}
	for i := range 4000 {
		if i == 2000 {
			truth["a"] = 3 * time.Second // a slows down
			clear(picks)
		}
		ts, err := r.Order(buf[:0], rt, nil, t0, rnd)
		if err != nil {
			t.Fatal(err)
		}
		first := ts[0]
		picks[first.Provider.Name]++
		first.Health.Success(t0, truth[first.Provider.Name])
	}
	// After the slowdown b serves nearly everything; a and c get only the
	// exploring calls (one in 50, spread over three targets).
	if picks["b"] < 1900 || picks["a"] > 40 || picks["c"] > 40 {
		t.Fatalf("picks after a slowed down: %v", picks)
	}
}

func TestOrderThroughput(t *testing.T) {
	r := selectRouter(t, -1)
	health(r, "a").RecordThroughput(50, time.Second)
	health(r, "c").RecordThroughput(200, time.Second)
	wantOrder(t, r, "throughput", nil, "c a b") // b has no sample
	wantOrder(t, r, "prio", &ProviderPrefs{Sort: StrategyThroughput}, "c a b")
}

// firstPicks counts which provider each of n orders puts first.
func firstPicks(t *testing.T, r *Router, model string, n int) map[string]float64 {
	t.Helper()
	rt := resolve(t, r, model)
	rnd := rand.New(rand.NewPCG(5, 6))
	var buf [8]Target
	counts := map[string]float64{}
	for range n {
		ts, err := r.Order(buf[:0], rt, nil, t0, rnd)
		if err != nil {
			t.Fatal(err)
		}
		counts[ts[0].Provider.Name]++
	}
	for k := range counts {
		counts[k] /= float64(n)
	}
	return counts
}

func wantShares(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		if math.Abs(got[name]-w) > 0.01 {
			t.Errorf("%s picked first %.4f of the time, want %.4f ± 0.01 (all: %v)", name, got[name], w, got)
		}
	}
}

func TestOrderWeightedDistribution(t *testing.T) {
	r := selectRouter(t, -1)
	wantShares(t, firstPicks(t, r, "weighted", 100_000), map[string]float64{"a": 0.1, "b": 0.3, "c": 0.6})
	openBreaker(health(r, "c"))
	wantShares(t, firstPicks(t, r, "weighted", 100_000), map[string]float64{"a": 0.25, "b": 0.75, "c": 0})
}

func TestOrderDefaultWeighsByInverseSquarePrice(t *testing.T) {
	r := selectRouter(t, -1)
	// Prices $6, $2, $4: weights 1/36, 1/4, 1/16; d is unpriced and last.
	w := map[string]float64{"a": 1.0 / 36, "b": 1.0 / 4, "c": 1.0 / 16}
	sum := w["a"] + w["b"] + w["c"]
	for k := range w {
		w[k] /= sum
	}
	w["d"] = 0
	wantShares(t, firstPicks(t, r, "default", 100_000), w)
	// The full order always ends with the unpriced target.
	rnd := rand.New(rand.NewPCG(7, 8))
	for range 100 {
		if got := order(t, r, "default", nil, rnd); !strings.HasSuffix(got, "d") {
			t.Fatalf("default order %q does not end with unpriced d", got)
		}
	}
}

func TestOrderExploresOneInN(t *testing.T) {
	r := selectRouter(t, 10)
	for name, d := range map[string]time.Duration{"a": time.Millisecond, "b": time.Second, "c": time.Second} {
		health(r, name).Success(t0, d)
	}
	got := firstPicks(t, r, "latency", 100_000)
	wantShares(t, got, map[string]float64{"a": 1 - 0.1*2/3, "b": 0.1 / 3, "c": 0.1 / 3})
}

func TestOrderProviderPrefs(t *testing.T) {
	r := selectRouter(t, -1)
	dollars := func(s string) money.Money {
		m, err := money.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	f := func(model string, p ProviderPrefs, want string) {
		t.Helper()
		wantOrder(t, r, model, &p, want)
	}
	f("prio", ProviderPrefs{}, "a b c")
	f("prio", ProviderPrefs{Order: []string{"c"}}, "c a b")
	f("prio", ProviderPrefs{Order: []string{"C", "b"}}, "c b a")
	f("price", ProviderPrefs{Order: []string{"a"}}, "a b c d")
	f("prio", ProviderPrefs{Only: []string{"a", "c"}}, "a c")
	f("prio", ProviderPrefs{Ignore: []string{"A"}}, "b c")
	f("prio", ProviderPrefs{NoFallbacks: true}, "a")
	f("price", ProviderPrefs{NoFallbacks: true}, "b")
	f("prio", ProviderPrefs{NoFallbacks: true, Order: []string{"c", "b"}}, "c b")
	f("prio", ProviderPrefs{Sort: StrategyPrice}, "b c a")
	f("prio:nitro", ProviderPrefs{Sort: StrategyPrice}, "b c a")
	f("price", ProviderPrefs{MaxPrompt: dollars("2"), HasMaxPrompt: true}, "b c")
	f("price", ProviderPrefs{MaxCompletion: dollars("1"), HasMaxCompletion: true}, "b")
	f("price", ProviderPrefs{MaxPrompt: dollars("3"), HasMaxPrompt: true, MaxCompletion: dollars("2.5"), HasMaxCompletion: true}, "b c")

	openBreaker(health(r, "c"))
	f("prio", ProviderPrefs{Order: []string{"c", "b"}}, "b a c")
	f("prio", ProviderPrefs{NoFallbacks: true, Order: []string{"c", "b"}}, "b c")
}

func TestOrderProviderPrefsErrors(t *testing.T) {
	r := selectRouter(t, -1)
	f := func(model string, p ProviderPrefs, want string) {
		t.Helper()
		_, err := r.Order(nil, resolve(t, r, model), &p, t0, nil)
		if !errors.Is(err, ErrBadPrefs) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Order(%q, %+v) = %v, want ErrBadPrefs containing %q", model, p, err, want)
		}
	}
	f("prio", ProviderPrefs{Only: []string{"nope"}}, `provider.only: unknown provider "nope"; the gateway's providers are a, b, c, d, e`)
	f("prio", ProviderPrefs{Order: []string{"a", "zzz"}}, `provider.order: unknown provider "zzz"`)
	f("prio", ProviderPrefs{Ignore: []string{"x"}}, `provider.ignore: unknown provider "x"`)
	f("prio", ProviderPrefs{Ignore: []string{"a", "b", "c"}}, `leave no provider of "prio" (a, b, c)`)
	f("prio", ProviderPrefs{Only: []string{"d", "e"}}, `provider.only ["d" "e"]`)
	f("price", ProviderPrefs{MaxPrompt: 5e8, HasMaxPrompt: true},
		`provider.max_price (prompt $0.5 per million tokens) is below every target of "price": a/m ($3/$3) b/m ($1/$1) c/m ($2/$2) d/m (no price)`)
	f("prio", ProviderPrefs{MaxPrompt: 5e9, HasMaxPrompt: true, MaxCompletion: 0, HasMaxCompletion: true}, "(prompt $5, completion $0 per million tokens)")
	f("prio", ProviderPrefs{NoFallbacks: true, Order: []string{"d"}}, `provider.order ["d"] with allow_fallbacks false names no provider of "prio"`)
}

func TestParseProviderPrefs(t *testing.T) {
	p, err := ParseProviderPrefs([]byte(`{"order": ["b", "a"], "only": ["a", "b"], "ignore": ["c"], "allow_fallbacks": false,
		"sort": "throughput", "max_price": {"prompt": 1.25, "completion": 10, "request": 0.5}, "data_collection": "deny",
		"require_parameters": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Order, ",") != "b,a" || strings.Join(p.Only, ",") != "a,b" || strings.Join(p.Ignore, ",") != "c" ||
		!p.NoFallbacks || p.Sort != StrategyThroughput ||
		!p.HasMaxPrompt || p.MaxPrompt != 1_250_000_000 || !p.HasMaxCompletion || p.MaxCompletion != 10*money.Dollar {
		t.Fatalf("parsed %+v", p)
	}
	for _, in := range []string{`null`, `{}`, `{"order": null, "sort": null, "max_price": {"prompt": null}}`, ` {"allow_fallbacks": true} `} {
		p, err := ParseProviderPrefs([]byte(in))
		if err != nil || p.NoFallbacks || p.Order != nil || p.HasMaxPrompt || p.Sort != 0 {
			t.Fatalf("ParseProviderPrefs(%s) = %+v, %v; want no preferences", in, p, err)
		}
	}
	p, err = ParseProviderPrefs([]byte(`{"max_price": {"completion": 0}, "sort": "price"}`))
	if err != nil || p.HasMaxPrompt || !p.HasMaxCompletion || p.MaxCompletion != 0 || p.Sort != StrategyPrice {
		t.Fatalf("free-only completion cap: %+v %v", p, err)
	}
}

func TestParseProviderPrefsErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := ParseProviderPrefs([]byte(in))
		if !errors.Is(err, ErrBadPrefs) || !strings.Contains(err.Error(), want) {
			t.Fatalf("ParseProviderPrefs(%s) = %v, want ErrBadPrefs containing %q", in, err, want)
		}
	}
	f(``, "not valid JSON")
	f(`{"order": ["a"],}`, "not valid JSON")
	f(`{"order": ["a"]} x`, "not valid JSON")
	f(`["a"]`, "want an object")
	f(`"openai"`, "want an object")
	f(`{"order": "openai"}`, `provider.order: want a list of provider names, got "openai"`)
	f(`{"only": ["a", 1]}`, `provider.only: want a list of provider names, got ["a", 1]`)
	f(`{"ignore": [""]}`, `provider.ignore: want a list`)
	f(`{"allow_fallbacks": "no"}`, "provider.allow_fallbacks: want true or false")
	f(`{"allow_fallbacks": 0}`, "provider.allow_fallbacks")
	f(`{"sort": "fastest"}`, `provider.sort: want "price", "latency" or "throughput", got "fastest"`)
	f(`{"sort": {"by": "price"}}`, `provider.sort: want`)
	f(`{"max_price": 5}`, "provider.max_price: want an object")
	f(`{"max_price": {"prompt": "1"}}`, `provider.max_price.prompt: want a number of dollars per million tokens from 0 to 1000000, got "1"`)
	f(`{"max_price": {"completion": -1}}`, "provider.max_price.completion")
	f(`{"max_price": {"prompt": 1e300}}`, "provider.max_price.prompt")
}

func FuzzParseProviderPrefs(f *testing.F) {
	for _, s := range []string{`{"order":["a"],"only":["b"],"allow_fallbacks":false}`, `{"max_price":{"prompt":1.5}}`, `null`, `{"sort":"price"}`, `[`, `{"a":`} {
		f.Add([]byte(s))
	}
	r := selectRouter(f, -1)
	rt := resolve(f, r, "price")
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParseProviderPrefs(raw)
		if err != nil {
			if !errors.Is(err, ErrBadPrefs) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		ts, err := r.Order(nil, rt, &p, t0, nil)
		if err != nil {
			if !errors.Is(err, ErrBadPrefs) {
				t.Fatalf("Order: untyped error %v", err)
			}
			return
		}
		if len(ts) == 0 || len(ts) > len(rt.Targets) {
			t.Fatalf("Order(%+v) gave %d targets", p, len(ts))
		}
	})
}

func TestPolicy(t *testing.T) {
	var p Policy
	if err := p.set(configs.Route{Strategy: "default", Fallbacks: []string{"big"}, Retry: configs.Retry{Attempts: 5, OnStatus: []int{408, 429, 599}}}); err != nil {
		t.Fatal(err)
	}
	if p.Strategy != StrategyDefault || p.Attempts != 5 || p.Budget != time.Minute || p.Fallbacks[0] != "big" {
		t.Fatalf("policy %+v", p)
	}
	for st, want := range map[int]bool{399: false, 400: false, 408: true, 429: true, 500: false, 503: false, 599: true, 600: false, -1: false} {
		if p.RetryOn(st) != want {
			t.Errorf("RetryOn(%d) = %v, want %v", st, !want, want)
		}
	}
	var none Policy
	if err := none.set(configs.Route{Retry: configs.Retry{OnStatus: []int{}}}); err != nil || none.RetryOn(503) {
		t.Fatalf("on_status: [] retries 503 (%v)", err)
	}
	for n, ceil := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 9: 2 * time.Second} {
		for range 100 {
			if d := p.Backoff(n); d < 0 || d > ceil {
				t.Fatalf("Backoff(%d) = %v, want 0 to %v", n, d, ceil)
			}
		}
	}
}

func TestStrategyNames(t *testing.T) {
	for _, name := range configs.RouteStrategies {
		s, ok := ParseStrategy(name)
		if !ok || s.String() != name {
			t.Errorf("ParseStrategy(%q) = %v, %v", name, s, ok)
		}
	}
	if _, ok := ParseStrategy(""); ok {
		t.Error(`ParseStrategy("") succeeds`)
	}
}

func TestOrderDoesNotAllocate(t *testing.T) {
	r := selectRouter(t, 0)
	for _, name := range []string{"a", "b", "c"} {
		health(r, name).Success(t0, time.Millisecond)
	}
	openBreaker(health(r, "b"))
	rnd := rand.New(rand.NewPCG(1, 1))
	prefs := &ProviderPrefs{Order: []string{"c"}, Ignore: []string{"d"}, MaxPrompt: 5e9, HasMaxPrompt: true}
	var buf [8]Target
	for _, model := range []string{"prio", "weighted", "latency", "throughput", "price", "default", "prio:floor", "b/m"} {
		rt := resolve(t, r, model)
		for _, p := range []*ProviderPrefs{nil, prefs} {
			n := testing.AllocsPerRun(100, func() {
				if _, err := r.Order(buf[:0], rt, p, t0, rnd); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				t.Errorf("Order(%q, prefs %v) allocates %.0f times", model, p != nil, n)
			}
		}
	}
}
