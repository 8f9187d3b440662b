package main

import (
	"fmt"
	"slices"
	"strings"

	"switchboard/router"
	"switchboard/store/money"
)

// genProvider is one provider of the generated catalog.
type genProvider struct {
	Name   string
	From   string // the source, as in overrides.yaml
	Models []entry
}

// stats counts, per provider, what the README table shows.
type stats struct {
	Models, Aliases, Retired int
	// LeftOut are source models with no token price or no context window.
	LeftOut int
	// Hand are entries added or changed by overrides.yaml.
	Hand int
	// Hand2025 are late-2025 hand entries no maintained source prices.
	Hand2025 int
}

func build(ov *overrides, srcs *sources) ([]genProvider, map[string]*stats, error) {
	var out []genProvider
	all := map[string]*stats{}
	for _, po := range ov.Providers {
		st := &stats{}
		all[po.Name] = st
		gp := genProvider{Name: po.Name, From: po.From}
		switch src, id, _ := strings.Cut(po.From, "/"); {
		case src == "genai-prices":
			models, ok := srcs.genai[id]
			if !ok {
				return nil, nil, fmt.Errorf("provider %s: genai-prices has no provider %q", po.Name, id)
			}
			gp.Models = fromGenAI(po, models, srcs.hand, st)
		case po.From == "hand-2025":
			for _, m := range srcs.hand.Provider(po.Name) {
				gp.Models = append(gp.Models, fromHand(m))
			}
			if len(gp.Models) == 0 {
				return nil, nil, fmt.Errorf("provider %s: the hand catalog has none of its models", po.Name)
			}
		default:
			return nil, nil, fmt.Errorf("provider %s: from %q: want genai-prices/ID or hand-2025", po.Name, po.From)
		}
		var err error
		if gp.Models, err = applyOverrides(po, gp.Models, st); err != nil {
			return nil, nil, fmt.Errorf("provider %s: %w", po.Name, err)
		}
		resolveAliases(gp.Models)
		for _, m := range gp.Models {
			switch {
			case m.AliasOf != "":
				st.Aliases++
			case m.Retired != "":
				st.Retired++
			}
		}
		st.Models = len(gp.Models)
		out = append(out, gp)
	}
	return out, all, nil
}

// fromGenAI turns a genai-prices provider's models into entries, with
// limits and modalities from the hand catalog or the pattern defaults.
func fromGenAI(po providerOverride, models []sourceModel, hand *router.Catalog, st *stats) []entry {
	var out []entry
	have := map[string]bool{}
	for _, sm := range models {
		if slices.ContainsFunc(po.Exclude, func(p string) bool { return matches(p, sm.ID) }) {
			continue
		}
		e := sm.entry
		hm, ok := hand.Lookup(po.Name, e.ID)
		if !ok { // a hand entry the table prices as this model: a dated snapshot
			i := slices.IndexFunc(hand.Provider(po.Name), func(m *router.Model) bool { return matchID(sm.match, m.ID) })
			if ok = i >= 0; ok {
				hm = hand.Provider(po.Name)[i]
			}
		}
		if ok {
			e.MaxOutput, e.Modalities = hm.MaxOutput, hm.Modalities
			if e.Context == 0 {
				e.Context = hm.Context
			}
		}
		fillDefaults(po, &e)
		if !sm.Priced || e.Context == 0 || have[e.ID] {
			st.LeftOut++
			continue
		}
		if e.MaxOutput > e.Context {
			e.MaxOutput = e.Context
		}
		have[e.ID] = true
		out = append(out, e)
		for _, a := range sm.Aliases {
			if have[a] || slices.ContainsFunc(models, func(o sourceModel) bool { return o.ID == a }) {
				continue
			}
			have[a] = true
			out = append(out, entry{ID: a, AliasOf: e.ID, Retired: e.Retired})
		}
	}
	// The hand catalog's ids a table model matches (dated snapshots such
	// as claude-sonnet-4-5-20250929) are aliases of it, so that the names
	// clients send keep their price; a model the table left out for want
	// of a context window gets the hand entry's limits. A hand id the
	// table does not price at all keeps its late-2025 entry.
	for _, hm := range hand.Provider(po.Name) {
		if have[hm.ID] || slices.ContainsFunc(po.Exclude, func(p string) bool { return matches(p, hm.ID) }) {
			continue
		}
		have[hm.ID] = true
		i := slices.IndexFunc(models, func(sm sourceModel) bool { return sm.Priced && (sm.ID == hm.ID || matchID(sm.match, hm.ID)) })
		switch {
		case i < 0:
			out = append(out, fromHand(hm))
			st.Hand2025++
		case slices.ContainsFunc(out, func(e entry) bool { return e.ID == models[i].ID && e.AliasOf == "" }):
			out = append(out, entry{ID: hm.ID, AliasOf: models[i].ID, Retired: models[i].Retired})
		default:
			e := models[i].entry
			e.ID, e.Context, e.MaxOutput, e.Modalities = hm.ID, hm.Context, hm.MaxOutput, hm.Modalities
			out = append(out, e)
			st.LeftOut--
		}
	}
	return out
}

