package router

import (
	"slices"
	"strings"
	"testing"

	"switchboard/configs"
	"switchboard/store/money"
	"switchboard/upstream/canon"
)

func embeddedCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := LoadCatalog(configs.Catalog)
	if err != nil {
		t.Fatalf("embedded catalog: %v", err)
	}
	return c
}

func TestEmbeddedCatalogCoversTheMainProviders(t *testing.T) {
	c := embeddedCatalog(t)
	if c.Len() < 300 {
		t.Errorf("catalog has %d entries; want at least 300", c.Len())
	}
	if n := len(c.Providers()); n < 30 {
		t.Errorf("catalog has %d providers; want at least 30", n)
	}
	for _, p := range []string{"openai", "anthropic", "gemini", "mistral", "deepseek", "xai", "groq", "together",
		"fireworks", "cerebras", "perplexity", "cohere", "deepinfra", "openrouter", "qwen", "moonshot", "zhipu",
		"minimax", "ai21", "bedrock", "azure"} {
		if len(c.Provider(p)) == 0 {
			t.Errorf("no models for provider %q", p)
		}
	}
	t.Logf("%d entries, %d providers", c.Len(), len(c.Providers()))
}

// TestEmbeddedCatalogIsSane checks what the loader cannot: prices that
// are plausible relative to each other.
func TestEmbeddedCatalogIsSane(t *testing.T) {
	c := embeddedCatalog(t)
	free := map[string]bool{"zhipu/glm-4.5-flash": true}
	n := 0
	for _, prov := range c.Providers() {
		for _, m := range c.Provider(prov) {
			n++
			name := m.Provider + "/" + m.ID
			p := m.Price
			switch {
			case p.Input == 0 && !free[name]:
				t.Errorf("%s: no input price", name)
			case p.Output == 0 && m.MaxOutput > 0 && !free[name] && !strings.Contains(m.ID, "embed"):
				t.Errorf("%s: no output price", name)
			case m.MaxOutput > m.Context:
				t.Errorf("%s: max_output %d past its context %d", name, m.MaxOutput, m.Context)
			case p.CacheRead > p.Input:
				t.Errorf("%s: cache reads (%s) cost more than input (%s)", name, p.CacheRead, p.Input)
			case p.CacheWrite1h != 0 && p.CacheWrite1h < p.CacheWrite:
				t.Errorf("%s: 1-hour cache writes (%s) cost less than 5-minute ones (%s)", name, p.CacheWrite1h, p.CacheWrite)
			case p.LongAbove != 0 && (p.Long.Input < p.Input || p.Long.Output < p.Output):
				t.Errorf("%s: long-prompt rates %+v below the standard ones", name, p.Long)
			case p.Input > 200*money.Dollar || p.Output > 1000*money.Dollar:
				t.Errorf("%s: implausible price %s/%s", name, p.Input, p.Output)
			case len(m.Modalities) == 0 || m.Modalities[0] != "text":
				t.Errorf("%s: modalities %v do not start with text", name, m.Modalities)
			}
			if got, ok := c.Lookup(m.Provider, m.ID); !ok || got != m {
				t.Errorf("%s: Lookup does not find it", name)
			}
			if !slices.Contains(c.Offering(m.ID), m) {
				t.Errorf("%s: Offering(%q) does not list it", name, m.ID)
			}
		}
	}
	if n != c.Len() {
		t.Errorf("providers hold %d entries; Len is %d", n, c.Len())
	}
}

