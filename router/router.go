// Package router turns the model string a client sends into a Route: the
// provider targets that can serve it and the suffixes that ask for special
// handling.
//
// Model strings take these forms, tried in this order:
//
//	smart              an alias or route from the config
//	gpt-4o             a model id some enabled provider lists (first wins)
//	openai/gpt-4o      an explicit provider and its own model id
//	claude-opus-4-7    an id matching an enabled provider's models pattern
//	                   ("claude-*"; first in config order wins)
//	gpt-4o:floor:web   any of the above with suffixes
package router

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"switchboard/configs"
	"switchboard/upstream"
)

// Sentinel errors of Resolve, checked with errors.Is.
var (
	// ErrUnknownModel means no route, alias, catalog entry or provider
	// serves the model (404).
	ErrUnknownModel = errors.New("unknown model")
	// ErrBadModel means the model string is malformed or has an unknown
	// suffix (400).
	ErrBadModel = errors.New("bad model")
)

// Suffixes is a set of model-string suffixes such as ":web".
type Suffixes uint8

// The known suffixes. Later routing and cost-saving stages give them meaning.
const (
	SuffixWeb    Suffixes = 1 << iota // ":web": search the web first
	SuffixOnline                      // ":online": OpenRouter's name for :web
	SuffixFloor                       // ":floor": cheapest target first
	SuffixNitro                       // ":nitro": fastest target first
)

var suffixNames = []struct {
	name string
	bit  Suffixes
}{{"web", SuffixWeb}, {"online", SuffixOnline}, {"floor", SuffixFloor}, {"nitro", SuffixNitro}}

// Has reports whether s contains all of bits.
func (s Suffixes) Has(bits Suffixes) bool { return s&bits == bits }

// Target is one provider and the model id it is sent.
type Target struct {
	// Provider serves the call.
	Provider *upstream.Provider
	// Model is the provider's own model id, spliced into the request body.
	Model string
	// Weight is the target's share under the weighted and default
	// strategies; 1 unless a route sets it.
	Weight uint32
	// Entry is the target's catalog entry (prices, context window); nil
	// when the catalog has none.
	Entry *Model
	// Health is the target's circuit breaker and latency averages, shared
	// by every route with this provider and model. Nil for a provider/model
	// that neither the config nor the catalog names; its methods accept a
	// nil receiver.
	Health *Health
}

// Route is a resolved model string.
type Route struct {
	// Model is the requested model without suffixes.
	Model string
	// Targets are the enabled providers that can serve it, in config
	// order; Router.Order gives the order for one request. The slice may
	// be shared with other requests: do not modify it.
	Targets []Target
	// Suffixes are the suffixes given.
	Suffixes Suffixes
	// Policy is the route's strategy, fallbacks and retry bounds; never
	// nil after Resolve. Shared and read-only.
	Policy *Policy

	one [1]Target // backing store for a single target, to avoid allocation
}

// Router resolves model strings and orders their targets. It is immutable
// after New and safe for concurrent use; the Health of its targets changes.
type Router struct {
	providers   map[string]*upstream.Provider
	names       []string                      // provider names in config order
	named       map[string]*namedRoute        // aliases and routes
	bare        map[string]Target             // model ids listed by enabled providers
	offBare     map[string]*upstream.Provider // model ids listed only by disabled providers
	patterns    []providerPattern             // of enabled providers, in config order
	offPatterns []providerPattern             // of disabled providers, in config order
	targets     map[modelKey]Target           // every tracked provider/model, with its Health
	tracked     []Target                      // the same, in the order they were added
	models      []ModelInfo
	list        []*upstream.Provider            // every provider, in config order
	timed       map[timedKey]*upstream.Provider // routes' own pools (configs.Route.Timeouts)
	breaker     *BreakerConfig                  // its own allocation: a reused Health must not pin an old Router
	prev        *Router                         // during New only: Options.Previous
	explore     uint64                          // one in explore latency/throughput orders explores; 0 = never
	policy      Policy                          // of aliases and models called without a route
}

// providerPattern is a models pattern and the provider it serves on.
type providerPattern struct {
	pat configs.ModelPattern
	p   *upstream.Provider
}

