package router

import (
	"errors"
	"fmt"
	"strings"
	"testing"

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
		[]configs.Route{{Model: "default", Targets: []string{"groq/llama-3.1-8b-instant", "azure/gpt-4o", "openai/gpt-4o-mini"}}})
	if err != nil {
		t.Fatal(err)
	}
	return r
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