func TestEmbeddedCatalogPrices(t *testing.T) {
	c := embeddedCatalog(t)
	f := func(provider, id, input, output, cacheRead, cacheWrite string, context, maxOutput int) {
		t.Helper()
		m, ok := c.Lookup(provider, id)
		if !ok {
			t.Fatalf("%s/%s not in the catalog", provider, id)
		}
		parse := func(s string) money.Money {
			t.Helper()
			v, err := money.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		p := m.Price
		if got, want := [4]money.Money{p.Input, p.Output, p.CacheRead, p.CacheWrite}, [4]money.Money{parse(input), parse(output), parse(cacheRead), parse(cacheWrite)}; got != want {
			t.Errorf("%s/%s input, output, cache read and write %v; want %v", provider, id, got, want)
		}
		if m.Context != context || m.MaxOutput != maxOutput {
			t.Errorf("%s/%s context %d max_output %d; want %d %d", provider, id, m.Context, m.MaxOutput, context, maxOutput)
		}
	}
	f("openai", "gpt-4o", "$2.50", "$10.00", "$1.25", "$0.00", 128000, 16384)
	f("openai", "gpt-4o-mini", "$0.15", "$0.60", "$0.075", "$0.00", 128000, 16384)
	f("openai", "gpt-5", "$1.25", "$10.00", "$0.125", "$0.00", 400000, 128000)
	f("openai", "gpt-5.5", "$5.00", "$30.00", "$0.50", "$0.00", 1000000, 128000)
	f("anthropic", "claude-sonnet-4-6", "$3.00", "$15.00", "$0.30", "$3.75", 1000000, 64000)
	f("anthropic", "claude-opus-4-6", "$5.00", "$25.00", "$0.50", "$6.25", 1000000, 128000)
	f("anthropic", "claude-haiku-4-5", "$1.00", "$5.00", "$0.10", "$1.25", 200000, 64000)
	f("gemini", "gemini-2.5-pro", "$1.25", "$10.00", "$0.125", "$0.00", 1048576, 65536)
	f("deepseek", "deepseek-v4-flash", "$0.44", "$1.32", "$0.014", "$0.00", 1000000, 0)
	f("openrouter", "anthropic/claude-sonnet-4.5", "$3.00", "$15.00", "$0.30", "$3.75", 1000000, 64000)
	f("openai", "text-embedding-3-small", "$0.02", "$0.00", "$0.00", "$0.00", 8192, 0)

	// The pricing rules the sources give.
	rules := func(provider, id string, check func(p Price) bool) {
		t.Helper()
		if m, ok := c.Lookup(provider, id); !ok || !check(m.Price) {
			t.Errorf("%s/%s: price %+v (found %v) lacks its rule", provider, id, m, ok)
		}
	}
	rules("gemini", "gemini-2.5-pro", func(p Price) bool {
		return p.LongAbove == 200000 && p.Long.Input == 2_500_000_000 && p.Long.Output == 15*money.Dollar
	})
	rules("anthropic", "claude-sonnet-4-5", func(p Price) bool {
		return p.CacheWrite1h == 6*money.Dollar && p.LongAbove == 200000 && p.Long.CacheWrite1h == 12*money.Dollar
	})
	rules("openai", "gpt-5", func(p Price) bool { return p.Flex.Input == 625_000_000 && p.Priority.Output == 20*money.Dollar })

	// Aliases are priced as their target; retired models stay, marked.
	for _, a := range [][2]string{{"deepseek", "deepseek-chat"}, {"anthropic", "claude-sonnet-4-5-20250929"}, {"mistral", "codestral-latest"},
		{"mistral", "mistral-large-latest"}, {"mistral", "mistral-medium-latest"}, {"mistral", "ministral-8b-latest"}} {
		m, ok := c.Lookup(a[0], a[1])
		if !ok || m.AliasOf == "" {
			t.Errorf("%s/%s: want an alias, got %+v", a[0], a[1], m)
			continue
		}
		if t2, _ := c.Lookup(a[0], m.AliasOf); t2 == nil || t2.Price != m.Price || t2.Context != m.Context {
			t.Errorf("%s/%s is not priced as its target %s", a[0], a[1], m.AliasOf)
		}
	}
	for _, id := range []string{"claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-opus-4-1", "claude-3-opus-latest"} {
		if m, ok := c.Lookup("anthropic", id); !ok || !m.Retired {
			t.Errorf("anthropic/%s: want retired, got %+v", id, m)
		}
	}

	m, _ := c.Lookup("gemini", "gemini-2.5-flash")
	if !slices.Equal(m.Modalities, []string{"text", "image", "audio", "video", "file"}) {
		t.Errorf("gemini-2.5-flash modalities %v", m.Modalities)
	}
}

func TestOfferingListsEveryProviderInCatalogOrder(t *testing.T) {
	c := embeddedCatalog(t)
	providers := func(id string) string {
		var out []string
		for _, m := range c.Offering(id) {
			out = append(out, m.Provider)
		}
		return strings.Join(out, " ")
	}
	if got, want := providers("gpt-4o"), "openai azure"; got != want {
		t.Errorf("Offering(gpt-4o) = %s; want %s", got, want)
	}
	if got := providers("openai/gpt-oss-120b"); !strings.HasPrefix(got, "groq together deepinfra") {
		t.Errorf("Offering(openai/gpt-oss-120b) = %s", got)
	}
	if got := c.Offering("no-such-model"); len(got) != 0 {
		t.Errorf("Offering(no-such-model) = %v", got)
	}
	if _, ok := c.Lookup("azure", "claude-sonnet-4-5"); ok {
		t.Error("Lookup found a model under the wrong provider")
	}
}

// TestDefaultConfigModelsArePriced checks that every model the embedded
// gateway config serves by bare name has a catalog price, and that each
// of its patterns matches some of the provider's catalog models.
func TestDefaultConfigModelsArePriced(t *testing.T) {
	c := embeddedCatalog(t)
	cfg, err := configs.Load(configs.Default, func(name string) string {
		if name == "SWITCHBOARD_API_KEY" {
			return "sk-sb-test"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cfg.Providers {
		for _, id := range p.Models {
			if configs.IsModelPattern(id) {
				pat, err := configs.ParseModelPattern(id)
				if err != nil || !slices.ContainsFunc(c.Provider(p.Name), func(m *Model) bool { return pat.Match(m.ID) }) {
					t.Errorf("config provider %s serves %q, which matches no catalog entry of it (%v)", p.Name, id, err)
				}
				continue
			}
			if _, ok := c.Lookup(p.Name, id); !ok {
				t.Errorf("config provider %s serves %q, which has no catalog entry", p.Name, id)
			}
		}
	}
}

func TestLoadCatalogReportsProblemsWithLines(t *testing.T) {
	f := func(doc string, want ...string) {
		t.Helper()
		_, err := LoadCatalog([]byte(doc))
		if err == nil {
			t.Fatalf("LoadCatalog(%q) succeeded; want errors %q", doc, want)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("LoadCatalog error\n%v\nlacks %q", err, w)
			}
		}
	}
	const ok = `{id: a, context: 100, max_output: 10, input: "1", output: "2"}`
	f(``, "it is empty")
	f(`[1, 2]`, "line 1: catalog: want a mapping")
	f(`models: []`, "line 1: models: unknown field", "providers: missing")
	f(`providers: [a]`, "line 1: providers: want a mapping")
	f("providers:\n  Open AI:\n    models: ["+ok+"]", "line 2: providers.Open AI: want a provider name")
	f("providers:\n  x:\n    modles: []", "line 3: providers.x.modles: unknown field", "line 3: providers.x.models: missing")
	f("providers:\n  x:\n    models: []", "line 3: providers.x.models: want a list of one or more models")
	f("providers:\n  x:\n    models:\n      - "+ok+"\n      - "+ok,
		"line 5: providers.x.models[1] (a): duplicate id, first at line 4")
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, max_output: 10, output: \"2\"}",
		"line 4: providers.x.models[0] (a).input: missing")
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: \"2\"}",
		"line 4: providers.x.models[0] (a).output: missing")
	f("providers:\n  x:\n    models:\n      - {context: 100, input: \"1\", output: \"2\"}",
		"line 4: providers.x.models[0].id: missing")
	f("providers:\n  x:\n    models:\n      - {id: a, context: 0, input: \"1\", output: \"2\"}",
		`line 4: providers.x.models[0] (a).context: want a positive number of tokens, got "0"`)
	f("providers:\n  x:\n    models:\n      - {id: a, context: -5, input: \"1\", output: \"2\"}",
		`providers.x.models[0] (a).context: want a positive number of tokens, got "-5"`)
	f("providers:\n  x:\n    models:\n      - {id: a, input: \"1\", output: \"2\"}",
		"providers.x.models[0] (a).context: missing")
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, max_output: 200, input: \"1\", output: \"2\"}",
		"providers.x.models[0] (a).max_output: 200 is more than the context window of 100")
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: \"-1\", output: \"2\"}",
		`line 4: providers.x.models[0] (a).input: cannot parse price "-1": want plain decimal dollars like 2.50, without sign or "$"`)
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: 1e-3, output: \"2\"}",
		`providers.x.models[0] (a).input: cannot parse money "1e-3": want decimal dollars like 12.5`)
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: \"1\", output: \"2\", cache_read: \"0.0000000001\"}",
		"providers.x.models[0] (a).cache_read: cannot parse money \"0.0000000001\": more than 9 decimals")
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: \"1\", output: \"2\", modalities: [text, smell]}",
		`line 4: providers.x.models[0] (a).modalities: unknown modality "smell"`)
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: \"1\", output: \"2\", modalities: [text, text]}",
		`providers.x.models[0] (a).modalities: duplicate modality "text"`)
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: \"1\", output: \"2\", modalities: text}",
		"providers.x.models[0] (a).modalities: want a list")
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: \"1\", output: \"2\", price: \"3\"}",
		"line 4: providers.x.models[0] (a).price: unknown field")
	f("providers:\n  x:\n    models:\n      - {id: \"a b\", context: 100, input: \"1\", output: \"2\"}",
		`providers.x.models[0] (a b).id: want a model id without spaces, got "a b"`)
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: [1], output: \"2\"}",
		"providers.x.models[0] (a).input: want a single value")
	f("providers:\n  x:\n    models:\n      - just-a-string",
		"line 4: providers.x.models[0]: want a mapping")
	f("providers:\n  x:\n    models: [{id: a}]\n  x:\n    models: []", "line 4: providers.x: defined twice, first at line 2")
	f("providers:\n  x:\n    models:\n      - {id: a, context: 100, input: \"1\", input: \"2\", output: \"2\"}",
		"line 4: providers.x.models[0] (a).input: defined twice, first at line 4")
	// Every problem is reported at once, not just the first.
	f("providers:\n  x:\n    models:\n      - {id: a, context: 0, input: \"1\", output: \"2\"}\n      - {id: b, context: 10, input: \"x\", output: \"2\"}",
		"line 4: providers.x.models[0] (a).context", "line 5: providers.x.models[1] (b).input")
}

