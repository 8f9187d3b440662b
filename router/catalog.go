package router

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchboard/store/money"

	"go.yaml.in/yaml/v3"
)

// Rates are one pricing tier's prices per million tokens.
type Rates struct {
	// Input is the price of prompt tokens not read from or written to the
	// provider's cache.
	Input money.Money
	// Output is the price of completion tokens, reasoning included unless
	// Reasoning is set.
	Output money.Money
	// CacheRead is the provider's price of prompt tokens read from its
	// cache. The gateway does not charge it (see Price.Cost); it is kept
	// to report what caching saved.
	CacheRead money.Money
	// CacheWrite is the price of prompt tokens written to the cache (for
	// Anthropic's default five minutes); 0 where the provider charges
	// nothing extra for it.
	CacheWrite money.Money
	// CacheWrite1h is the price of prompt tokens written to a one-hour
	// cache; 0 means CacheWrite.
	CacheWrite1h money.Money
	// Reasoning is the price of reasoning tokens where it differs from
	// Output; 0 means Output.
	Reasoning money.Money
}

// Price is a model's prices per million tokens: its standard rates and
// the rules that replace them for some calls (see Price.Cost). A tier
// the model does not offer is all zero.
type Price struct {
	Rates
	// LongAbove is the prompt size in tokens past which the whole call is
	// billed at Long (Gemini 2.5 Pro above 200k, Claude's long context);
	// 0: no such tier.
	LongAbove int64
	// Long are the rates of a prompt of more than LongAbove tokens.
	Long Rates
	// Flex, Priority and Batch are the rates of a call the provider says
	// it served in that service tier (OpenAI's service_tier).
	Flex, Priority, Batch Rates
}

// Model is one catalog entry.
type Model struct {
	// Provider is the gateway's provider name, e.g. "openai".
	Provider string
	// ID is the provider's own model id, e.g. "gpt-4o".
	ID string
	// Context is the context window in tokens; 0 for a model added by
	// Catalog.Override, whose window is unknown.
	Context int
	// MaxOutput is the most completion tokens one call can produce: the
	// default output budget of a reservation. 0 for a model that produces
	// no completion tokens (embeddings) and for one added by Override.
	MaxOutput int
	// Price is the provider's list price.
	Price Price
	// AliasOf is the id this one points at (mistral-large-latest ->
	// mistral-large-2512), whose limits and prices it has; "" for a
	// model of its own.
	AliasOf string
	// Retired is set for a model the provider no longer serves: it stays
	// in the catalog to price old ledger entries and calls still routed
	// to it, but is not listed as available.
	Retired bool
	// Modalities are the input kinds the model accepts: "text", "image",
	// "audio", "video", "file" (documents such as PDF). Never empty.
	Modalities []string
}

// Catalog is the parsed model catalog; immutable and safe for concurrent
// use after load (and after any Override calls, which belong to building
// it). A nil *Catalog is an empty one.
//
// Lookups do not allocate. The slices Offering and Provider return belong
// to the catalog: read them, do not modify them.
type Catalog struct {
	models     []*Model // catalog order
	byKey      map[modelKey]*Model
	byID       map[string][]*Model
	byProvider map[string][]*Model
	providers  []string // catalog order
}

type modelKey struct{ provider, id string }

// PriceOverride replaces some of a model's prices: each non-nil field is a
// decimal dollar string per million tokens, as in the catalog file.
type PriceOverride struct {
	Input, Output, CacheRead, CacheWrite *string
}

// knownModalities are the modality names a catalog may use.
var knownModalities = []string{"text", "image", "audio", "video", "file"}

// catalogProviderName matches the provider names of the gateway config.
var catalogProviderName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// LoadCatalog parses a catalog file (the format is documented at the top
// of configs/catalog.yaml) and validates it. The error lists every problem
// with its line, provider and model index:
//
//	line 12: providers.openai.models[3] (gpt-4o).input: cannot parse price "-1": want plain decimal dollars like 2.50, without sign or "$"
func LoadCatalog(data []byte) (*Catalog, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("cannot parse catalog: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("cannot parse catalog: it is empty")
	}
	l := catalogLoader{c: newCatalog()}
	l.top(root.Content[0])
	if len(l.problems) > 0 {
		return nil, fmt.Errorf("invalid catalog:\n  %s", strings.Join(l.problems, "\n  "))
	}
	return l.c, nil
}

func newCatalog() *Catalog {
	return &Catalog{
		byKey:      map[modelKey]*Model{},
		byID:       map[string][]*Model{},
		byProvider: map[string][]*Model{},
	}
}

// Lookup returns the entry of provider's model id.
func (c *Catalog) Lookup(provider, id string) (*Model, bool) {
	if c == nil {
		return nil, false
	}
	m, ok := c.byKey[modelKey{provider, id}]
	return m, ok
}