type namedRoute struct {
	targets  []Target
	policy   *Policy
	disabled []*upstream.Provider // of targets left out, to say how to enable them
}

// Options are the optional parts of a Router.
type Options struct {
	// Catalog prices the targets for the price and default strategies and
	// for provider.max_price; nil leaves every target unpriced.
	Catalog *Catalog
	// Breaker tunes every target's circuit breaker.
	Breaker BreakerConfig
	// Explore is one in how many latency- or throughput-ordered requests
	// puts a random target first, so that the averages of targets that
	// lost the race stay fresh. Default 50; negative never explores.
	Explore int
	// Previous is the Router this one replaces (a config reload), or nil.
	// A target of a provider that Previous has too, as the same
	// *upstream.Provider, keeps its Health (breaker state and averages),
	// and a route's own timeouts keep their connection pool, when the
	// breaker config did not change. The new Router holds no reference
	// to Previous once New returns.
	Previous *Router
}

// timedKey names a route's own pool: its provider and the timeouts that
// differ from the provider's.
type timedKey struct {
	provider string
	timeouts configs.Timeouts
}

// ModelInfo is one entry of the model list.
type ModelInfo struct {
	// ID is the model string a client sends.
	ID string
	// OwnedBy is the provider that serves it: a route's first target's.
	OwnedBy string
	// Context is the route's effective context window in tokens: the
	// smallest among its targets whose catalog entry states one; 0 when
	// none does.
	Context int
	// MaxOutput is the route's effective output cap, the smallest among
	// its targets in the same way; 0 when unknown.
	MaxOutput int
	// Entry is the first target's catalog entry (prices, modalities); nil
	// when the catalog has none.
	Entry *Model
	// Format is the wire format of the first target's provider.
	Format upstream.Format
}

// modelInfo describes the model id served by targets, in order.
func modelInfo(id string, targets []Target) ModelInfo {
	first := targets[0]
	mi := ModelInfo{ID: id, OwnedBy: first.Provider.Name, Entry: first.Entry, Format: first.Provider.Format}
	for _, t := range targets {
		if t.Entry == nil {
			continue
		}
		if c := t.Entry.Context; c > 0 && (mi.Context == 0 || c < mi.Context) {
			mi.Context = c
		}
		if c := t.Entry.MaxOutput; c > 0 && (mi.MaxOutput == 0 || c < mi.MaxOutput) {
			mi.MaxOutput = c
		}
	}
	return mi
}

