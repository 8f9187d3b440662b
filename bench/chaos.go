package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
)

// The chaos scenario (issue 5): the gateway's "chaos" route lists two
// flaky targets, the mock failing at random, in front of two healthy ones,
// all four the same mock under different provider names. The route is
// called through the billing-on gateway in alternating windows with the
// plain mock-model through the same gateway; every call should succeed,
// and the difference of the two is what failover costs.
const (
	chaosModel = "chaos"
	// chaosFaults are the flaky targets' mock directives: 20% 500s, 5%
	// resets before the answer, 5% stalls longer than the first-byte
	// timeout. The mock draws them from a generator seeded with
	// -chaos-seed.
	chaosFaults = "fail=0.2+resetp=0.05+stallp=0.05+stall=5s"
	// chaosFirstByte is the flaky providers' first-byte timeout: a stall
	// costs a call this long before the gateway moves on.
	chaosFirstByte = 300 * time.Millisecond
	chaosAttempts  = 4
	chaosBudget    = 10 * time.Second
)

// chaosProvider is a provider of the chaos route: a name for the mock.
type chaosProvider struct {
	name  string
	flaky bool
}

// chaosProviders are the chaos route's providers, in its priority order.
var chaosProviders = []chaosProvider{
	{name: "flaky1", flaky: true},
	{name: "flaky2", flaky: true},
	{name: "good1"},
	{name: "good2"},
}

// chaosTargets returns the chaos route's targets, provider/model: the
// flaky providers' model carries the fault directives, which the gateway
// sends upstream as the model id.
func chaosTargets() []string {
	targets := make([]string, len(chaosProviders))
	for i, p := range chaosProviders {
		model := mockModel
		if p.flaky {
			model += "+" + chaosFaults
		}
		targets[i] = p.name + "/" + model
	}
	return targets
}

// Response headers of the gateway's failover.
const (
	headerProvider = "x-switchboard-provider"
	headerAttempts = "x-switchboard-attempts"
	headerFallback = "x-switchboard-fallback"
)

// Chaos is what the chaos scenario measured beyond its rows.
type Chaos struct {
	Route       []string `json:"route"`  // the route's targets, in order
	Faults      string   `json:"faults"` // the flaky targets' directives
	FirstByteMS float64  `json:"flaky_first_byte_timeout_ms"`
	Concurrency int      `json:"concurrency"`
	Seed        uint64   `json:"seed"`

	Calls       int64   `json:"calls"`
	Successes   int64   `json:"successes"`
	SuccessRate float64 `json:"success_rate_pct"`
	// Added is the chaos route's latency percentiles minus the plain
	// model's, µs: what failover costs.
	Added Percentiles `json:"added_latency_us"`
	// MeanAttempts is x-switchboard-attempts averaged over the calls that
	// carried it; Retried counts calls with more than one attempt.
	MeanAttempts      float64 `json:"mean_attempts"`
	PlainMeanAttempts float64 `json:"plain_mean_attempts"`
	MaxAttempts       int     `json:"max_attempts"`
	Retried           int64   `json:"retried_calls"`
	// FirstSecondRetried and LastSecondRetried are the share of calls,
	// in percent, that needed more than one attempt in the first and the
	// last second of the chaos route's windows: the breakers at work.
	FirstSecondRetried float64 `json:"first_second_retried_pct"`
	LastSecondRetried  float64 `json:"last_second_retried_pct"`
	// Timeline splits the chaos route's windows into whole seconds of
	// their combined time.
	Timeline []ChaosSecond `json:"timeline"`
	// Fallbacks counts the failed attempts the gateway reported in
	// x-switchboard-fallback, by reason ("500", "error" for a reset,
	// "timeout-first" for a stall).
	Fallbacks map[string]int64 `json:"fallback_reasons"`
	// Answered counts the successful calls by the provider that answered
	// (x-switchboard-provider).
	Answered map[string]int64 `json:"answered_by"`
	// Injected is what the mock drew for the flaky targets meanwhile: one
	// draw per upstream request it received for them.
	Injected mock.Injected `json:"mock_injected"`
	// FlakyAttempts counts the attempts on the flaky targets the gateway
	// reported: failures in x-switchboard-fallback and answers. Uncounted
	// is Injected.Draws minus FlakyAttempts: requests the mock received
	// for the flaky targets that no attempt accounts for, that is,
	// requests the gateway's HTTP client re-sent on its own.
	FlakyAttempts int64 `json:"flaky_attempts"`
	Uncounted     int64 `json:"uncounted_upstream_requests"`
}

