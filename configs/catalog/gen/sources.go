package main

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"switchboard/router"
)

// rates are one tier's prices, decimal dollars per million tokens; ""
// is unset.
type rates struct {
	Input        string `yaml:"input"`
	Output       string `yaml:"output"`
	CacheRead    string `yaml:"cache_read"`
	CacheWrite   string `yaml:"cache_write"`
	CacheWrite1h string `yaml:"cache_write_1h"`
	Reasoning    string `yaml:"reasoning"`
}

// longRates are the rates of a prompt of more than Above tokens.
type longRates struct {
	Above int `yaml:"above"`
	rates `yaml:",inline"`
}

// entry is one generated catalog model.
type entry struct {
	ID         string
	Context    int
	MaxOutput  int
	Rates      rates
	Long       *longRates
	Flex       *rates
	Priority   *rates
	Batch      *rates
	Modalities []string
	Retired    string // "", "true" or a date
	AliasOf    string
}

// sourceModel is a model of a pinned table, with the ids it answers to.
type sourceModel struct {
	entry
	// Aliases are other ids the table prices as this model.
	Aliases []string
	// Priced is false for a model the table has no token price for.
	Priced bool
	// match is the table's match clause: which ids it prices as this
	// model.
	match any
}

// sources are the pinned tables, loaded.
type sources struct {
	// genai are the genai-prices table's models by its provider id.
	genai map[string][]sourceModel
	// hand is the late-2025 hand catalog.
	hand *router.Catalog
}

func loadSources(root string, ov *overrides) (*sources, error) {
	s := &sources{}
	gp, ok := ov.source("genai-prices")
	if !ok {
		return nil, fmt.Errorf("%s: sources: want genai-prices", overridesPath)
	}
	data, err := os.ReadFile(filepath.Join(root, "configs/catalog", gp.Path, "data.js"))
	if err != nil {
		return nil, err
	}
	if s.genai, err = readGenAIPrices(string(data), gp.Date); err != nil {
		return nil, fmt.Errorf("genai-prices: %w", err)
	}
	hp, ok := ov.source("hand-2025")
	if !ok {
		return nil, fmt.Errorf("%s: sources: want hand-2025", overridesPath)
	}
	data, err = os.ReadFile(filepath.Join(root, "configs/catalog", hp.Path, "catalog.yaml"))
	if err != nil {
		return nil, err
	}
	if s.hand, err = router.LoadCatalog(data); err != nil {
		return nil, fmt.Errorf("hand-2025: %w", err)
	}
	return s, nil
}

// readGenAIPrices reads the genai-prices table literal, with prices as
// of date (YYYY-MM-DD).
func readGenAIPrices(src, date string) (map[string][]sourceModel, error) {
	v, err := parseJSLiteral(src)
	if err != nil {
		return nil, err
	}
	provs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of providers")
	}
	out := map[string][]sourceModel{}
	for _, pv := range provs {
		p, _ := pv.(map[string]any)
		pid, _ := p["id"].(string)
		models, _ := p["models"].([]any)
		for _, mv := range models {
			m, _ := mv.(map[string]any)
			sm, err := readGenAIModel(m, date)
			if err != nil {
				return nil, fmt.Errorf("%s/%v: %w", pid, m["id"], err)
			}
			out[pid] = append(out[pid], sm)
		}
	}
	return out, nil
}

func readGenAIModel(m map[string]any, date string) (sourceModel, error) {
	var sm sourceModel
	sm.ID, _ = m["id"].(string)
	if n, ok := m["context_window"].(jsNumber); ok {
		c, err := intLit(n)
		if err != nil {
			return sm, fmt.Errorf("context_window: %w", err)
		}
		sm.Context = c
	}
	if dep, _ := m["deprecated"].(bool); dep {
		sm.Retired = "true"
	}
	sm.Aliases = equalsIDs(m["match"], sm.ID, nil)
	sm.match = m["match"]
	prices, err := currentPrices(m["prices"], date)
	if err != nil {
		return sm, err
	}
	if prices["input_mtok"] == nil {
		return sm, nil
	}
	sm.Priced = true
	var long *longRates
	for _, f := range [...]struct {
		key       string
		base, lng func(*rates) *string
	}{
		{"input_mtok", func(r *rates) *string { return &r.Input }, nil},
		{"output_mtok", func(r *rates) *string { return &r.Output }, nil},
		{"cache_read_mtok", func(r *rates) *string { return &r.CacheRead }, nil},
		{"cache_write_mtok", func(r *rates) *string { return &r.CacheWrite }, nil},
		{"cache_write_1h_mtok", func(r *rates) *string { return &r.CacheWrite1h }, nil},
		{"output_reasoning_mtok", func(r *rates) *string { return &r.Reasoning }, nil},
	} {
		v, ok := prices[f.key]
		if !ok {
			continue
		}
		base, above, tier, err := tieredPrice(v)
		if err != nil {
			return sm, fmt.Errorf("%s: %w", f.key, err)
		}
		*f.base(&sm.Rates) = base
		if above > 0 {
			if long == nil {
				long = &longRates{Above: above}
			} else if long.Above != above {
				return sm, fmt.Errorf("%s: tiers start at %d and %d", f.key, long.Above, above)
			}
			*f.base(&long.rates) = tier
		}
	}
	if sm.Rates.Output == "" {
		sm.Rates.Output = "0" // embeddings
	}
	if long != nil {
		// A price without a tier of its own is the same past the threshold.
		for _, f := range [...]func(*rates) *string{
			func(r *rates) *string { return &r.Input }, func(r *rates) *string { return &r.Output },
			func(r *rates) *string { return &r.CacheRead }, func(r *rates) *string { return &r.CacheWrite },
			func(r *rates) *string { return &r.CacheWrite1h }, func(r *rates) *string { return &r.Reasoning },
		} {
			if *f(&long.rates) == "" {
				*f(&long.rates) = *f(&sm.Rates)
			}
		}
		sm.Long = long
	}
	return sm, nil
}