func TestLoadCatalogPricingRulesAliasesAndRetired(t *testing.T) {
	cat, err := LoadCatalog([]byte(`providers:
  x:
    models:
      - {id: pro, context: 1000000, max_output: 65536, input: "1.25", output: "10", cache_read: "0.125", cache_write: "1.5", cache_write_1h: "2.5", reasoning: "12",
         long: {above: 200000, input: "2.50", output: "15", cache_read: "0.25"},
         flex: {input: "0.625", output: "5"}, priority: {input: "2.5", output: "20"}, batch: {input: "0.625", output: "5"},
         modalities: [text, image]}
      - {id: pro-latest, alias_of: pro}
      - {id: old, context: 100, input: "1", output: "2", retired: 2026-11-30}
      - {id: old-latest, alias_of: old, retired: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	pro, _ := cat.Lookup("x", "pro")
	want := Price{
		Rates:     Rates{Input: 1_250_000_000, Output: 10 * money.Dollar, CacheRead: 125_000_000, CacheWrite: 1_500_000_000, CacheWrite1h: 2_500_000_000, Reasoning: 12 * money.Dollar},
		LongAbove: 200_000,
		Long:      Rates{Input: 2_500_000_000, Output: 15 * money.Dollar, CacheRead: 250_000_000},
		Flex:      Rates{Input: 625_000_000, Output: 5 * money.Dollar},
		Priority:  Rates{Input: 2_500_000_000, Output: 20 * money.Dollar},
		Batch:     Rates{Input: 625_000_000, Output: 5 * money.Dollar},
	}
	if pro.Price != want || pro.Retired || pro.AliasOf != "" {
		t.Errorf("pro = %+v; want price %+v, current, no alias", pro, want)
	}
	alias, _ := cat.Lookup("x", "pro-latest")
	if alias.AliasOf != "pro" || alias.Price != pro.Price || alias.Context != pro.Context || alias.MaxOutput != pro.MaxOutput ||
		!slices.Equal(alias.Modalities, pro.Modalities) || alias.Retired {
		t.Errorf("alias pro-latest = %+v; want pro's limits and prices", alias)
	}
	for _, id := range []string{"old", "old-latest"} {
		if m, _ := cat.Lookup("x", id); !m.Retired {
			t.Errorf("%s is not retired", id)
		}
	}

	f := func(doc string, want string) {
		t.Helper()
		_, err := LoadCatalog([]byte("providers:\n  x:\n    models:\n      - {id: a, context: 1000, input: \"1\", output: \"2\"}\n" + doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("LoadCatalog error %v; want %q", err, want)
		}
	}
	f(`      - {id: b, alias_of: c}`, "line 5: providers.x.models (b).alias_of: cannot point at c: no such model of x")
	f("      - {id: b, alias_of: a}\n      - {id: c, alias_of: b}", "line 6: providers.x.models (c).alias_of: cannot point at b: it is an alias itself, of a")
	f(`      - {id: b, alias_of: a, input: "3"}`, "line 5: providers.x.models[1] (b).input: an alias (alias_of a) takes its target's limits and prices")
	f(`      - {id: b, context: 1000, input: "1", output: "2", retired: soon}`, `providers.x.models[1] (b).retired: want true or a date like 2026-11-30, got "soon"`)
	f(`      - {id: b, context: 1000, input: "1", output: "2", long: {input: "2", output: "4"}}`, "providers.x.models[1] (b).long.above: missing")
	f(`      - {id: b, context: 1000, input: "1", output: "2", flex: {input: "0.5"}}`, "providers.x.models[1] (b).flex: want input and output prices")
	f(`      - {id: b, context: 1000, input: "1", output: "2", flex: {input: "0.5", output: "1", above: 5}}`, "providers.x.models[1] (b).flex.above: unknown field")
	f(`      - {id: b, context: 1000, input: "1", output: "2", priority: "2"}`, "providers.x.models[1] (b).priority: want a mapping of prices")
}

func TestLoadCatalogDefaults(t *testing.T) {
	c, err := LoadCatalog([]byte(`
providers:
  x:
    models:
      - id: chat
        context: 1000
        max_output: 100
        input: 2.5
        output: "10"
      - id: embed
        context: 512
        input: "0.02"
        output: "0"
`))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := c.Lookup("x", "chat")
	if !ok {
		t.Fatal("chat not found")
	}
	// An unquoted YAML number is read from its source text, still exactly.
	if m.Price.Input != 2_500_000_000 || m.Price.Output != 10*money.Dollar || m.Price.CacheRead != 0 || m.Price.CacheWrite != 0 {
		t.Errorf("price %+v", m.Price)
	}
	if !slices.Equal(m.Modalities, []string{"text"}) {
		t.Errorf("modalities %v; want [text]", m.Modalities)
	}
	if e, _ := c.Lookup("x", "embed"); e.MaxOutput != 0 || e.Context != 512 {
		t.Errorf("embed %+v", e)
	}
	if c.Len() != 2 || !slices.Equal(c.Providers(), []string{"x"}) {
		t.Errorf("Len %d providers %v", c.Len(), c.Providers())
	}
}

func TestNilCatalogIsEmpty(t *testing.T) {
	var c *Catalog
	if _, ok := c.Lookup("openai", "gpt-4o"); ok || c.Len() != 0 || c.Offering("gpt-4o") != nil || c.Provider("openai") != nil {
		t.Fatal("nil catalog is not empty")
	}
	in := "1"
	if err := c.Override("x", "y", PriceOverride{Input: &in, Output: &in}); err == nil {
		t.Fatal("Override on a nil catalog succeeded")
	}
}

func TestOverride(t *testing.T) {
	c := embeddedCatalog(t)
	s := func(v string) *string { return &v }
	n := c.Len()

	// Replace a subset of the prices; the rest stays.
	if err := c.Override("openai", "gpt-4o", PriceOverride{Input: s("2.00"), CacheRead: s("0.50")}); err != nil {
		t.Fatal(err)
	}
	m, _ := c.Lookup("openai", "gpt-4o")
	if want := (Rates{Input: 2 * money.Dollar, Output: 10 * money.Dollar, CacheRead: 500_000_000}); m.Price.Rates != want {
		t.Errorf("after override: %+v; want %+v", m.Price, want)
	}
	if m.Context != 128000 {
		t.Errorf("override changed the context window to %d", m.Context)
	}

	// A bad price changes nothing, even when other fields are fine.
	err := c.Override("openai", "gpt-4o", PriceOverride{Input: s("9"), Output: s("-1")})
	if err == nil || !strings.Contains(err.Error(), `price override openai/gpt-4o: output: cannot parse price "-1": want plain decimal dollars like 2.50`) {
		t.Fatalf("bad override: %v", err)
	}
	if m.Price.Input != 2*money.Dollar {
		t.Errorf("failed override changed input to %s", m.Price.Input)
	}

	// A model the catalog lacks is added, given input and output prices.
	if err := c.Override("ollama", "llama3:8b", PriceOverride{Input: s("0"), Output: s("0")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Override("vllm", "my-model", PriceOverride{Input: s("0.10"), Output: s("0.20"), CacheWrite: s("0.125")}); err != nil {
		t.Fatal(err)
	}
	added, ok := c.Lookup("vllm", "my-model")
	if !ok || added.Price.Output != 200_000_000 || added.Price.CacheWrite != 125_000_000 || added.Context != 0 || !slices.Equal(added.Modalities, []string{"text"}) {
		t.Fatalf("added model %+v, %v", added, ok)
	}
	if c.Len() != n+2 || c.Providers()[len(c.Providers())-1] != "vllm" || len(c.Offering("my-model")) != 1 {
		t.Errorf("Len %d (want %d), providers %v", c.Len(), n+2, c.Providers())
	}

	for _, tc := range []struct {
		provider, id string
		o            PriceOverride
		want         string
	}{
		{"vllm", "other", PriceOverride{Input: s("1")}, "price override vllm/other: the model is not in the catalog, so it needs input and output prices"},
		{"Bad Name", "m", PriceOverride{Input: s("1"), Output: s("1")}, "want a provider name"},
		{"x", "", PriceOverride{Input: s("1"), Output: s("1")}, "want a model id without spaces"},
		{"openai", "gpt-4o", PriceOverride{CacheWrite: s("1e3")}, "cache_write: cannot parse money \"1e3\": want decimal dollars"},
		{"openai", "gpt-4o", PriceOverride{Input: s("$1")}, "input: cannot parse price \"$1\": want plain decimal dollars"},
	} {
		if err := c.Override(tc.provider, tc.id, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Override(%q, %q): %v; want %q", tc.provider, tc.id, err, tc.want)
		}
	}
	if c.Len() != n+2 {
		t.Errorf("failed overrides added models: Len %d", c.Len())
	}
}

func TestCatalogDoesNotAllocate(t *testing.T) {
	c := embeddedCatalog(t)
	var m *Model
	var cost Cost
	u := canon.Usage{Input: 1200, CacheRead: 50000, CacheWrite: 3000, Output: 900, Reasoning: 300}
	provider, id := "anthropic", "claude-sonnet-4-5"
	if n := testing.AllocsPerRun(100, func() {
		m, _ = c.Lookup(provider, id)
		cost = m.Price.Cost(u)
		_ = m.Price.Worst(54200, 64000)
		_ = c.Offering(id)
	}); n != 0 {
		t.Errorf("Lookup and Cost allocate %.0f times", n)
	}
	if cost.Total == 0 {
		t.Fatal("no cost")
	}
}
