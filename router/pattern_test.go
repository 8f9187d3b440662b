package router

import (
	"errors"
	"strings"
	"testing"

	"switchboard/configs"
	"switchboard/upstream"
)

// patternRouter has providers that serve model families by pattern, a
// provider that lists one of those ids by name, a later provider whose
// pattern overlaps an earlier one's, and a disabled one.
func patternRouter(t testing.TB) *Router {
	t.Helper()
	cat, err := LoadCatalog([]byte(`
providers:
  anthropic:
    models:
      - {id: claude-sonnet-4-5, context: 200000, max_output: 64000, input: "3", output: "15"}
      - {id: claude-special,    context: 200000, max_output: 64000, input: "3", output: "15"}
      - {id: claude-3-opus,     context: 200000, max_output: 4096,  input: "15", output: "75", retired: 2026-01-05}
  mirror:
    models:
      - {id: claude-sonnet-4-5, context: 100000, max_output: 32000, input: "4", output: "20"}
      - {id: claude-mirror-only, context: 100000, max_output: 32000, input: "4", output: "20"}
  openai:
    models:
      - {id: gpt-5.1-codex, context: 400000, max_output: 128000, input: "1.25", output: "10"}
`))
	if err != nil {
		t.Fatal(err)
	}
	var providers []*upstream.Provider
	for _, c := range []configs.Provider{
		{Name: "anthropic", BaseURL: "http://127.0.0.1:1/v1", Models: []string{"claude-*"}},
		{Name: "openai", BaseURL: "http://127.0.0.1:1/v1", Models: []string{"claude-special", "gpt-*-codex", "o3*"}},
		{Name: "mirror", BaseURL: "http://127.0.0.1:1/v1", Models: []string{"claude-*"}},
		{Name: "gemini", Models: []string{"gemini-*"}, Disabled: true, DisabledBy: []string{"GEMINI_API_KEY"}},
	} {
		p, err := upstream.New(c)
		if err != nil {
			t.Fatal(err)
		}
		providers = append(providers, p)
	}
	routes := []configs.Route{{Model: "sonnet", Targets: targets("anthropic/claude-sonnet-4-5", "mirror/claude-sonnet-4-5")}}
	r, err := New(providers, nil, routes, Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolveByPattern(t *testing.T) {
	r := patternRouter(t)
	f := func(in, want string, entry bool) {
		t.Helper()
		var rt Route
		if err := r.Resolve(in, &rt); err != nil {
			t.Fatalf("Resolve(%q): %v", in, err)
		}
		if got := describe(&rt); got != want {
			t.Fatalf("Resolve(%q)\n got %s\nwant %s", in, got, want)
		}
		if got := rt.Targets[0].Entry != nil; got != entry {
			t.Fatalf("Resolve(%q): has a catalog entry %v, want %v", in, got, entry)
		}
	}
	// A model the catalog does not know yet is served by the pattern.
	f("claude-opus-4-7", "anthropic/claude-opus-4-7 model=claude-opus-4-7 suffixes=0000", false)
	f("claude-opus-4-7:floor", "anthropic/claude-opus-4-7 model=claude-opus-4-7 suffixes=0100", false)
	f("claude-sonnet-4-5", "anthropic/claude-sonnet-4-5 model=claude-sonnet-4-5 suffixes=0000", true)
	// A retired model is still routed and priced (Models leaves it out).
	f("claude-3-opus", "anthropic/claude-3-opus model=claude-3-opus suffixes=0000", true)
	// An id listed by name wins over an earlier provider's pattern.
	f("claude-special", "openai/claude-special model=claude-special suffixes=0000", false)
	// Between patterns config order decides, even for a model only a
	// later provider's catalog lists; provider/model picks the other.
	f("claude-mirror-only", "anthropic/claude-mirror-only model=claude-mirror-only suffixes=0000", false)
	f("mirror/claude-mirror-only", "mirror/claude-mirror-only model=mirror/claude-mirror-only suffixes=0000", true)
	f("gpt-5.1-codex", "openai/gpt-5.1-codex model=gpt-5.1-codex suffixes=0000", true)
	f("o3-pro", "openai/o3-pro model=o3-pro suffixes=0000", false)

	var rt Route
	for in, msg := range map[string]string{
		"gpt-5":          `"gpt-5"; `,
		"gemini-3-pro":   `"gemini-3-pro" is served by provider "gemini", which is not enabled; set GEMINI_API_KEY`,
		"xclaude-opus-4": `"xclaude-opus-4"; `,
	} {
		if err := r.Resolve(in, &rt); !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), msg) {
			t.Errorf("Resolve(%q) = %v, want ErrUnknownModel containing %q", in, err, msg)
		}
	}
}

