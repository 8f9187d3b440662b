package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"

	"switchboard/configs"
	"switchboard/store/money"
)

// ErrBadPrefs means a request's provider preferences are malformed or
// leave no target to try (400).
var ErrBadPrefs = errors.New("bad provider preferences")

// Strategy is how a request orders a route's targets. The zero Strategy
// means "the route's own".
type Strategy uint8

// The strategies; see configs.Route.Strategy.
const (
	StrategyPriority   Strategy = iota + 1 // config order
	StrategyWeighted                       // random by weight
	StrategyLatency                        // lowest first-byte latency first
	StrategyThroughput                     // most tokens per second first
	StrategyPrice                          // cheapest input+output price first
	StrategyDefault                        // random by weight/price², OpenRouter's balancing
)

var strategyNames = [...]string{
	StrategyPriority:   "priority",
	StrategyWeighted:   "weighted",
	StrategyLatency:    "latency",
	StrategyThroughput: "throughput",
	StrategyPrice:      "price",
	StrategyDefault:    "default",
}

// String returns the strategy's config name, or "" for the zero Strategy.
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return "Strategy(" + strconv.Itoa(int(s)) + ")"
}

// ParseStrategy returns the strategy of a config name.
func ParseStrategy(name string) (Strategy, bool) {
	for s, n := range strategyNames {
		if n != "" && n == name {
			return Strategy(s), true
		}
	}
	return 0, false
}

// Policy is how a route orders its targets and fails over. Policies are
// shared by all requests of a route and read-only.
type Policy struct {
	// Strategy orders the targets; never zero.
	Strategy Strategy
	// Fallbacks are model names to Resolve and try, in order, once every
	// target failed or when a target says the prompt is too long. They are
	// not followed transitively: a fallback's own Fallbacks are ignored.
	Fallbacks []string
	// Attempts bounds the upstream calls of one request, over all targets
	// and fallbacks, the first call included.
	Attempts int
	// Budget bounds the time one request spends failing over: no attempt
	// starts after it.
	Budget time.Duration
	// Cache turns the response cache on or off for the route; nil keeps
	// the config's default.
	Cache *bool
	// Compression is the route's context compression; nil for none.
	Compression *configs.Compression
	// Hedge is the route's hedging (proxy/hedge.go); nil for none.
	Hedge *configs.Hedge

	retryOn [4]uint64 // bit i: status 400+i is retried
}

// set fills p from a config route, applying the defaults of zero fields.
func (p *Policy) set(rt configs.Route) error {
	def := configs.DefaultRetry()
	*p = Policy{Strategy: StrategyPriority, Fallbacks: rt.Fallbacks, Attempts: rt.Retry.Attempts, Budget: rt.Retry.Budget.D(), Cache: rt.Cache, Compression: rt.Compression, Hedge: rt.Hedge}
	if rt.Strategy != "" {
		s, ok := ParseStrategy(rt.Strategy)
		if !ok {
			return fmt.Errorf("unknown strategy %q", rt.Strategy)
		}
		p.Strategy = s
	}
	setDefault(&p.Attempts, def.Attempts)
	setDefault(&p.Budget, def.Budget.D())
	statuses := rt.Retry.OnStatus
	if statuses == nil {
		statuses = def.OnStatus
	}
	for _, st := range statuses {
		if st < 400 || st > 599 {
			return fmt.Errorf("retry status %d is not 400 to 599", st)
		}
		p.retryOn[(st-400)/64] |= 1 << ((st - 400) % 64)
	}
	return nil
}

// RetryOn reports whether an upstream answer with this status moves the
// request on to the next target.
func (p *Policy) RetryOn(status int) bool {
	i := status - 400
	return i >= 0 && i < 200 && p.retryOn[i/64]&(1<<(i%64)) != 0
}

