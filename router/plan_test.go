package router

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"switchboard/configs"
	"switchboard/upstream"
)

// planRouter serves model "m" from providers a, b and c, and "n" from b
// and c, with routes:
//
//	main:   a/m, b/m    fallbacks: [alt, gone]   (gone has no target)
//	alt:    b/m, c/n    (b/m is main's too)
//	small:  c/m         fallbacks: [main]
//	gone:   e/m         (e is disabled)
func planRouter(t testing.TB) *Router {
	t.Helper()
	var providers []*upstream.Provider
	for _, name := range []string{"a", "b", "c", "e"} {
		p, err := upstream.New(configs.Provider{Name: name, BaseURL: "http://127.0.0.1:1/v1", Disabled: name == "e"})
		if err != nil {
			t.Fatal(err)
		}
		providers = append(providers, p)
	}
	routes := []configs.Route{
		{Model: "main", Targets: targets("a/m", "b/m"), Fallbacks: []string{"alt", "gone"}},
		{Model: "alt", Targets: targets("b/m", "c/n")},
		{Model: "small", Targets: targets("c/m"), Fallbacks: []string{"main"}},
	}
	r, err := New(providers, nil, routes, Options{Catalog: newCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// describePlan writes a plan as "target@model ... | starts".
func describePlan(p *Plan) string {
	var b strings.Builder
	for i, t := range p.Targets {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s/%s@%s", t.Provider.Name, t.Model, p.Models[i])
	}
	fmt.Fprintf(&b, " | %v", p.Starts)
	return b.String()
}

func TestPlan(t *testing.T) {
	r := planRouter(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	f := func(model string, fallbacks []string, prefs *ProviderPrefs, want string, skipped int) {
		t.Helper()
		var p Plan
		if err := r.Plan(&p, model, fallbacks, prefs, t0, rnd); err != nil {
			t.Fatalf("Plan(%q, %q): %v", model, fallbacks, err)
		}
		if got := describePlan(&p); got != want {
			t.Errorf("Plan(%q, %q)\n got %s\nwant %s", model, fallbacks, got, want)
		}
		if len(p.Skipped) != skipped {
			t.Errorf("Plan(%q, %q) skipped %v, want %d", model, fallbacks, p.Skipped, skipped)
		}
		if p.Route.Model != model {
			t.Errorf("Plan(%q).Route.Model = %q", model, p.Route.Model)
		}
	}
	// The route's targets, then its configured fallbacks' that are new;
	// a fallback with no enabled provider is skipped and recorded.
	f("main", nil, nil, "a/m@main b/m@main c/n@alt | [0 2]", 1)
	// The request's own fallbacks come before the configured ones; the
	// model itself among them is skipped (OpenRouter lists it too).
	f("main", []string{"main", "small"}, nil, "a/m@main b/m@main c/m@small c/n@alt | [0 2 3]", 1)
	// A fallback whose targets are all in the plan already adds no route.
	f("small", nil, nil, "c/m@small a/m@main b/m@main | [0 1]", 0)
	f("small", []string{"alt"}, nil, "c/m@small b/m@alt c/n@alt a/m@main | [0 1 3]", 0)
	// Provider preferences apply to every route; a fallback they leave
	// nothing is skipped.
	f("main", []string{"small"}, &ProviderPrefs{Only: []string{"a", "b"}}, "a/m@main b/m@main | [0]", 1)
	f("main", nil, &ProviderPrefs{Order: []string{"b"}}, "b/m@main a/m@main c/n@alt | [0 2]", 1)
	// A "provider/model" string is a route of its own.
	f("b/m", []string{"c/m"}, nil, "b/m@b/m c/m@c/m | [0 1]", 0)
}

func TestPlanErrors(t *testing.T) {
	r := planRouter(t)
	var p Plan
	if err := r.Plan(&p, "nope", nil, nil, t0, nil); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("unknown model: %v", err)
	}
	err := r.Plan(&p, "main", []string{"alt", "nope"}, nil, t0, nil)
	var fe *FallbackError
	if !errors.As(err, &fe) || fe.Model != "nope" || !errors.Is(err, ErrUnknownModel) {
		t.Errorf("unknown fallback model: %v", err)
	}
	if err := r.Plan(&p, "main", nil, &ProviderPrefs{Only: []string{"c"}}, t0, nil); !errors.Is(err, ErrBadPrefs) {
		t.Errorf("preferences that leave the model nothing: %v", err)
	}
}

// TestPlanKeep: keeping some targets keeps Models and Starts in step; a
// route left with none has no start.
func TestPlanKeep(t *testing.T) {
	r := planRouter(t)
	f := func(drop string, want string) {
		t.Helper()
		var p Plan
		if err := r.Plan(&p, "main", []string{"small"}, nil, t0, nil); err != nil {
			t.Fatal(err)
		}
		n := p.Keep(func(t *Target, model string) bool {
			return !strings.Contains(drop, t.Provider.Name+"/"+t.Model+"@"+model)
		})
		if got := describePlan(&p); got != want || n != len(p.Targets) {
			t.Errorf("Keep without %s: %d left\n got %s\nwant %s", drop, n, got, want)
		}
	}
	f("", "a/m@main b/m@main c/m@small c/n@alt | [0 2 3]")
	f("a/m@main", "b/m@main c/m@small c/n@alt | [0 1 2]")
	f("a/m@main b/m@main", "c/m@small c/n@alt | [0 1]")
	f("c/m@small", "a/m@main b/m@main c/n@alt | [0 2]")
	f("a/m@main b/m@main c/m@small c/n@alt", " | []")
}

func TestPlanNextRoute(t *testing.T) {
	r := planRouter(t)
	var p Plan
	if err := r.Plan(&p, "main", []string{"small"}, nil, t0, nil); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{2, 2, 3, 4} { // starts [0 2 3], 4 targets
		if got := p.NextRoute(i); got != want {
			t.Errorf("NextRoute(%d) = %d, want %d", i, got, want)
		}
	}
}

// TestPlanIsReused: a second plan in the same Plan starts afresh.
func TestPlanIsReused(t *testing.T) {
	r := planRouter(t)
	var p Plan
	for _, model := range []string{"main", "small", "main"} {
		if err := r.Plan(&p, model, nil, nil, t0, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := describePlan(&p), "a/m@main b/m@main c/n@alt | [0 2]"; got != want {
		t.Errorf("third plan: %s, want %s", got, want)
	}
}

// TestPlanAllocation: once its slices have grown, a plan allocates
// nothing (a configured fallback that does not resolve costs its error,
// which only a broken config pays).
func TestPlanAllocation(t *testing.T) {
	r := planRouter(t)
	var p Plan
	prefs := &ProviderPrefs{Order: []string{"b"}}
	fallbacks := []string{"alt"}
	if err := r.Plan(&p, "small", fallbacks, prefs, t0, nil); err != nil { // grow the slices
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		if err := r.Plan(&p, "small", fallbacks, prefs, t0, nil); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Plan allocates %.0f times once its slices have grown", n)
	}
}