// Offering returns every provider's entry with this model id, in catalog
// order: the candidates for routing a bare model id by price.
func (c *Catalog) Offering(id string) []*Model {
	if c == nil {
		return nil
	}
	return slices.Clip(c.byID[id])
}

// Provider returns a provider's entries in catalog order.
func (c *Catalog) Provider(name string) []*Model {
	if c == nil {
		return nil
	}
	return slices.Clip(c.byProvider[name])
}

// Providers returns the provider names in catalog order.
func (c *Catalog) Providers() []string {
	if c == nil {
		return nil
	}
	return slices.Clip(c.providers)
}

// Len returns the number of entries.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.models)
}

// Override replaces prices (any subset of fields) of provider/id, or adds
// the model; used for config price overrides. An added model needs input
// and output prices; its Context and MaxOutput are 0 (unknown) and its
// modality is text. Nothing changes when Override fails.
//
// Override is part of building a catalog: it is not safe concurrently with
// other methods. To change prices of a running gateway, load a new Catalog,
// override it and swap it in.
func (c *Catalog) Override(provider, id string, o PriceOverride) error {
	at := provider + "/" + id
	if c == nil {
		return fmt.Errorf("price override %s: no catalog", at)
	}
	var p [4]money.Money
	for i, f := range []struct {
		name string
		val  *string
	}{{"input", o.Input}, {"output", o.Output}, {"cache_read", o.CacheRead}, {"cache_write", o.CacheWrite}} {
		if f.val == nil {
			continue
		}
		v, err := parsePrice(*f.val)
		if err != nil {
			return fmt.Errorf("price override %s: %s: %w", at, f.name, err)
		}
		p[i] = v
	}
	if m, ok := c.byKey[modelKey{provider, id}]; ok {
		set := func(dst *money.Money, val *string, v money.Money) {
			if val != nil {
				*dst = v
			}
		}
		set(&m.Price.Input, o.Input, p[0])
		set(&m.Price.Output, o.Output, p[1])
		set(&m.Price.CacheRead, o.CacheRead, p[2])
		set(&m.Price.CacheWrite, o.CacheWrite, p[3])
		return nil
	}
	switch {
	case !catalogProviderName.MatchString(provider):
		return fmt.Errorf("price override %s: want a provider name of lower-case letters, digits, '_', '-' or '.', got %q", at, provider)
	case !validModelID(id):
		return fmt.Errorf("price override %s: want a model id without spaces, got %q", at, id)
	case o.Input == nil || o.Output == nil:
		return fmt.Errorf("price override %s: the model is not in the catalog, so it needs input and output prices", at)
	}
	c.add(&Model{
		Provider:   provider,
		ID:         id,
		Price:      Price{Rates: Rates{Input: p[0], Output: p[1], CacheRead: p[2], CacheWrite: p[3]}},
		Modalities: []string{"text"},
	})
	return nil
}

func (c *Catalog) add(m *Model) {
	if _, seen := c.byProvider[m.Provider]; !seen {
		c.providers = append(c.providers, m.Provider)
	}
	c.models = append(c.models, m)
	c.byKey[modelKey{m.Provider, m.ID}] = m
	c.byID[m.ID] = append(c.byID[m.ID], m)
	c.byProvider[m.Provider] = append(c.byProvider[m.Provider], m)
}

// validModelID reports whether id is a usable model id: non-empty, without
// spaces or control characters ("accounts/fireworks/models/x" and
// "amazon.nova-pro-v1:0" are fine).
func validModelID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] == 0x7f {
			return false
		}
	}
	return true
}

// catalogLoader walks the YAML tree of a catalog, collecting problems.
type catalogLoader struct {
	c        *Catalog
	problems []string
}

func (l *catalogLoader) fail(n *yaml.Node, path, format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf("line %d: %s: %s", n.Line, path, fmt.Sprintf(format, args...)))
}

func (l *catalogLoader) top(doc *yaml.Node) {
	if doc.Kind != yaml.MappingNode {
		l.fail(doc, "catalog", "want a mapping with a providers key")
		return
	}
	var providers *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Value != "providers" {
			l.fail(k, k.Value, "unknown field")
			continue
		}
		providers = v
	}
	if providers == nil {
		l.fail(doc, "providers", "missing")
		return
	}
	if providers.Kind != yaml.MappingNode {
		l.fail(providers, "providers", "want a mapping of provider name to its models")
		return
	}
	if !l.uniqueKeys(providers, "providers") {
		return
	}
	for i := 0; i+1 < len(providers.Content); i += 2 {
		l.provider(providers.Content[i], providers.Content[i+1])
	}
}