// fillDefaults gives e the first matching default's max_output,
// modalities and context where it has none.
func fillDefaults(po providerOverride, e *entry) {
	for _, d := range po.Defaults {
		if !matches(d.Match, e.ID) {
			continue
		}
		if e.MaxOutput == 0 && d.MaxOutput != nil {
			e.MaxOutput = *d.MaxOutput
		}
		if e.Modalities == nil && d.Modalities != nil {
			e.Modalities = d.Modalities
		}
		if e.Context == 0 && d.Context != nil {
			e.Context = *d.Context
		}
		return
	}
}

// fromHand copies a hand catalog model.
func fromHand(m *router.Model) entry {
	p := m.Price
	return entry{
		ID: m.ID, Context: m.Context, MaxOutput: m.MaxOutput, Modalities: m.Modalities,
		Rates: rates{Input: dollars(p.Input), Output: dollars(p.Output), CacheRead: optDollars(p.CacheRead), CacheWrite: optDollars(p.CacheWrite)},
	}
}

// applyOverrides applies the provider's hand entries to models: an entry
// for an id changes that model's fields it sets, drop removes it, and one
// for an id not there adds it (it then needs its context and prices, or
// alias_of).
func applyOverrides(po providerOverride, models []entry, st *stats) ([]entry, error) {
	for _, o := range po.Models {
		st.Hand++
		i := slices.IndexFunc(models, func(e entry) bool { return e.ID == o.ID })
		if o.Drop {
			if i < 0 {
				return nil, fmt.Errorf("drop %s: no such model", o.ID)
			}
			models = slices.Delete(models, i, i+1)
			continue
		}
		if i < 0 {
			models = append(models, entry{ID: o.ID})
			i = len(models) - 1
		}
		e := &models[i]
		if o.AliasOf != "" {
			*e = entry{ID: o.ID, AliasOf: o.AliasOf, Retired: e.Retired}
		}
		setInt := func(dst *int, v *int) {
			if v != nil {
				*dst = *v
			}
		}
		setInt(&e.Context, o.Context)
		setInt(&e.MaxOutput, o.MaxOutput)
		if o.Modalities != nil {
			e.Modalities = o.Modalities
		}
		if o.Retired != "" {
			e.Retired = o.Retired
		}
		for _, f := range [...]struct {
			dst *string
			v   *string
		}{{&e.Rates.Input, o.Input}, {&e.Rates.Output, o.Output}, {&e.Rates.CacheRead, o.CacheRead},
			{&e.Rates.CacheWrite, o.CacheWrite}, {&e.Rates.CacheWrite1h, o.CacheWrite1h}, {&e.Rates.Reasoning, o.Reasoning}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
		if o.Long != nil {
			e.Long = o.Long
		}
		if o.Flex != nil {
			e.Flex = o.Flex
		}
		if o.Priority != nil {
			e.Priority = o.Priority
		}
		if o.Batch != nil {
			e.Batch = o.Batch
		}
	}
	return models, nil
}

// dollars writes a price as the shortest decimal: 2.5, 0.075, 15.
func dollars(m money.Money) string { return string(m.AppendDecimal(nil)) }

// optDollars is dollars, or "" for a zero price (an unset field).
func optDollars(m money.Money) string {
	if m == 0 {
		return ""
	}
	return dollars(m)
}

// resolveAliases points each alias at a model of its own (an alias of an
// alias, as when an override turns a model into an alias, follows the
// chain) and marks an alias of a retired model retired.
func resolveAliases(models []entry) {
	byID := map[string]*entry{}
	for i := range models {
		byID[models[i].ID] = &models[i]
	}
	for i := range models {
		a := &models[i]
		for n := 0; a.AliasOf != "" && n < 8; n++ {
			t, ok := byID[a.AliasOf]
			if !ok || t.AliasOf == "" {
				break
			}
			a.AliasOf = t.AliasOf
		}
		if t, ok := byID[a.AliasOf]; ok && a.AliasOf != "" && a.Retired == "" {
			a.Retired = t.Retired
		}
	}
}