// ChaosSecond is one second of the chaos route's windows.
type ChaosSecond struct {
	Second     int     `json:"second"` // 1 is the first
	Calls      int64   `json:"calls"`
	Retried    int64   `json:"retried"`
	RetriedPct float64 `json:"retried_pct"`
	Failed     int64   `json:"failed"`
	P99        float64 `json:"p99_us"`
}

// chaosSample is one call: when it started in the target's windows'
// combined time, how long it took, how many attempts the gateway made
// (0: no header) and whether it failed.
type chaosSample struct {
	at       time.Duration
	took     time.Duration
	attempts int
	failed   bool
}

// chaosLog collects the samples of one target, the failed attempts by
// reason and by provider, and the answers by provider.
type chaosLog struct {
	mu        sync.Mutex
	samples   []chaosSample
	reasons   map[string]int64
	failedAt  map[string]int64
	answerers map[string]int64
}

func newChaosLog() *chaosLog {
	return &chaosLog{reasons: map[string]int64{}, failedAt: map[string]int64{}, answerers: map[string]int64{}}
}

// add logs a call; provider and fallback are its response headers.
func (l *chaosLog) add(s chaosSample, provider, fallback []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = append(l.samples, s)
	if !s.failed && len(provider) > 0 {
		l.answerers[string(provider)]++
	}
	for _, f := range parseFallback(fallback) {
		l.reasons[f.reason]++
		l.failedAt[f.provider]++
	}
}

// failedAttempt is one item of x-switchboard-fallback.
type failedAttempt struct{ provider, reason string }

// parseFallback reads x-switchboard-fallback, "provider/model (reason),
// provider/model (reason)"; the gateway keeps commas out of model ids
// there.
func parseFallback(h []byte) []failedAttempt {
	if len(h) == 0 {
		return nil
	}
	var out []failedAttempt
	for item := range bytes.SplitSeq(h, []byte(", ")) {
		provider, _, _ := bytes.Cut(item, []byte("/"))
		f := failedAttempt{provider: string(provider), reason: "unparsed"}
		if open := bytes.LastIndexByte(item, '('); open >= 0 && bytes.HasSuffix(item, []byte(")")) {
			f.reason = string(item[open+1 : len(item)-1])
		}
		out = append(out, f)
	}
	return out
}

// runChaos is the chaos scenario: plain, the billing-on gateway serving
// mock-model, and chaos, the same gateway serving the chaos route, take
// turns in windows of o.chaosWindow with o.chaosWorkers calls in flight;
// injected reads the mock's fault counters.
func runChaos(ctx context.Context, plain *target, o *options, injected func() mock.Injected) Scenario {
	chaos := plain.withModel(targetChaos, chaosModel)
	targets := []*target{plain, chaos}
	n := rounds(o.chaosDur, o.chaosWindow, len(targets))
	perWindow := max(1, o.chaosMaxRequests/n)
	tallies := newTallies(len(targets))
	logs := []*chaosLog{newChaosLog(), newChaosLog()}
	before := injected()
	alternate(ctx, targets, tallies, n, func(i int) {
		chaosWindow(targets[i], tallies[i], logs[i], o, perWindow)
	})
	after := injected()
	rows := buildRows(targets, tallies, 0)
	c := summarizeChaos(rows, logs, []time.Duration{tallies[0].busy, tallies[1].busy})
	c.Route, c.Faults, c.FirstByteMS, c.Concurrency, c.Seed = chaosTargets(), chaosFaults, float64(chaosFirstByte)/1e6, o.chaosWorkers, o.chaosSeed
	c.Injected = mock.Injected{
		Draws:  after.Draws - before.Draws,
		Fails:  after.Fails - before.Fails,
		Resets: after.Resets - before.Resets,
		Stalls: after.Stalls - before.Stalls,
	}
	c.Uncounted = c.Injected.Draws - c.FlakyAttempts
	return Scenario{
		Name: fmt.Sprintf("chaos c=%d", o.chaosWorkers),
		Kind: kindChaos,
		Method: fmt.Sprintf("non-streaming, %d calls in flight, through %s: model %q (the mock) and model %q (route %s; flaky: %s, first-byte timeout %s; retry: %d attempts, %s budget); %d rounds of one %s window per target, at most %d calls per window; every call counts",
			o.chaosWorkers, targetGateway, mockModel, chaosModel, strings.Join(chaosTargets(), ", "), chaosFaults, chaosFirstByte, chaosAttempts, chaosBudget, n, o.chaosWindow, perWindow),
		Rows:  rows,
		Chaos: c,
	}
}

// withModel returns a target of the same endpoint and connections as t,
// named name, calling model.
func (t *target) withModel(name, model string) *target {
	c := *t
	c.name = name
	c.setCall(t.api, model)
	return &c
}