// uniqueKeys reports whether mapping n has no key twice, reporting each
// repeat. yaml.v3 checks this only when decoding into Go maps and structs,
// not into a Node.
func (l *catalogLoader) uniqueKeys(n *yaml.Node, at string) bool {
	first := map[string]int{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if line, dup := first[k.Value]; dup {
			l.fail(k, at+"."+k.Value, "defined twice, first at line %d", line)
			ok = false
			continue
		}
		first[k.Value] = k.Line
	}
	return ok
}

func (l *catalogLoader) provider(name, n *yaml.Node) {
	at := "providers." + name.Value
	if !catalogProviderName.MatchString(name.Value) {
		l.fail(name, at, "want a provider name of lower-case letters, digits, '_', '-' or '.'")
		return
	}
	if n.Kind != yaml.MappingNode {
		l.fail(n, at, "want a mapping with a models key")
		return
	}
	if !l.uniqueKeys(n, at) {
		return
	}
	var models *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value != "models" {
			l.fail(k, at+"."+k.Value, "unknown field")
			continue
		}
		models = v
	}
	switch {
	case models == nil:
		l.fail(n, at+".models", "missing")
		return
	case models.Kind != yaml.SequenceNode || len(models.Content) == 0:
		l.fail(models, at+".models", "want a list of one or more models")
		return
	}
	firstLine := map[string]int{}
	for i, mn := range models.Content {
		m, ok := l.model(name.Value, mn, fmt.Sprintf("%s.models[%d]", at, i))
		if !ok {
			continue
		}
		if line, dup := firstLine[m.ID]; dup {
			l.fail(mn, fmt.Sprintf("%s.models[%d] (%s)", at, i, m.ID), "duplicate id, first at line %d", line)
			continue
		}
		firstLine[m.ID] = mn.Line
		l.c.add(m)
	}
	l.resolveAliases(name.Value, firstLine)
}

// resolveAliases gives each alias of provider its target's limits,
// prices and modalities. A target is a model of the same provider that
// is not an alias itself.
func (l *catalogLoader) resolveAliases(provider string, lines map[string]int) {
	for _, m := range l.c.byProvider[provider] {
		if m.AliasOf == "" {
			continue
		}
		t, ok := l.c.byKey[modelKey{provider, m.AliasOf}]
		if !ok || t.AliasOf != "" {
			why := "no such model of " + provider
			if ok {
				why = "it is an alias itself, of " + t.AliasOf
			}
			l.problems = append(l.problems, fmt.Sprintf("line %d: providers.%s.models (%s).alias_of: cannot point at %s: %s",
				lines[m.ID], provider, m.ID, m.AliasOf, why))
			continue
		}
		m.Context, m.MaxOutput, m.Price, m.Modalities = t.Context, t.MaxOutput, t.Price, t.Modalities
	}
}

// model parses one entry; ok is false when it has problems.
func (l *catalogLoader) model(provider string, n *yaml.Node, at string) (m *Model, ok bool) {
	if n.Kind != yaml.MappingNode {
		l.fail(n, at, "want a mapping with id, context, input and output")
		return nil, false
	}
	m = &Model{Provider: provider}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "id" {
			m.ID = n.Content[i+1].Value
		}
	}
	if m.ID != "" {
		at += " (" + m.ID + ")"
	}
	before := len(l.problems)
	if !l.uniqueKeys(n, at) {
		return nil, false
	}
	var seen [4]bool // the required fields, to report missing ones
	const (
		fID = iota
		fContext
		fInput
		fOutput
	)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := at + "." + k.Value
		switch k.Value {
		case "modalities":
			m.Modalities = l.modalities(v, path)
			continue
		case "long":
			m.Price.LongAbove = l.tier(v, path, &m.Price.Long, true)
			continue
		case "flex":
			l.tier(v, path, &m.Price.Flex, false)
			continue
		case "priority":
			l.tier(v, path, &m.Price.Priority, false)
			continue
		case "batch":
			l.tier(v, path, &m.Price.Batch, false)
			continue
		}
		if v.Kind != yaml.ScalarNode {
			l.fail(v, path, "want a single value")
			continue
		}
		if l.rate(k.Value, v, path, &m.Price.Rates) {
			seen[fInput] = seen[fInput] || k.Value == "input"
			seen[fOutput] = seen[fOutput] || k.Value == "output"
			continue
		}
		switch k.Value {
		case "id":
			seen[fID] = true
			if !validModelID(v.Value) {
				l.fail(v, path, "want a model id without spaces, got %q", v.Value)
			}
		case "context":
			seen[fContext] = true
			m.Context = l.tokens(v, path)
		case "max_output":
			m.MaxOutput = l.tokens(v, path)
		case "alias_of":
			m.AliasOf = v.Value
			if !validModelID(v.Value) {
				l.fail(v, path, "want a model id without spaces, got %q", v.Value)
			}
		case "retired":
			m.Retired = l.retired(v, path)
		default:
			l.fail(k, path, "unknown field")
		}
	}
	if m.AliasOf != "" {
		// An alias has its target's limits and prices, and no others.
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value != "id" && k.Value != "alias_of" && k.Value != "retired" {
				l.fail(k, at+"."+k.Value, "an alias (alias_of %s) takes its target's limits and prices; want only id, alias_of and retired", m.AliasOf)
			}
		}
		return m, len(l.problems) == before
	}
	for i, name := range []string{"id", "context", "input", "output"} {
		if !seen[i] {
			l.fail(n, at+"."+name, "missing")
		}
	}

	if m.Context > 0 && m.MaxOutput > m.Context {
		l.fail(n, at+".max_output", "%d is more than the context window of %d", m.MaxOutput, m.Context)
	}
	if m.Modalities == nil {
		m.Modalities = []string{"text"}
	}
	return m, len(l.problems) == before
}