// TestPatternTargetsShareHealth: a catalog model served by a pattern has
// the Health of provider/model, as when it is listed by name.
func TestPatternTargetsShareHealth(t *testing.T) {
	r := patternRouter(t)
	var bare, explicit Route
	if err := r.Resolve("claude-sonnet-4-5", &bare); err != nil {
		t.Fatal(err)
	}
	if err := r.Resolve("anthropic/claude-sonnet-4-5", &explicit); err != nil {
		t.Fatal(err)
	}
	if h := bare.Targets[0].Health; h == nil || h != explicit.Targets[0].Health {
		t.Fatalf("Health by pattern %p, by provider/model %p; want the same", h, explicit.Targets[0].Health)
	}
}

// TestModelsShowsWhoServesPatterns: /v1/models lists the catalog models
// each pattern serves, the id a provider lists by name under that
// provider, and an id two patterns match under the first provider by bare
// id and the later one as provider/id. Limits are the route's smallest.
func TestModelsShowsWhoServesPatterns(t *testing.T) {
	var got []string
	limits := map[string][2]int{}
	for _, m := range patternRouter(t).Models() {
		got = append(got, m.ID+"@"+m.OwnedBy)
		limits[m.ID] = [2]int{m.Context, m.MaxOutput}
	}
	// The retired claude-3-opus is served but not listed.
	want := "claude-sonnet-4-5@anthropic anthropic/claude-special@anthropic " +
		"claude-special@openai gpt-5.1-codex@openai " +
		"mirror/claude-sonnet-4-5@mirror mirror/claude-mirror-only@mirror sonnet@anthropic"
	if strings.Join(got, " ") != want {
		t.Fatalf("models\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	for id, w := range map[string][2]int{
		"claude-sonnet-4-5":        {200000, 64000},
		"mirror/claude-sonnet-4-5": {100000, 32000},
		"sonnet":                   {100000, 32000}, // the smaller target's
	} {
		if limits[id] != w {
			t.Errorf("%s: context, max output %v, want %v", id, limits[id], w)
		}
	}
}

func TestResolveByPatternDoesNotAllocate(t *testing.T) {
	r := patternRouter(t)
	var rt Route
	for _, in := range []string{"claude-opus-4-7", "claude-sonnet-4-5", "o3-pro:floor", "gpt-5.1-codex"} {
		if n := testing.AllocsPerRun(100, func() { _ = r.Resolve(in, &rt) }); n != 0 {
			t.Errorf("Resolve(%q) allocates %.0f times", in, n)
		}
	}
}

// TestPresetsServeTheirFamilies: with only a provider's key set, the
// default config serves the coding CLIs' default models by bare name,
// including ids newer than the catalog and retired ones, and lists each
// preset's current catalog models in /v1/models.
func TestPresetsServeTheirFamilies(t *testing.T) {
	keys := map[string]string{"SWITCHBOARD_API_KEY": "sk-sb-test", "ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o", "GEMINI_API_KEY": "g"}
	cfg, err := configs.Load(configs.Default, func(k string) string { return keys[k] })
	if err != nil {
		t.Fatal(err)
	}
	cat, err := LoadCatalog(configs.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	var providers []*upstream.Provider
	for _, c := range cfg.Providers {
		p, err := upstream.New(c)
		if err != nil {
			t.Fatal(err)
		}
		providers = append(providers, p)
	}
	r, err := New(providers, cfg.Aliases, cfg.Routes, Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for model, provider := range map[string]string{
		"claude-opus-4-7":            "anthropic", // newer than the catalog
		"claude-haiku-4-5-20251001":  "anthropic",
		"claude-sonnet-4-5":          "anthropic",
		"gpt-5.5-codex":              "openai",
		"gpt-5.1":                    "openai",
		"o3-pro":                     "openai",
		"o4-mini-deep-research":      "openai",
		"codex-mini-latest":          "openai",
		"text-embedding-3-small":     "openai",
		"gemini-3-pro-preview":       "gemini",
		"gemini-2.5-flash-lite":      "gemini",
		"meta-llama/Llama-3.3-70B-x": "", // together's, whose key is unset
	} {
		var rt Route
		err := r.Resolve(model, &rt)
		if provider == "" {
			if err == nil {
				t.Errorf("Resolve(%q) = %s, want an error", model, describe(&rt))
			}
			continue
		}
		if err != nil || rt.Targets[0].Provider.Name != provider {
			t.Errorf("Resolve(%q) = %s, %v; want provider %s", model, describe(&rt), err, provider)
		}
	}
	listed := map[string]string{}
	for _, m := range r.Models() {
		listed[m.ID] = m.OwnedBy
	}
	for _, e := range append(append(cat.Provider("anthropic"), cat.Provider("gemini")...), cat.Provider("openai")...) {
		var rt Route
		if err := r.Resolve(e.ID, &rt); err != nil || rt.Targets[0].Provider.Name != e.Provider {
			continue // not in the preset's families (computer-use, dall-e-3)
		}
		want := e.Provider
		if e.Retired {
			want = "" // served by name but not offered
		}
		if listed[e.ID] != want {
			t.Errorf("/v1/models lists %s as served by %q, want %q", e.ID, listed[e.ID], want)
		}
	}
}