// currentPrices picks, from a model's prices (one price list or a list
// of conditional ones), the list in force on date: the last one without
// a constraint or with a start_date on or before date; then, where
// time-of-day windows change prices, each price is the dearest of them.
func currentPrices(v any, date string) (map[string]any, error) {
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("prices: want an object or a list")
	}
	var cur map[string]any
	var windows []map[string]any
	for _, cv := range list {
		c, _ := cv.(map[string]any)
		p, _ := c["prices"].(map[string]any)
		con, _ := c["constraint"].(map[string]any)
		switch typ, _ := con["type"].(string); {
		case con == nil:
			cur = p
		case typ == "start_date":
			if start, _ := con["start_date"].(string); start <= date {
				cur = p
			}
		case typ == "time_of_date":
			windows = append(windows, p)
		default:
			return nil, fmt.Errorf("prices: unknown constraint %v", con)
		}
	}
	if cur == nil {
		return nil, fmt.Errorf("prices: none in force on %s", date)
	}
	for _, w := range windows {
		merged := map[string]any{}
		for k, v := range cur {
			merged[k] = v
		}
		for k, v := range w {
			if a, b := priceOf(merged[k]), priceOf(v); b.Cmp(a) > 0 {
				merged[k] = v
			}
		}
		cur = merged
	}
	return cur, nil
}

// tieredPrice reads a flat price or {base, tiers: [{start, price}]}: the
// base price and, for a tiered one, its tier's start and price. One tier
// at most: no table prices more.
func tieredPrice(v any) (base string, above int, tier string, err error) {
	switch p := v.(type) {
	case jsNumber:
		base, err = decimalPrice(string(p), 1)
		return base, 0, "", err
	case map[string]any:
		b, _ := p["base"].(jsNumber)
		tiers, _ := p["tiers"].([]any)
		if len(tiers) != 1 {
			return "", 0, "", fmt.Errorf("want one tier, got %d", len(tiers))
		}
		t, _ := tiers[0].(map[string]any)
		start, _ := t["start"].(jsNumber)
		tp, _ := t["price"].(jsNumber)
		if base, err = decimalPrice(string(b), 1); err != nil {
			return "", 0, "", err
		}
		if tier, err = decimalPrice(string(tp), 1); err != nil {
			return "", 0, "", err
		}
		above, err = intLit(start)
		return base, above, tier, err
	}
	return "", 0, "", fmt.Errorf("want a number or tiered prices, got %v", v)
}

// priceOf is a price's base as an exact number (0 when absent).
func priceOf(v any) *big.Rat {
	r := new(big.Rat)
	if base, _, _, err := tieredPrice(v); err == nil {
		r.SetString(base)
	}
	return r
}

// intLit reads a number literal that is a whole number ("200000", "2e5").
func intLit(n jsNumber) (int, error) {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || !r.IsInt() || r.Sign() < 0 || r.Num().BitLen() > 31 {
		return 0, fmt.Errorf("want a whole number of tokens, got %q", n)
	}
	return int(r.Num().Int64()), nil
}

// equalsIDs collects the ids a match clause names by equality, other
// than id: {"equals": x}, alone or in an "or" list.
func equalsIDs(v any, id string, dst []string) []string {
	switch m := v.(type) {
	case map[string]any:
		if s, ok := m["equals"].(string); ok && s != id && validID(s) {
			dst = append(dst, s)
		}
		for _, c := range asList(m["or"]) { // not "and": an equals there is a condition
			dst = equalsIDs(c, id, dst)
		}
	}
	return dst
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// validID reports whether s is usable as a catalog id.
func validID(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\n\"'`\\{}[],&*#?|<>=!%@")
}

// matchID reports whether a table's match clause prices id: equals,
// starts_with, ends_with, contains, regex, and or/and lists of them. A
// regex Go's regexp cannot compile (a lookahead) matches nothing.
func matchID(clause any, id string) bool {
	m, ok := clause.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range m {
		s, _ := v.(string)
		var hit bool
		switch k {
		case "equals":
			hit = id == s
		case "starts_with":
			hit = strings.HasPrefix(id, s)
		case "ends_with":
			hit = strings.HasSuffix(id, s)
		case "contains":
			hit = strings.Contains(id, s)
		case "regex":
			re, err := regexp.Compile(s)
			hit = err == nil && re.MatchString(id)
		case "or":
			hit = slices.ContainsFunc(asList(v), func(c any) bool { return matchID(c, id) })
		case "and":
			hit = len(asList(v)) > 0 && !slices.ContainsFunc(asList(v), func(c any) bool { return !matchID(c, id) })
		}
		if !hit {
			return false
		}
	}
	return len(m) > 0
}
