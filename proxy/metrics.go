package proxy

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"switchboard/router"
	"switchboard/store"
)

// Gateway-wide metrics, on the default VictoriaMetrics set served at
// /metrics.
var (
	openStreams     = metrics.NewGauge(`switchboard_open_streams`, nil)
	overheadSeconds = metrics.NewHistogram(`switchboard_overhead_seconds`)
)

// maxLabelSets caps the distinct label sets per metric family: model
// names come from clients ("provider/anything"), and an unbounded number
// of series would let a client exhaust the gateway's memory. Beyond the
// cap the model label reads "other".
const maxLabelSets = 2000

// labels identify one series of the per-call metrics.
type labels struct {
	surface  string
	model    string
	provider string
	status   int
}

// callMetrics are the series of one label set.
type callMetrics struct {
	requests  *metrics.Counter
	duration  *metrics.Histogram
	upstream  *metrics.Histogram
	tokensIn  *metrics.Counter
	tokensOut *metrics.Counter
}

// metricCache finds the series of a label set without building names on
// the hot path: names are formatted once, on a label set's first call.
type metricCache struct {
	mu sync.RWMutex
	m  map[labels]*callMetrics
}

func (mc *metricCache) get(l labels) *callMetrics {
	mc.mu.RLock()
	cm := mc.m[l]
	mc.mu.RUnlock()
	if cm != nil {
		return cm
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m == nil {
		mc.m = map[labels]*callMetrics{}
	}
	if len(mc.m) >= maxLabelSets {
		l.model = "other"
	}
	// The key must not point into a request body.
	l.model = strings.Clone(l.model)
	if cm = mc.m[l]; cm != nil {
		return cm
	}
	route := `{surface="` + l.surface + `",model="` + escapeLabel(l.model) + `",provider="` + l.provider + `"`
	cm = &callMetrics{
		requests:  metrics.GetOrCreateCounter(`switchboard_requests_total` + route + `,status="` + strconv.Itoa(l.status) + `"}`),
		duration:  metrics.GetOrCreateHistogram(`switchboard_request_duration_seconds` + route + `}`),
		upstream:  metrics.GetOrCreateHistogram(`switchboard_upstream_duration_seconds` + route + `}`),
		tokensIn:  metrics.GetOrCreateCounter(`switchboard_tokens_total` + route + `,direction="in"}`),
		tokensOut: metrics.GetOrCreateCounter(`switchboard_tokens_total` + route + `,direction="out"}`),
	}
	mc.m[l] = cm
	return cm
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// targetMetrics are the per-target series: breaker state (0 closed, 1
// open, 2 half-open) and first-byte latency average as gauges, and the
// upstream attempts, found by the target's Health without building names
// on the hot path. Built with each runtime; read-only after.
type targetMetrics struct {
	attempts map[*router.Health]*metrics.Counter
	series   map[string]*router.Health // by label set, for the next runtime's
}

// newTargetMetrics registers the series of every tracked target of an
// enabled provider. prev are the running runtime's, or nil: a series
// whose target kept its Health is kept; one whose target is gone or has
// a new Health (its provider changed) is unregistered first, so that no
// gauge reads a Health no call updates. Series registered by an earlier
// Server in the process are kept.
func newTargetMetrics(r *router.Router, prev *targetMetrics) *targetMetrics {
	tm := &targetMetrics{attempts: map[*router.Health]*metrics.Counter{}, series: map[string]*router.Health{}}
	for _, t := range r.Tracked() {
		if h := t.Health; !t.Provider.Disabled && h != nil {
			tm.series[`{provider="`+t.Provider.Name+`",model="`+escapeLabel(t.Model)+`"}`] = h
		}
	}
	if prev != nil {
		for labels, h := range prev.series {
			if tm.series[labels] != h {
				for _, name := range targetSeries {
					metrics.UnregisterMetric(name + labels)
				}
			}
		}
	}
	for labels, h := range tm.series {
		metrics.GetOrCreateGauge(`switchboard_target_breaker_state`+labels, func() float64 { return float64(h.State()) })
		metrics.GetOrCreateGauge(`switchboard_target_first_byte_seconds`+labels, func() float64 { return h.Latency().Seconds() })
		tm.attempts[h] = metrics.GetOrCreateCounter(`switchboard_upstream_attempts_total` + labels)
	}
	return tm
}

// targetSeries are the names of the per-target series.
var targetSeries = [...]string{`switchboard_target_breaker_state`, `switchboard_target_first_byte_seconds`, `switchboard_upstream_attempts_total`}

// untrackedAttempts counts attempts at targets nobody tracks (a client's
// "provider/anything").
var untrackedAttempts = metrics.NewCounter(`switchboard_upstream_attempts_total{provider="other",model="other"}`)

// attempt counts one upstream attempt at t.
func (tm *targetMetrics) attempt(t *router.Target) {
	if c := tm.attempts[t.Health]; c != nil {
		c.Inc()
		return
	}
	untrackedAttempts.Inc()
}

// record adds one finished call to the metrics.
func (mc *metricCache) record(l labels, total, upstream time.Duration, in, out int64) {
	cm := mc.get(l)
	cm.requests.Inc()
	cm.duration.Update(total.Seconds())
	if upstream > 0 {
		cm.upstream.Update(upstream.Seconds())
	}
	if in > 0 {
		cm.tokensIn.Add(int(in))
	}
	if out > 0 {
		cm.tokensOut.Add(int(out))
	}
	overheadSeconds.Update((total - upstream).Seconds())
}

// tokenKinds name the billed token kinds of the usage series, in the
// order of spendMetrics.tokens.
var tokenKinds = [...]string{"input", "output", "cache_read", "cache_write", "reasoning"}

// spendMetrics are the spend and billed-token series of one label set.
type spendMetrics struct {
	spend  *metrics.Counter
	tokens [len(tokenKinds)]*metrics.Counter
}

// add counts e's cost and tokens.
func (sm *spendMetrics) add(e *store.Entry) {
	if e.Cost > 0 {
		sm.spend.Add(int(e.Cost))
	}
	for i, n := range [...]int64{e.InputTokens, e.OutputTokens, e.CacheReadTokens, e.CacheWriteTokens, e.ReasoningTokens} {
		if n > 0 {
			sm.tokens[i].Add(int(n))
		}
	}
}

// spendLabels identify a spend series: by route (model, provider) or,
// with only key set, by key.
type spendLabels struct{ model, provider, key string }

// spendCache holds the spend series: switchboard_spend_nanodollars_total
// and switchboard_usage_tokens_total{kind} by model and provider, and
// switchboard_key_spend_nanodollars_total and
// switchboard_key_usage_tokens_total{kind} by key. Keys are bounded by
// the keys that exist (only an authenticated key is billed); both are
// capped at maxLabelSets label sets like the call metrics, the model or
// key reading "other" beyond.
type spendCache struct {
	mu           sync.RWMutex
	m            map[spendLabels]*spendMetrics
	routes, keys int
}

// record counts the cost and tokens of a settled entry under the route's
// model (as switchboard_requests_total names it) and under its key.
func (sc *spendCache) record(e *store.Entry, model string) {
	sc.get(spendLabels{model: model, provider: e.Provider}).add(e)
	if e.KeyID != "" {
		sc.get(spendLabels{key: e.KeyID}).add(e)
	}
}

func (sc *spendCache) get(l spendLabels) *spendMetrics {
	sc.mu.RLock()
	sm := sc.m[l]
	sc.mu.RUnlock()
	if sm != nil {
		return sm
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.m == nil {
		sc.m = map[spendLabels]*spendMetrics{}
	}
	byKey := l.key != ""
	switch {
	case byKey && sc.keys >= maxLabelSets:
		l.key = "other"
	case !byKey && sc.routes >= maxLabelSets:
		l.model = "other"
	}
	l = spendLabels{strings.Clone(l.model), strings.Clone(l.provider), strings.Clone(l.key)}
	if sm = sc.m[l]; sm != nil {
		return sm
	}
	spendName, tokensName := `switchboard_spend_nanodollars_total`, `switchboard_usage_tokens_total`
	set := `{model="` + escapeLabel(l.model) + `",provider="` + escapeLabel(l.provider) + `"`
	if byKey {
		spendName, tokensName = `switchboard_key_spend_nanodollars_total`, `switchboard_key_usage_tokens_total`
		set = `{key="` + escapeLabel(l.key) + `"`
		sc.keys++
	} else {
		sc.routes++
	}
	sm = &spendMetrics{spend: metrics.GetOrCreateCounter(spendName + set + `}`)}
	for i, kind := range tokenKinds {
		sm.tokens[i] = metrics.GetOrCreateCounter(tokensName + set + `,kind="` + kind + `"}`)
	}
	sc.m[l] = sm
	return sm
}