// chaosWindow runs o.chaosWorkers closed loops of calls to t until the
// window has passed or limit calls have started, always at least one, and
// waits for the calls in flight. Every call is measured: the first call
// of a window is no more special than the failovers around it.
func chaosWindow(t *target, tl *tally, log *chaosLog, o *options, limit int) {
	base := tl.busy // alternate adds the window after it
	start := time.Now()
	end := start.Add(o.chaosWindow)
	var started atomic.Int64
	var wg sync.WaitGroup
	for range o.chaosWorkers {
		wg.Go(func() {
			req, resp := t.request(false), new(fasthttp.Response)
			for {
				k := started.Add(1)
				if k > int64(limit) || k > 1 && !time.Now().Before(end) {
					return
				}
				sent := time.Now()
				err := t.call(req, resp, sent.Add(o.timeout))
				s := chaosSample{at: base + sent.Sub(start), took: time.Since(sent), failed: err != nil}
				s.attempts, _ = strconv.Atoi(string(resp.Header.Peek(headerAttempts)))
				provider, fallback := resp.Header.Peek(headerProvider), resp.Header.Peek(headerFallback)
				if err != nil {
					if s.attempts > 0 || len(fallback) > 0 {
						err = fmt.Errorf("%w (attempts %d, fallback %q)", err, s.attempts, fallback)
					}
					tl.fail(err)
				} else {
					tl.add(s.took)
				}
				log.add(s, provider, fallback)
				resp.Reset()
			}
		})
	}
	wg.Wait()
}

// summarizeChaos sums up the samples of plain (logs[0]) and chaos
// (logs[1]), whose windows took busy in all.
func summarizeChaos(rows []Row, logs []*chaosLog, busy []time.Duration) *Chaos {
	l := logs[1]
	c := &Chaos{Fallbacks: l.reasons, Answered: l.answerers}
	for _, p := range chaosProviders {
		if p.flaky {
			c.FlakyAttempts += l.failedAt[p.name] + l.answerers[p.name]
		}
	}
	if rows[0].Requests > 0 && rows[1].Requests > 0 {
		c.Added = rows[1].Latency.minus(rows[0].Latency)
	}
	c.PlainMeanAttempts, _ = meanAttempts(logs[0].samples)
	samples := logs[1].samples
	c.MeanAttempts, c.MaxAttempts = meanAttempts(samples)
	c.Calls = int64(len(samples))
	for _, s := range samples {
		if !s.failed {
			c.Successes++
		}
		if s.attempts > 1 {
			c.Retried++
		}
	}
	if c.Calls > 0 {
		c.SuccessRate = 100 * float64(c.Successes) / float64(c.Calls)
	}
	total := busy[1]
	c.FirstSecondRetried = retriedPct(samples, func(at time.Duration) bool { return at < time.Second })
	c.LastSecondRetried = retriedPct(samples, func(at time.Duration) bool { return at >= total-time.Second })
	c.Timeline = timeline(samples)
	return c
}

// meanAttempts averages the attempts of the samples that reported them.
func meanAttempts(samples []chaosSample) (mean float64, most int) {
	var sum, n int
	for _, s := range samples {
		if s.attempts > 0 {
			sum += s.attempts
			n++
			most = max(most, s.attempts)
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(sum) / float64(n), most
}

// retriedPct is the share of the samples started when in returns true
// that needed more than one attempt, in percent.
func retriedPct(samples []chaosSample, in func(time.Duration) bool) float64 {
	var n, retried int
	for _, s := range samples {
		if in(s.at) {
			n++
			if s.attempts > 1 {
				retried++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return 100 * float64(retried) / float64(n)
}

// timeline groups the samples by the second of the windows' combined time
// they started in.
func timeline(samples []chaosSample) []ChaosSecond {
	var secs []ChaosSecond
	var took [][]time.Duration
	for _, s := range samples {
		i := int(s.at / time.Second)
		for len(secs) <= i {
			secs = append(secs, ChaosSecond{Second: len(secs) + 1})
			took = append(took, nil)
		}
		secs[i].Calls++
		if s.attempts > 1 {
			secs[i].Retried++
		}
		if s.failed {
			secs[i].Failed++
		}
		took[i] = append(took[i], s.took)
	}
	for i := range secs {
		if secs[i].Calls == 0 {
			continue
		}
		secs[i].RetriedPct = 100 * float64(secs[i].Retried) / float64(secs[i].Calls)
		slices.Sort(took[i])
		// The nearest rank: the smallest latency at least 99% of the
		// second's calls did not exceed.
		k := (99*len(took[i]) + 99) / 100
		secs[i].P99 = float64(took[i][max(k, 1)-1]) / 1e3
	}
	return secs
}