// tokens parses a positive token count.
func (l *catalogLoader) tokens(v *yaml.Node, path string) int {
	n, err := strconv.Atoi(v.Value)
	if err != nil || n <= 0 || n > 1e9 {
		l.fail(v, path, "want a positive number of tokens, got %q", v.Value)
		return 0
	}
	return n
}

func (l *catalogLoader) price(v *yaml.Node, path string) money.Money {
	p, err := parsePrice(v.Value)
	if err != nil {
		l.fail(v, path, "%v", err)
	}
	return p
}

// rate parses one price field of a rate list into r and reports whether
// key is one.
func (l *catalogLoader) rate(key string, v *yaml.Node, path string, r *Rates) bool {
	var dst *money.Money
	switch key {
	case "input":
		dst = &r.Input
	case "output":
		dst = &r.Output
	case "cache_read":
		dst = &r.CacheRead
	case "cache_write":
		dst = &r.CacheWrite
	case "cache_write_1h":
		dst = &r.CacheWrite1h
	case "reasoning":
		dst = &r.Reasoning
	default:
		return false
	}
	*dst = l.price(v, path)
	return true
}

// tier parses a pricing tier, {input: "2.50", output: "10", ...}, into r;
// a long-prompt tier (long) also has above, the prompt size it starts
// past, which tier returns. A tier needs input and output.
func (l *catalogLoader) tier(n *yaml.Node, path string, r *Rates, long bool) (above int64) {
	if n.Kind != yaml.MappingNode {
		l.fail(n, path, "want a mapping of prices such as {input: \"1.25\", output: \"10\"}")
		return 0
	}
	if !l.uniqueKeys(n, path) {
		return 0
	}
	var in, out bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		at := path + "." + k.Value
		switch {
		case v.Kind != yaml.ScalarNode:
			l.fail(v, at, "want a single value")
		case long && k.Value == "above":
			above = int64(l.tokens(v, at))
		case l.rate(k.Value, v, at, r):
			in = in || k.Value == "input"
			out = out || k.Value == "output"
		default:
			l.fail(k, at, "unknown field")
		}
	}
	if long && above == 0 {
		l.fail(n, path+".above", "missing")
	}
	if !in || !out {
		l.fail(n, path, "want input and output prices")
	}
	return above
}

// retired parses retired: true, or the date the provider retired the
// model (2026-11-30).
func (l *catalogLoader) retired(v *yaml.Node, path string) bool {
	if v.Value == "true" {
		return true
	}
	if _, err := time.Parse(time.DateOnly, v.Value); err != nil {
		l.fail(v, path, "want true or a date like 2026-11-30, got %q", v.Value)
		return false
	}
	return true
}

// parsePrice parses a catalog or override price: plain non-negative
// decimal dollars such as "2.50" or "0.0375", exact to the nano-dollar.
// It is money.Parse without the sign and "$" that ParseMoney takes.
func parsePrice(s string) (money.Money, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("cannot parse price %q: want plain decimal dollars like 2.50, without sign or \"$\"", s)
	}
	return money.Parse(s)
}

func (l *catalogLoader) modalities(v *yaml.Node, path string) []string {
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		l.fail(v, path, "want a list such as [text, image]")
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for _, e := range v.Content {
		i := slices.Index(knownModalities, e.Value)
		switch {
		case e.Kind != yaml.ScalarNode || i < 0:
			l.fail(e, path, "unknown modality %q; known are %s", e.Value, strings.Join(knownModalities, ", "))
		case slices.Contains(out, knownModalities[i]):
			l.fail(e, path, "duplicate modality %q", e.Value)
		default:
			out = append(out, knownModalities[i]) // shares the string
		}
	}
	return out
}