// New builds a Router over the given providers (in config order), aliases
// and routes. Targets of disabled providers are left out of routes. Every
// provider/model named by the config or by o.Catalog for a configured
// provider gets a Health.
func New(providers []*upstream.Provider, aliases map[string]string, routes []configs.Route, o Options) (*Router, error) {
	r := &Router{
		providers: make(map[string]*upstream.Provider, len(providers)),
		named:     map[string]*namedRoute{},
		bare:      map[string]Target{},
		offBare:   map[string]*upstream.Provider{},
		targets:   map[modelKey]Target{},
		timed:     map[timedKey]*upstream.Provider{},
		list:      slices.Clip(providers),
		prev:      o.Previous,
	}
	defer func() { r.prev = nil }()
	bc := o.Breaker.withDefaults()
	if r.prev != nil && *r.prev.breaker == bc {
		r.breaker = r.prev.breaker
	} else {
		r.breaker = &bc
		r.prev = nil // Healths follow their breaker config
	}
	switch {
	case o.Explore == 0:
		r.explore = 50
	case o.Explore > 0:
		r.explore = uint64(o.Explore)
	}
	if err := r.policy.set(configs.Route{}); err != nil {
		panic("BUG: default route policy: " + err.Error())
	}
	for _, p := range providers {
		r.providers[p.Name] = p
		r.names = append(r.names, p.Name)
	}
	// Ids listed by name win over patterns: every provider's first, then
	// each enabled provider's patterns in config order, which take the
	// catalog ids they match that no one has taken yet.
	for _, p := range providers {
		for _, m := range p.Models {
			switch {
			case configs.IsModelPattern(m):
			case p.Disabled:
				if _, taken := r.offBare[m]; !taken {
					r.offBare[m] = p
				}
			default:
				if _, taken := r.bare[m]; !taken {
					r.bare[m] = r.target(p, m, o.Catalog)
				}
			}
		}
	}
	for _, p := range providers {
		listed := map[string]bool{}
		list := func(m string) {
			if listed[m] {
				return
			}
			listed[m] = true
			t := r.bare[m]
			if t.Provider != p {
				t = r.target(p, m, o.Catalog)
				m = p.Name + "/" + m
			}
			r.models = append(r.models, modelInfo(m, []Target{t}))
		}
		for _, m := range p.Models {
			if !configs.IsModelPattern(m) {
				if !p.Disabled {
					list(m)
				}
				continue
			}
			pat, err := configs.ParseModelPattern(m)
			if err != nil {
				return nil, fmt.Errorf("provider %q: models: %w", p.Name, err)
			}
			if p.Disabled {
				r.offPatterns = append(r.offPatterns, providerPattern{pat, p})
				continue
			}
			r.patterns = append(r.patterns, providerPattern{pat, p})
			for _, e := range o.Catalog.Provider(p.Name) {
				if !pat.Match(e.ID) {
					continue
				}
				if _, taken := r.bare[e.ID]; !taken && r.patternOwner(e.ID) == p {
					r.bare[e.ID] = r.target(p, e.ID, o.Catalog)
				}
				if !e.Retired { // still served by name, to old clients, but not offered
					list(e.ID)
				}
			}
		}
	}
	addNamed := func(name string, targets []configs.RouteTarget, policy *Policy, timeouts configs.Timeouts) error {
		var ts []Target
		var off []*upstream.Provider
		own := map[string]*upstream.Provider{} // the route's timeouts' pools
		for _, ct := range targets {
			prov, model, _ := strings.Cut(ct.Target, "/")
			p, ok := r.providers[prov]
			if !ok {
				return fmt.Errorf("model %q: unknown provider %q", name, prov)
			}
			if ct.Weight < 0 || ct.Weight > 1e6 {
				return fmt.Errorf("model %q: target %q: weight %d is not 1 to 1000000", name, ct.Target, ct.Weight)
			}
			if !p.Disabled {
				t := r.target(p, model, o.Catalog)
				t.Weight = uint32(max(ct.Weight, 1))
				if timeouts != (configs.Timeouts{}) {
					if own[prov] == nil {
						var err error
						if own[prov], err = r.withTimeouts(p, timeouts); err != nil {
							return fmt.Errorf("model %q: %w", name, err)
						}
					}
					t.Provider = own[prov] // same name and Health, other timeouts
				}
				ts = append(ts, t)
			} else if !slices.Contains(off, p) {
				off = append(off, p)
			}
		}
		r.named[name] = &namedRoute{targets: ts, policy: policy, disabled: off}
		if len(ts) > 0 {
			r.models = append(r.models, modelInfo(name, ts))
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(aliases)) {
		if err := addNamed(name, []configs.RouteTarget{{Target: aliases[name]}}, &r.policy, configs.Timeouts{}); err != nil {
			return nil, err
		}
	}
	for _, rt := range routes {
		policy := new(Policy)
		if err := policy.set(rt); err != nil {
			return nil, fmt.Errorf("model %q: %w", rt.Model, err)
		}
		if err := addNamed(rt.Model, rt.Targets, policy, rt.Timeouts); err != nil {
			return nil, err
		}
	}
	for _, name := range r.names {
		p := r.providers[name]
		if p.Disabled {
			continue
		}
		for _, m := range o.Catalog.Provider(name) {
			r.target(p, m.ID, o.Catalog)
		}
	}
	return r, nil
}

// patternOwner returns the first enabled provider whose pattern matches
// model, or nil.
func (r *Router) patternOwner(model string) *upstream.Provider {
	for i := range r.patterns {
		if r.patterns[i].pat.Match(model) {
			return r.patterns[i].p
		}
	}
	return nil
}

// withTimeouts returns p with a route's timeouts on a pool of its own:
// the previous Router's, when p itself is the previous Router's provider.
// Only New calls it.
func (r *Router) withTimeouts(p *upstream.Provider, t configs.Timeouts) (*upstream.Provider, error) {
	k := timedKey{p.Name, t}
	if own := r.timed[k]; own != nil {
		return own, nil
	}
	own := r.prev.reusable(k, p)
	if own == nil {
		var err error
		if own, err = p.WithTimeouts(t); err != nil {
			return nil, err
		}
	}
	r.timed[k] = own
	return own, nil
}

// reusable returns r's pool for k when r serves provider p itself, else
// nil; r may be nil.
func (r *Router) reusable(k timedKey, p *upstream.Provider) *upstream.Provider {
	if r == nil || r.providers[k.provider] != p {
		return nil
	}
	return r.timed[k]
}

// target returns the shared Target of provider p's model, with weight 1,
// adding it and its Health on first use (the previous Router's Health
// when it had the target on the same provider). Only New calls it.
func (r *Router) target(p *upstream.Provider, model string, cat *Catalog) Target {
	k := modelKey{p.Name, model}
	if t, ok := r.targets[k]; ok {
		return t
	}
	t := Target{Provider: p, Model: model, Weight: 1}
	if r.prev != nil {
		if pt, ok := r.prev.targets[k]; ok && pt.Provider == p {
			t.Health = pt.Health
		}
	}
	if t.Health == nil {
		t.Health = newHealth(r.breaker)
	}
	t.Entry, _ = cat.Lookup(p.Name, model)
	r.targets[k] = t
	r.tracked = append(r.tracked, t)
	return t
}

// Providers returns every provider, enabled or not, in config order. The
// slice belongs to the Router.
func (r *Router) Providers() []*upstream.Provider { return r.list }

// Tracked returns every target that has a Health, for metrics: the models
// of routes, aliases and provider lists, and catalog models of enabled
// providers. The slice belongs to the Router.
func (r *Router) Tracked() []Target { return slices.Clip(r.tracked) }

// Models lists what clients can call: each enabled provider's models (by
// bare id for the provider that wins it, else as provider/id: the ids it
// lists, then the catalog ids its patterns match), then the aliases and
// routes with at least one enabled target.
func (r *Router) Models() []ModelInfo { return r.models }

// Resolve fills rt for the model string s. rt.Targets may point into rt
// and into s: keep both alive while using it. Filling a second Route (for
// a fallback model) leaves the first intact. Errors wrap ErrUnknownModel
// or ErrBadModel.
func (r *Router) Resolve(s string, rt *Route) error {
	*rt = Route{}
	if s == "" {
		return fmt.Errorf("%w: model is empty", ErrBadModel)
	}
	// A provider whose ids contain colons ("ollama/llama3:8b:web") keeps
	// the unknown parts before the known suffixes as part of the id.
	first := strings.IndexByte(s, ':')
	if first < 0 {
		first = len(s)
	}
	prov, _, explicit := strings.Cut(s[:first], "/")
	var p *upstream.Provider
	if explicit {
		if p = r.providers[prov]; p == nil {
			explicit = false // ids like "meta-llama/Llama-3" are bare names
		}
	}
	idEnd, suffixes, err := splitSuffixes(s, first, p != nil && p.ColonModelIDs)
	if err != nil {
		return err
	}
	rt.Suffixes = suffixes
	name := s[:idEnd]
	model := ""
	if explicit {
		model = name[len(prov)+1:]
	}
	rt.Model = name

	rt.Policy = &r.policy
	if n, ok := r.named[name]; ok {
		if len(n.targets) == 0 {
			return fmt.Errorf("%w: %q has no enabled provider; %s", ErrUnknownModel, name, enableHint(n.disabled...))
		}
		rt.Targets = n.targets
		rt.Policy = n.policy
		return nil
	}
	if t, ok := r.bare[name]; ok {
		rt.one[0] = t
		rt.Targets = rt.one[:]
		return nil
	}
	if explicit {
		if p.Disabled {
			return fmt.Errorf("%w: provider %q is not enabled; %s", ErrUnknownModel, prov, enableHint(p))
		}
		if model == "" {
			return fmt.Errorf("%w: %q names no model after the provider", ErrBadModel, s)
		}
		t, ok := r.targets[modelKey{p.Name, model}]
		if !ok {
			t = Target{Provider: p, Model: model, Weight: 1}
		}
		rt.one[0] = t
		rt.Targets = rt.one[:]
		return nil
	}
	if owner := r.patternOwner(name); owner != nil {
		t, ok := r.targets[modelKey{owner.Name, name}]
		if !ok {
			t = Target{Provider: owner, Model: name, Weight: 1}
		}
		rt.one[0] = t
		rt.Targets = rt.one[:]
		return nil
	}
	p = r.offBare[name]
	for i := 0; p == nil && i < len(r.offPatterns); i++ {
		if r.offPatterns[i].pat.Match(name) {
			p = r.offPatterns[i].p
		}
	}
	if p != nil {
		return fmt.Errorf("%w: %q is served by provider %q, which is not enabled; %s", ErrUnknownModel, name, p.Name, enableHint(p))
	}
	hint := ""
	if near := r.closest(name, 3); len(near) > 0 {
		hint = "did you mean " + quoteList(near, " or ") + "? "
	}
	return fmt.Errorf("%w: %q; %sGET /v1/models lists the models you can call, and provider/model calls any model of a configured provider", ErrUnknownModel, name, hint)
}

// splitSuffixes reads the ":a:b" suffixes of s from index first on and
// returns where the model id ends. With keepUnknown, unknown parts before
// the first known suffix belong to the id instead of failing.
func splitSuffixes(s string, first int, keepUnknown bool) (idEnd int, set Suffixes, err error) {
	idEnd = first
	for start := first; start < len(s); {
		end := strings.IndexByte(s[start+1:], ':')
		if end < 0 {
			end = len(s)
		} else {
			end += start + 1
		}
		part := s[start+1 : end]
		switch bit := suffixBit(part); {
		case bit != 0:
			set |= bit
		case keepUnknown && set == 0 && part != "":
			idEnd = end
		default:
			return 0, 0, fmt.Errorf("%w: unknown suffix %q; known suffixes are :web, :online, :floor and :nitro", ErrBadModel, ":"+part)
		}
		start = end
	}
	return idEnd, set, nil
}

func suffixBit(name string) Suffixes {
	for _, s := range suffixNames {
		if s.name == name {
			return s.bit
		}
	}
	return 0
}

// enableHint says how to enable disabled providers: the unset
// environment variables their config reads, else their config fields.
func enableHint(ps ...*upstream.Provider) string {
	var vars, names []string
	for _, p := range ps {
		names = append(names, p.Name)
		for _, v := range p.EnableWith {
			if !slices.Contains(vars, v) {
				vars = append(vars, v)
			}
		}
	}
	if len(vars) > 0 {
		return "set " + strings.Join(vars, " and ") + " in the gateway's environment"
	}
	if len(names) == 0 {
		return "give the route a target of an enabled provider"
	}
	return "give provider " + quoteList(names, " and ") + " a base_url and api_key in the config"
}

// quoteList joins quoted names with sep before the last: "a", "b" or "c".
func quoteList(names []string, last string) string {
	var b strings.Builder
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			b.WriteString(last)
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}

// closest returns up to n callable model names nearest to name: those
// within a small edit distance, nearest first. Only error paths call it.
func (r *Router) closest(name string, n int) []string {
	if len(name) > 128 {
		return nil
	}
	type near struct {
		id   string
		dist int
	}
	limit := max(2, len(name)/4)
	var found []near
	for _, m := range r.models {
		if d := editDistance(strings.ToLower(name), strings.ToLower(m.ID), limit); d <= limit {
			found = append(found, near{m.ID, d})
		}
	}
	slices.SortStableFunc(found, func(a, b near) int { return a.dist - b.dist })
	var out []string
	for _, f := range found[:min(n, len(found))] {
		out = append(out, f.id)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, or limit+1 when it
// is more than limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