// Backoff returns how long to wait before attempt n (1 for the first
// retry) when it goes to a target this request already tried: a random
// duration up to 100ms·2^(n-1), at most 2s ("full jitter"). Moving on to
// a target not yet tried needs no wait.
func (p *Policy) Backoff(n int) time.Duration {
	ceil := 2 * time.Second
	if n >= 1 && n < 5 {
		ceil = 100 * time.Millisecond << (n - 1)
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// ProviderPrefs are a request's per-call routing preferences, in the shape
// of OpenRouter's "provider" object. The zero value changes nothing.
// Provider names match case-insensitively.
type ProviderPrefs struct {
	// Order lists providers to try first, in this order; the others
	// follow in the route's order.
	Order []string
	// Only keeps just the targets of these providers.
	Only []string
	// Ignore drops the targets of these providers.
	Ignore []string
	// NoFallbacks is allow_fallbacks: false: try only the providers in
	// Order, or without Order only the first target.
	NoFallbacks bool
	// Sort replaces the route's strategy: StrategyPrice, StrategyLatency
	// or StrategyThroughput; zero keeps it.
	Sort Strategy
	// MaxPrompt and MaxCompletion cap the input and output price per
	// million tokens (max_price.prompt and .completion). Targets above a
	// cap, or without a catalog price, are dropped.
	MaxPrompt, MaxCompletion money.Money
	// HasMaxPrompt and HasMaxCompletion say which caps are set; a cap of
	// 0 allows only free targets.
	HasMaxPrompt, HasMaxCompletion bool
}

// ParseProviderPrefs parses the JSON of a request's "provider" object.
// Known fields must have the right type (null means unset); unknown fields
// (require_parameters, data_collection, quantizations, ...) and the
// max_price caps other than prompt and completion are ignored, since the
// gateway cannot act on them. Errors wrap ErrBadPrefs and name the field.
func ParseProviderPrefs(raw []byte) (ProviderPrefs, error) {
	var p ProviderPrefs
	// encoding/json's check, not sonic.Valid, which passes a truncated
	// literal such as `nu` that sonic.Get then reads past the end of.
	if !json.Valid(raw) {
		return p, fmt.Errorf("%w: provider is not valid JSON", ErrBadPrefs)
	}
	root, err := sonic.Get(raw)
	if err != nil {
		return p, fmt.Errorf("%w: provider: %v", ErrBadPrefs, err)
	}
	switch root.TypeSafe() {
	case ast.V_NULL:
		return p, nil
	case ast.V_OBJECT:
	default:
		return p, fmt.Errorf("%w: provider: want an object", ErrBadPrefs)
	}
	it, err := root.Properties()
	if err != nil {
		return p, fmt.Errorf("%w: provider: %v", ErrBadPrefs, err)
	}
	var kv ast.Pair
	for it.Next(&kv) {
		v := &kv.Value
		if v.TypeSafe() == ast.V_NULL {
			continue
		}
		switch kv.Key {
		case "order":
			p.Order, err = stringList(v, "provider.order")
		case "only":
			p.Only, err = stringList(v, "provider.only")
		case "ignore":
			p.Ignore, err = stringList(v, "provider.ignore")
		case "allow_fallbacks":
			var b bool
			b, err = v.StrictBool()
			if err != nil {
				err = fmt.Errorf("%w: provider.allow_fallbacks: want true or false", ErrBadPrefs)
			}
			p.NoFallbacks = !b
		case "sort":
			name, _ := v.StrictString()
			switch s, _ := ParseStrategy(name); s {
			case StrategyPrice, StrategyLatency, StrategyThroughput:
				p.Sort = s
			default:
				err = fmt.Errorf(`%w: provider.sort: want "price", "latency" or "throughput", got %s`, ErrBadPrefs, rawText(v))
			}
		case "max_price":
			err = p.parseMaxPrice(v)
		}
		if err != nil {
			return ProviderPrefs{}, err
		}
	}
	return p, nil
}

func (p *ProviderPrefs) parseMaxPrice(v *ast.Node) error {
	if v.TypeSafe() != ast.V_OBJECT {
		return fmt.Errorf("%w: provider.max_price: want an object like {\"prompt\": 1, \"completion\": 2}", ErrBadPrefs)
	}
	it, err := v.Properties()
	if err != nil {
		return fmt.Errorf("%w: provider.max_price: %v", ErrBadPrefs, err)
	}
	var kv ast.Pair
	for it.Next(&kv) {
		var dst *money.Money
		var has *bool
		switch kv.Key {
		case "prompt":
			dst, has = &p.MaxPrompt, &p.HasMaxPrompt
		case "completion":
			dst, has = &p.MaxCompletion, &p.HasMaxCompletion
		default:
			continue
		}
		if kv.Value.TypeSafe() == ast.V_NULL {
			continue
		}
		m, ok := jsonPrice(&kv.Value)
		if !ok {
			return fmt.Errorf("%w: provider.max_price.%s: want a number of dollars per million tokens from 0 to 1000000, got %s", ErrBadPrefs, kv.Key, rawText(&kv.Value))
		}
		*dst, *has = m, true
	}
	return nil
}

// jsonPrice reads a JSON number of dollars per million tokens.
func jsonPrice(v *ast.Node) (money.Money, bool) {
	if v.TypeSafe() != ast.V_NUMBER {
		return 0, false
	}
	n, err := v.StrictNumber()
	if err != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || !(f >= 0 && f <= 1e6) {
		return 0, false
	}
	return money.Money(math.Round(f * float64(money.Dollar))), true
}

func stringList(v *ast.Node, field string) ([]string, error) {
	bad := fmt.Errorf("%w: %s: want a list of provider names, got %s", ErrBadPrefs, field, rawText(v))
	if v.TypeSafe() != ast.V_ARRAY {
		return nil, bad
	}
	it, err := v.Values()
	if err != nil {
		return nil, bad
	}
	list := make([]string, 0, it.Len())
	var e ast.Node
	for it.Next(&e) {
		s, err := e.StrictString()
		if err != nil || s == "" {
			return nil, bad
		}
		list = append(list, s)
	}
	return list, nil
}

// rawText is a JSON value for an error message, cut short.
func rawText(v *ast.Node) string {
	s, err := v.Raw()
	if err != nil {
		return "?"
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// rank is a target's sort key in Order: group first (health, then the
// position in provider.order, then a tail bit), then key.
type rank struct {
	group uint32
	key   float64
}

const (
	groupUnready = 1 << 31 // breaker refuses calls: try last
	groupTail    = 1       // no price or no latency sample: after the others
	orderShift   = 8       // position in provider.order, above the tail bit
)

// Order writes rt's targets into dst[:0] in the order one request should
// try them, and returns the result; it allocates only when dst is too
// small or rt has more than 16 targets. p (may be nil) filters and
// reorders as the request's provider preferences ask; rnd (nil for the
// global source) drives the random strategies.
//
// The order: targets whose breaker refuses calls at now go last (they are
// not dropped); then targets in p.Order, in its order; then the strategy:
// p.Sort if set, else price for ":floor", latency for ":nitro", else the
// route's. Within the latency and throughput strategies, targets without
// a sample come after those with one, and one request in Options.Explore
// puts a random target first so that every average stays fresh. Under the
// price and default strategies unpriced targets come after priced ones.
//
// Errors wrap ErrBadPrefs: an unknown provider in p, or no target left
// after p's filters.
func (r *Router) Order(dst []Target, rt *Route, p *ProviderPrefs, now time.Time, rnd *rand.Rand) ([]Target, error) {
	dst = dst[:0]
	if p != nil {
		if err := r.checkPrefs(p); err != nil {
			return dst, err
		}
	}
	for i := range rt.Targets {
		if p == nil || p.admits(&rt.Targets[i]) {
			dst = append(dst, rt.Targets[i])
		}
	}
	if len(dst) == 0 {
		return dst, noTargetLeft(rt, p)
	}

	var buf [16]rank
	ranks := buf[:0]
	if len(dst) > len(buf) {
		ranks = make([]rank, 0, len(dst))
	}
	s := rt.Policy.strategyFor(rt.Suffixes, p)
	t := now.UnixNano()
	for i := range dst {
		tg := &dst[i]
		var k rank
		if tg.Health != nil && !tg.Health.readyAt(t) {
			k.group |= groupUnready
		}
		if p != nil && len(p.Order) > 0 {
			k.group |= uint32(min(indexFold(p.Order, tg.Provider.Name), 1<<20)) << orderShift
		}
		switch s {
		case StrategyWeighted:
			k.key = expFloat(rnd) / float64(tg.Weight)
		case StrategyLatency:
			if d := tg.Health.Latency(); d > 0 {
				k.key = float64(d)
			} else {
				k.group |= groupTail
			}
		case StrategyThroughput:
			if tps := tg.Health.Throughput(); tps > 0 {
				k.key = -tps
			} else {
				k.group |= groupTail
			}
		case StrategyPrice:
			if tg.Entry != nil {
				k.key = float64(tg.Entry.Price.Input + tg.Entry.Price.Output)
			} else {
				k.group |= groupTail
			}
		case StrategyDefault:
			// Exponential race: sorting by E/w, E ~ Exp(1), draws targets
			// without replacement with probability proportional to w.
			k.key = expFloat(rnd) / float64(tg.Weight)
			if tg.Entry != nil {
				price := float64(tg.Entry.Price.Input + tg.Entry.Price.Output)
				k.key *= price * price // w = weight/price²; a free target always wins
			} else {
				k.group |= groupTail
			}
		}
		ranks = append(ranks, k)
	}
	if (s == StrategyLatency || s == StrategyThroughput) && r.explore > 0 && len(dst) > 1 && uintN(rnd, r.explore) == 0 {
		j := uintN(rnd, uint64(len(dst)))
		ranks[j].group &^= groupTail
		ranks[j].key = math.Inf(-1)
	}
	sortRanked(dst, ranks)

	if p != nil && p.NoFallbacks {
		if len(p.Order) == 0 {
			return dst[:1], nil
		}
		kept := dst[:0]
		for _, tg := range dst {
			if indexFold(p.Order, tg.Provider.Name) < len(p.Order) {
				kept = append(kept, tg)
			}
		}
		if len(kept) == 0 {
			return kept, fmt.Errorf("%w: provider.order %q with allow_fallbacks false names no provider of %q (%s)", ErrBadPrefs, p.Order, rt.Model, providersOf(rt))
		}
		dst = kept
	}
	return dst, nil
}

// strategyFor picks the strategy of one request.
func (pol *Policy) strategyFor(suffixes Suffixes, p *ProviderPrefs) Strategy {
	switch {
	case p != nil && p.Sort != 0:
		return p.Sort
	case suffixes.Has(SuffixFloor):
		return StrategyPrice
	case suffixes.Has(SuffixNitro):
		return StrategyLatency
	case pol == nil:
		return StrategyPriority
	}
	return pol.Strategy
}

// sortRanked sorts dst by ranks, stably: insertion sort, since routes are
// short and it needs no allocation or closure.
func sortRanked(dst []Target, ranks []rank) {
	less := func(a, b rank) bool { return a.group < b.group || a.group == b.group && a.key < b.key }
	for i := 1; i < len(dst); i++ {
		for j := i; j > 0 && less(ranks[j], ranks[j-1]); j-- {
			ranks[j], ranks[j-1] = ranks[j-1], ranks[j]
			dst[j], dst[j-1] = dst[j-1], dst[j]
		}
	}
}

// checkPrefs rejects provider names the gateway does not know.
func (r *Router) checkPrefs(p *ProviderPrefs) error {
	for _, l := range [...]struct {
		field string
		names []string
	}{{"order", p.Order}, {"only", p.Only}, {"ignore", p.Ignore}} {
		for _, name := range l.names {
			if indexFold(r.names, name) == len(r.names) {
				return fmt.Errorf("%w: provider.%s: unknown provider %q; the gateway's providers are %s", ErrBadPrefs, l.field, name, strings.Join(r.names, ", "))
			}
		}
	}
	return nil
}

// admits reports whether t passes p's only, ignore and max_price filters.
func (p *ProviderPrefs) admits(t *Target) bool {
	if len(p.Only) > 0 && indexFold(p.Only, t.Provider.Name) == len(p.Only) {
		return false
	}
	if indexFold(p.Ignore, t.Provider.Name) < len(p.Ignore) {
		return false
	}
	return p.withinPrice(t)
}

func (p *ProviderPrefs) withinPrice(t *Target) bool {
	if !p.HasMaxPrompt && !p.HasMaxCompletion {
		return true
	}
	if t.Entry == nil {
		return false
	}
	return (!p.HasMaxPrompt || t.Entry.Price.Input <= p.MaxPrompt) &&
		(!p.HasMaxCompletion || t.Entry.Price.Output <= p.MaxCompletion)
}

// noTargetLeft explains why p's filters left none of rt's targets.
func noTargetLeft(rt *Route, p *ProviderPrefs) error {
	if p == nil {
		return fmt.Errorf("%w: %q has no target", ErrBadPrefs, rt.Model)
	}
	byName := 0
	for i := range rt.Targets {
		t := &rt.Targets[i]
		if (len(p.Only) == 0 || indexFold(p.Only, t.Provider.Name) < len(p.Only)) && indexFold(p.Ignore, t.Provider.Name) == len(p.Ignore) {
			byName++
		}
	}
	if byName == 0 {
		return fmt.Errorf("%w: provider.only %q and provider.ignore %q leave no provider of %q (%s)", ErrBadPrefs, p.Only, p.Ignore, rt.Model, providersOf(rt))
	}
	var b strings.Builder
	b.WriteString("provider.max_price (")
	if p.HasMaxPrompt {
		fmt.Fprintf(&b, "prompt $%s", p.MaxPrompt.AppendDecimal(nil))
	}
	if p.HasMaxCompletion {
		if p.HasMaxPrompt {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "completion $%s", p.MaxCompletion.AppendDecimal(nil))
	}
	fmt.Fprintf(&b, " per million tokens) is below every target of %q:", rt.Model)
	for i := range rt.Targets {
		t := &rt.Targets[i]
		fmt.Fprintf(&b, " %s/%s", t.Provider.Name, t.Model)
		if t.Entry == nil {
			b.WriteString(" (no price)")
		} else {
			fmt.Fprintf(&b, " ($%s/$%s)", t.Entry.Price.Input.AppendDecimal(nil), t.Entry.Price.Output.AppendDecimal(nil))
		}
	}
	return fmt.Errorf("%w: %s", ErrBadPrefs, b.String())
}

func providersOf(rt *Route) string {
	names := make([]string, len(rt.Targets))
	for i, t := range rt.Targets {
		names[i] = t.Provider.Name
	}
	return strings.Join(names, ", ")
}

// indexFold returns the index of name in list, ignoring case, or
// len(list).
func indexFold(list []string, name string) int {
	for i, s := range list {
		if strings.EqualFold(s, name) {
			return i
		}
	}
	return len(list)
}

func expFloat(rnd *rand.Rand) float64 {
	if rnd == nil {
		return rand.ExpFloat64()
	}
	return rnd.ExpFloat64()
}

func uintN(rnd *rand.Rand, n uint64) uint64 {
	if rnd == nil {
		return rand.Uint64N(n)
	}
	return rnd.Uint64N(n)
}
