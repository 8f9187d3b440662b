package router

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"switchboard/configs"
	"switchboard/upstream"
)

func testRouter(t testing.TB) *Router {
	t.Helper()
	mk := func(name string, disabled, colon bool, models ...string) *upstream.Provider {
		p, err := upstream.New(configs.Provider{Name: name, BaseURL: "http://127.0.0.1:1/v1", Disabled: disabled, ColonModelIDs: colon, Models: models})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	providers := []*upstream.Provider{
		mk("openai", false, false, "gpt-4o", "gpt-4o-mini"),
		mk("azure", false, false, "gpt-4o"),
		mk("groq", true, false, "llama-3.1-8b-instant"),
		mk("ollama", false, true),
	}
	r, err := New(providers,
		map[string]string{"smart": "openai/gpt-4o", "fast": "groq/llama-3.1-8b-instant"},
		[]configs.Route{{Model: "default", Targets: targets("groq/llama-3.1-8b-instant", "azure/gpt-4o", "openai/gpt-4o-mini")}},
		Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func targets(names ...string) []configs.RouteTarget {
	ts := make([]configs.RouteTarget, len(names))
	for i, n := range names {
		ts[i] = configs.RouteTarget{Target: n}
	}
	return ts
}

func describe(rt *Route) string {
	var b strings.Builder
	for i, t := range rt.Targets {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s/%s", t.Provider.Name, t.Model)
	}
	fmt.Fprintf(&b, " model=%s suffixes=%04b", rt.Model, rt.Suffixes)
	return b.String()
}

func TestResolve(t *testing.T) {
	r := testRouter(t)
	f := func(in, want string) {
		t.Helper()
		var rt Route
		if err := r.Resolve(in, &rt); err != nil {
			t.Fatalf("Resolve(%q): %v", in, err)
		}
		if got := describe(&rt); got != want {
			t.Fatalf("Resolve(%q)\n got %s\nwant %s", in, got, want)
		}
	}
	f("gpt-4o", "openai/gpt-4o model=gpt-4o suffixes=0000")
	f("azure/gpt-4o", "azure/gpt-4o model=azure/gpt-4o suffixes=0000")
	f("openai/o3", "openai/o3 model=openai/o3 suffixes=0000")
	f("smart", "openai/gpt-4o model=smart suffixes=0000")
	f("default", "azure/gpt-4o,openai/gpt-4o-mini model=default suffixes=0000")
	f("gpt-4o:floor", "openai/gpt-4o model=gpt-4o suffixes=0100")
	f("gpt-4o:web:nitro", "openai/gpt-4o model=gpt-4o suffixes=1001")
	f("openai/gpt-4o:online", "openai/gpt-4o model=openai/gpt-4o suffixes=0010")
	f("ollama/llama3:8b", "ollama/llama3:8b model=ollama/llama3:8b suffixes=0000")
	f("ollama/llama3:8b:web", "ollama/llama3:8b model=ollama/llama3:8b suffixes=0001")
	f("ollama/qwen:7b:latest:floor", "ollama/qwen:7b:latest model=ollama/qwen:7b:latest suffixes=0100")
}

func TestResolveErrors(t *testing.T) {
	r := testRouter(t)
	f := func(in string, want error, msg string) {
		t.Helper()
		var rt Route
		err := r.Resolve(in, &rt)
		if !errors.Is(err, want) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("Resolve(%q) = %v, want %v containing %q", in, err, want, msg)
		}
	}
	f("", ErrBadModel, "empty")
	f("nope", ErrUnknownModel, "/v1/models")
	f("gpt-4o:bogus", ErrBadModel, `unknown suffix ":bogus"`)
	f("gpt-4o:web:8b", ErrBadModel, `":8b"`)
	f("ollama/llama3:web:8b", ErrBadModel, `":8b"`)
	f("gpt-4o:", ErrBadModel, `unknown suffix ":"`)
	f("fast", ErrUnknownModel, "no enabled provider")
	f("groq/llama-3.1-8b-instant", ErrUnknownModel, `provider "groq" is not enabled`)
	f("openai/", ErrBadModel, "names no model")
	f("meta-llama/Llama-3", ErrUnknownModel, "meta-llama/Llama-3")
}

func TestResolveFillsPolicy(t *testing.T) {
	r := testRouter(t)
	var rt Route
	for _, in := range []string{"gpt-4o", "smart", "openai/o3", "default"} {
		if err := r.Resolve(in, &rt); err != nil {
			t.Fatal(err)
		}
		p := rt.Policy
		if p == nil || p.Strategy != StrategyPriority || p.Attempts != 3 || p.Budget != 60*time.Second || !p.RetryOn(503) || p.RetryOn(400) {
			t.Fatalf("Resolve(%q).Policy = %+v, want the default policy", in, p)
		}
	}
}

func TestResolveSecondRouteKeepsFirst(t *testing.T) {
	r := testRouter(t)
	var first, second Route
	if err := r.Resolve("azure/gpt-4o", &first); err != nil {
		t.Fatal(err)
	}
	if err := r.Resolve("openai/o3:floor", &second); err != nil {
		t.Fatal(err)
	}
	if got := describe(&first); got != "azure/gpt-4o model=azure/gpt-4o suffixes=0000" {
		t.Fatalf("first route clobbered: %s", got)
	}
	if got := describe(&second); got != "openai/o3 model=openai/o3 suffixes=0100" {
		t.Fatalf("second route: %s", got)
	}
}

func TestTargetsShareHealth(t *testing.T) {
	r := testRouter(t)
	var viaRoute, bare, explicit, unknown Route
	for in, rt := range map[string]*Route{"default": &viaRoute, "gpt-4o": &bare, "azure/gpt-4o": &explicit, "openai/o3": &unknown} {
		if err := r.Resolve(in, rt); err != nil {
			t.Fatal(err)
		}
	}
	h := viaRoute.Targets[0].Health // azure/gpt-4o
	if h == nil || explicit.Targets[0].Health != h {
		t.Fatalf("azure/gpt-4o via route and explicitly: Health %p and %p, want the same", h, explicit.Targets[0].Health)
	}
	if bare.Targets[0].Health == nil || bare.Targets[0].Health == h {
		t.Fatalf("openai/gpt-4o has Health %p, want its own", bare.Targets[0].Health)
	}
	if unknown.Targets[0].Health != nil || unknown.Targets[0].Weight != 1 {
		t.Fatalf("openai/o3 (neither configured nor in the catalog) = %+v, want no Health and weight 1", unknown.Targets[0])
	}
	if n := len(r.Tracked()); n != 3 {
		t.Fatalf("Tracked() has %d targets, want 3 (openai/gpt-4o, openai/gpt-4o-mini, azure/gpt-4o)", n)
	}
}

func TestNewRejectsBadRoutes(t *testing.T) {
	p, err := upstream.New(configs.Provider{Name: "a", BaseURL: "http://127.0.0.1:1/v1"})
	if err != nil {
		t.Fatal(err)
	}
	f := func(rt configs.Route, want string) {
		t.Helper()
		_, err := New([]*upstream.Provider{p}, nil, []configs.Route{rt}, Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("New(%+v) = %v, want error containing %q", rt, err, want)
		}
	}
	f(configs.Route{Model: "m", Targets: targets("b/x")}, `unknown provider "b"`)
	f(configs.Route{Model: "m", Strategy: "fastest", Targets: targets("a/x")}, `unknown strategy "fastest"`)
	f(configs.Route{Model: "m", Targets: []configs.RouteTarget{{Target: "a/x", Weight: -1}}}, "weight -1")
	f(configs.Route{Model: "m", Targets: targets("a/x"), Retry: configs.Retry{OnStatus: []int{200}}}, "retry status 200")
}

func TestModelsListsEnabledOnly(t *testing.T) {
	var got []string
	for _, m := range testRouter(t).Models() {
		got = append(got, m.ID+"@"+m.OwnedBy)
	}
	want := "gpt-4o@openai gpt-4o-mini@openai azure/gpt-4o@azure smart@openai default@azure"
	if strings.Join(got, " ") != want {
		t.Fatalf("models\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestResolveDoesNotAllocate(t *testing.T) {
	r := testRouter(t)
	var rt Route
	for _, in := range []string{"gpt-4o", "openai/o3:floor", "default"} {
		if n := testing.AllocsPerRun(100, func() { _ = r.Resolve(in, &rt) }); n != 0 {
			t.Errorf("Resolve(%q) allocates %.0f times", in, n)
		}
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"gpt-4o", "openai/gpt-4o:web", "ollama/x:1:floor", ":", "a/:b", "::", "/"} {
		f.Add(s)
	}
	r := testRouter(f)
	f.Fuzz(func(t *testing.T, s string) {
		var rt Route
		err := r.Resolve(s, &rt)
		if err != nil {
			if !errors.Is(err, ErrBadModel) && !errors.Is(err, ErrUnknownModel) {
				t.Fatalf("Resolve(%q): untyped error %v", s, err)
			}
			return
		}
		if len(rt.Targets) == 0 || !strings.HasPrefix(s, rt.Model) {
			t.Fatalf("Resolve(%q) = %+v", s, rt)
		}
	})
}

// TestUnknownModelSaysWhatToDo: an unknown model names the nearest
// callable ones; a model or provider that is only disabled names the
// environment variables that enable it.
func TestUnknownModelSaysWhatToDo(t *testing.T) {
	var providers []*upstream.Provider
	for _, c := range []configs.Provider{
		{Name: "live", BaseURL: "http://127.0.0.1:1/v1", Models: []string{"gpt-4o-mini", "gpt-4o", "gpt-4.1", "claude-x"}},
		{Name: "openai", BaseURL: "https://api.openai.com/v1", Models: []string{"o3-mini"}, Disabled: true, DisabledBy: []string{"OPENAI_API_KEY"}},
		{Name: "local", Models: []string{"llama"}, Disabled: true},
	} {
		p, err := upstream.New(c)
		if err != nil {
			t.Fatal(err)
		}
		providers = append(providers, p)
	}
	routes := []configs.Route{{Model: "smart", Targets: targets("openai/o3", "local/llama")}}
	r, err := New(providers, nil, routes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := func(in, msg string) {
		t.Helper()
		var rt Route
		err := r.Resolve(in, &rt)
		if !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("Resolve(%q) = %v, want ErrUnknownModel containing %q", in, err, msg)
		}
	}
	f("gpt-4o-mni", `did you mean "gpt-4o-mini"?`)
	f("gpt-4", `did you mean "gpt-4o" or "gpt-4.1"?`)
	f("GPT-4o", `did you mean "gpt-4o"`)
	f("o3-mini", `"o3-mini" is served by provider "openai", which is not enabled; set OPENAI_API_KEY in the gateway's environment`)
	f("openai/o3", `provider "openai" is not enabled; set OPENAI_API_KEY`)
	f("local/llama", `give provider "local" a base_url and api_key in the config`)
	f("smart", `"smart" has no enabled provider; set OPENAI_API_KEY in the gateway's environment`)
	var rt Route
	if err := r.Resolve("entirely-different-name", &rt); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("a name near nothing: %v", err)
	}
}
