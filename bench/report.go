package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Scenario kinds.
const (
	kindLatency  = "latency"
	kindOpenLoop = "open_loop"
	kindStream   = "stream"
	kindChaos    = "chaos"
	kindCancel   = "cancel"
	kindMemory   = "memory"
)

// Report is everything one bench run measured.
type Report struct {
	Machine   Machine    `json:"machine"`
	Mock      string     `json:"mock"`
	Scenarios []Scenario `json:"scenarios"`
	Goals     []Goal     `json:"goals,omitempty"`
}

// Scenario is one way of loading the targets and what each target did.
type Scenario struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Rate   int    `json:"rate,omitempty"` // open loop: requests per second asked
	Method string `json:"method"`
	Noise  *Noise `json:"noise,omitempty"`
	Rows   []Row  `json:"rows"`
	// Billing is what metering costs in this scenario, absent unless
	// both built-in gateways answered.
	Billing *BillingDelta `json:"billing_on_vs_off,omitempty"`
	// Chaos is the chaos scenario's failover figures.
	Chaos *Chaos `json:"chaos,omitempty"`
	// Cancel is the cancel scenario's figures; its rows' latency is from
	// a client's close to the upstream connection's.
	Cancel *Cancel `json:"cancel,omitempty"`
	// Memory is the memory scenario's figures per target.
	Memory *Memory `json:"memory,omitempty"`
	// CrossFormat is, in the cross-format scenarios, the client API and
	// the provider format the gateways translate between
	// ("anthropic-to-openai"); empty where they pass OpenAI chat
	// completions through.
	CrossFormat string `json:"cross_format,omitempty"`
	// Skipped says why the scenario measured nothing, when it did not.
	Skipped string `json:"skipped,omitempty"`
	// Feature is, in the feature scenarios, the gateway feature they
	// measure ("response-cache", "web", "compression"); their gateway rows
	// are named for what they call, and the goals do not judge them.
	Feature string `json:"feature,omitempty"`
	// Deltas compare targets of the scenario with each other: what a
	// cache hit saves over the uncached call, what :web adds to a plain
	// one, what compression adds.
	Deltas []Delta `json:"deltas,omitempty"`
	// Web is the :web scenario's search figures.
	Web *WebFigures `json:"web,omitempty"`
	// Compression is the compression scenario's token and latency
	// figures.
	Compression *Compression `json:"compression,omitempty"`
	// WebSocket is the WebSocket scenario's figures per way.
	WebSocket *WebSocketFigures `json:"websocket,omitempty"`
}

// Delta is one target's figures minus another's, measured in the same
// scenario. Latencies are differences of percentiles, in microseconds.
type Delta struct {
	Target  string      `json:"target"`
	Minus   string      `json:"minus"`
	Latency Percentiles `json:"latency_us"`
	// TTFB is, for streams, the difference in time to the first content
	// chunk.
	TTFB *Percentiles `json:"ttfb_us,omitempty"`
	// CPUPerRequest is the difference in CPU time per request, absent
	// unless both were measured.
	CPUPerRequest *float64 `json:"cpu_us_per_request,omitempty"`
}

// rowDelta returns target's row minus ref's; nil unless both answered.
func rowDelta(rows []Row, target, ref string) *Delta {
	a, b := findRow(rows, target), findRow(rows, ref)
	if a == nil || b == nil || a.Requests == 0 || b.Requests == 0 {
		return nil
	}
	d := &Delta{Target: target, Minus: ref, Latency: a.Latency.minus(b.Latency)}
	if a.TTFB != nil && b.TTFB != nil {
		d.TTFB = ptr(a.TTFB.minus(*b.TTFB))
	}
	if a.CPUPerRequest != nil && b.CPUPerRequest != nil {
		d.CPUPerRequest = ptr(*a.CPUPerRequest - *b.CPUPerRequest)
	}
	return d
}

// rowDeltas returns the deltas of the pairs {target, ref} that both
// answered.
func rowDeltas(rows []Row, pairs ...[2]string) []Delta {
	var ds []Delta
	for _, p := range pairs {
		if d := rowDelta(rows, p[0], p[1]); d != nil {
			ds = append(ds, *d)
		}
	}
	return ds
}

// BillingDelta is the billing-on gateway's figures minus the billing-off
// gateway's, measured in the same scenario: what the reservation, the
// ledger entry and their bookkeeping add. Like "over floor", latencies
// are differences of percentiles, in microseconds.
type BillingDelta struct {
	Latency Percentiles `json:"latency_us"`
	// TTFB is, for streams, the difference in time to the first content
	// chunk, which the reservation precedes.
	TTFB *Percentiles `json:"ttfb_us,omitempty"`
	// CPUPerRequest is the difference in CPU time per request, absent
	// unless both were measured.
	CPUPerRequest *float64 `json:"cpu_us_per_request,omitempty"`
}

// billingDelta compares the billing-on and billing-off gateways' rows;
// nil unless both answered.
func billingDelta(rows []Row) *BillingDelta {
	d := rowDelta(rows, targetGateway, targetGatewayNoBill)
	if d == nil {
		return nil
	}
	return &BillingDelta{Latency: d.Latency, TTFB: d.TTFB, CPUPerRequest: d.CPUPerRequest}
}

// Row is one target's result in a scenario. Latencies are microseconds;
// "over" fields are the target's percentile minus the reference's
// percentile, absent for the reference itself. Requests counts the
// measured answers; RPS and CPU time per request count every answer,
// including the open loop's unmeasured lead-in.
type Row struct {
	Target     string       `json:"target"`
	Requests   int64        `json:"requests"`
	Errors     int64        `json:"errors"`
	FirstError string       `json:"first_error,omitempty"`
	RPS        float64      `json:"rps"`
	Latency    Percentiles  `json:"latency_us"`
	OverDirect *Percentiles `json:"over_direct_us,omitempty"`
	OverFloor  *Percentiles `json:"over_floor_us,omitempty"`
	// CPUPerRequest is the CPU time of the target's process per request,
	// absent when the bench did not start the process.
	CPUPerRequest *float64 `json:"cpu_us_per_request,omitempty"`
	CPUError      string   `json:"cpu_error,omitempty"`
	PeakRSS       int64    `json:"peak_rss_bytes,omitempty"`

	// SendLag is, in the open loop, how late the bench sent requests.
	SendLag *Percentiles `json:"send_lag_us,omitempty"`

	// TTFB is, for streams, the time to the first content chunk.
	TTFB           *Percentiles `json:"ttfb_us,omitempty"`
	TTFBOverDirect *Percentiles `json:"ttfb_over_direct_us,omitempty"`
	TTFBOverFloor  *Percentiles `json:"ttfb_over_floor_us,omitempty"`
	// ChunkDelay is, for streams, the mean gap between content chunks
	// minus the mock's gap: what relaying adds to each chunk.
	ChunkDelay           *float64 `json:"chunk_delay_us,omitempty"`
	ChunkDelayOverDirect *float64 `json:"chunk_delay_over_direct_us,omitempty"`
	ChunkDelayOverFloor  *float64 `json:"chunk_delay_over_floor_us,omitempty"`
}

// buildRows turns the tallies of a scenario into rows, comparing each
// target with direct and floor. mockGap is the mock's chunk gap in stream
// scenarios, 0 otherwise.
func buildRows(targets []*target, tallies []*tally, mockGap time.Duration) []Row {
	rows := make([]Row, len(targets))
	for i, t := range targets {
		tl := tallies[i]
		r := Row{
			Target:     t.name,
			Requests:   tl.ok,
			Errors:     tl.errs,
			FirstError: tl.firstErr,
			RPS:        rate(tl.served, tl.busy),
			Latency:    percentiles(tl.lat),
		}
		if tl.lag.TotalCount() > 0 {
			r.SendLag = ptr(percentiles(tl.lag))
		}
		if tl.ttfb.TotalCount() > 0 {
			r.TTFB = ptr(percentiles(tl.ttfb))
		}
		if tl.gap.TotalCount() > 0 {
			r.ChunkDelay = ptr((tl.gap.Mean() - float64(mockGap)) / 1e3)
		}
		if t.proc != nil {
			if tl.cpuErr != nil {
				r.CPUError = tl.cpuErr.Error()
			} else if us, ok := perRequest(tl.ticks, tl.served); ok {
				r.CPUPerRequest = &us
			}
			if rss, err := peakRSS(t.proc.pid); err == nil {
				r.PeakRSS = rss
			}
		}
		rows[i] = r
	}
	for _, ref := range []string{targetDirect, targetFloor} {
		base := findRow(rows, ref)
		if base == nil || base.Requests == 0 {
			continue
		}
		for i := range rows {
			r := &rows[i]
			if r.Target == ref || r.Requests == 0 {
				continue
			}
			over := ptr(r.Latency.minus(base.Latency))
			var ttfb *Percentiles
			var chunk *float64
			if r.TTFB != nil && base.TTFB != nil {
				ttfb = ptr(r.TTFB.minus(*base.TTFB))
			}
			if r.ChunkDelay != nil && base.ChunkDelay != nil {
				chunk = ptr(*r.ChunkDelay - *base.ChunkDelay)
			}
			if ref == targetDirect {
				r.OverDirect, r.TTFBOverDirect, r.ChunkDelayOverDirect = over, ttfb, chunk
			} else {
				r.OverFloor, r.TTFBOverFloor, r.ChunkDelayOverFloor = over, ttfb, chunk
			}
		}
	}
	return rows
}

func ptr[T any](v T) *T { return &v }

// findRow returns the row of target name, or nil.
func findRow(rows []Row, name string) *Row {
	for i := range rows {
		if rows[i].Target == name {
			return &rows[i]
		}
	}
	return nil
}

// writeJSON writes r as indented JSON.
func (r *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("cannot write the JSON report: %w", err)
	}
	return nil
}

// writeMarkdown writes r as markdown: the machine, a table per scenario,
// the errors, and the goals.
func (r *Report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "## Switchboard overhead bench\n\n")
	fmt.Fprintf(&b, "- CPU: %s, %d CPUs available\n", m.CPU, m.CPUs)
	if m.Kernel != "" {
		fmt.Fprintf(&b, "- Linux %s\n", m.Kernel)
	}
	fmt.Fprintf(&b, "- Go: %s\n", m.GoVersion)
	fmt.Fprintf(&b, "- Pinning: %s\n", m.Pinning)
	fmt.Fprintf(&b, "- Mock provider: %s\n", r.Mock)
	fmt.Fprintf(&b, "- Latencies in µs; \"over direct\" and \"over floor\" are the target's percentile minus the reference's, as p50 / p90 / p99 / p99.9\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "\n### %s\n\n", s.Name)
		if s.Method != "" {
			fmt.Fprintf(&b, "%s\n\n", s.Method)
		}
		if n := s.Noise; n != nil && n.Pinned {
			fmt.Fprintf(&b, "Other processes and interrupts took %.1f%% of the bench CPU and %.1f%% of the proxy CPU meanwhile.\n\n", n.BenchCPU, n.ProxyCPU)
		} else if n != nil {
			fmt.Fprintf(&b, "Other processes and interrupts took %.1f%% of the CPUs meanwhile.\n\n", n.BenchCPU)
		}
		if s.Skipped != "" {
			fmt.Fprintf(&b, "**Not measured: %s.**\n", s.Skipped)
		}
		switch {
		case len(s.Rows) == 0:
			// Nothing measured.
		case s.Kind == kindStream:
			writeStreamTable(&b, s.Rows)
			b.WriteString("\nTTFB: until the first content chunk. Chunk delay: mean gap between content chunks minus the mock's gap; it includes the mock's timer overshoot, so compare it across targets.\n")
		case s.Kind == kindChaos && s.Chaos != nil:
			writeChaos(&b, s)
		case s.Kind == kindCancel && s.Cancel != nil:
			writeCancel(&b, s)
		case s.Kind == kindMemory && s.Memory != nil:
			writeMemory(&b, s)
		default:
			writeLatencyTable(&b, s)
		}
		if (s.CrossFormat != "" || s.Feature != "") && len(s.Rows) > 0 {
			writeOverDirect(&b, s)
		}
		writeDeltas(&b, s)
		if s.Web != nil {
			writeWeb(&b, s.Web)
		}
		if s.Compression != nil {
			writeCompression(&b, s.Compression)
		}
		if s.WebSocket != nil {
			writeWebSocket(&b, s.WebSocket)
		}
		if d := s.Billing; d != nil {
			fmt.Fprintf(&b, "\nBilling on vs off (%s minus %s): %s.\n", targetGateway, targetGatewayNoBill, d.describe(s.Kind))
		}
		for _, row := range s.Rows {
			if row.Errors > 0 {
				fmt.Fprintf(&b, "\n%s: %d errors, first: %s\n", row.Target, row.Errors, row.FirstError)
			}
			if row.CPUError != "" {
				fmt.Fprintf(&b, "\n%s: CPU time not measured: %s\n", row.Target, row.CPUError)
			}
		}
	}
	writeBillingTable(&b, r.Scenarios)
	if len(r.Goals) > 0 {
		fmt.Fprintf(&b, "\n### Goals (DESIGN.md)\n\n| goal | measured | status |\n|---|---|---|\n")
		for _, g := range r.Goals {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", g.Goal, g.Measured, g.Status)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("cannot write the report: %w", err)
	}
	return nil
}

func writeLatencyTable(b *strings.Builder, s Scenario) {
	lag := s.Kind == kindOpenLoop
	b.WriteString("| target | ok | errors | req/s | p50 | p90 | p99 | p99.9 | over direct | over floor | CPU µs/req | peak RSS |")
	if lag {
		b.WriteString(" send lag p50 / p99 |")
	}
	b.WriteString("\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	if lag {
		b.WriteString("--:|")
	}
	b.WriteByte('\n')
	for _, r := range s.Rows {
		fmt.Fprintf(b, "| %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |",
			r.Target, r.Requests, r.Errors, r.RPS,
			us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.P999),
			added(r.OverDirect), added(r.OverFloor), cpu(r.CPUPerRequest), mib(r.PeakRSS))
		if lag {
			if r.SendLag != nil {
				fmt.Fprintf(b, " %s / %s |", us(r.SendLag.P50), us(r.SendLag.P99))
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteByte('\n')
	}
}

func writeStreamTable(b *strings.Builder, rows []Row) {
	b.WriteString("| target | ok | errors | TTFB p50 | p90 | p99 | p99.9 | TTFB over direct | TTFB over floor | chunk delay | over direct | over floor | stream p50 | CPU µs/stream | peak RSS |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		t := Percentiles{P50: math.NaN(), P90: math.NaN(), P99: math.NaN(), P999: math.NaN()}
		if r.TTFB != nil {
			t = *r.TTFB
		}
		fmt.Fprintf(b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Target, r.Requests, r.Errors, us(t.P50), us(t.P90), us(t.P99), us(t.P999),
			added(r.TTFBOverDirect), added(r.TTFBOverFloor),
			signed(r.ChunkDelay), signed(r.ChunkDelayOverDirect), signed(r.ChunkDelayOverFloor),
			us(r.Latency.P50), cpu(r.CPUPerRequest), mib(r.PeakRSS))
	}
}

// writeOverDirect writes what each target adds over direct in s, p50 /
// p90 / p99: to the first content chunk and to the whole answer, with its
// CPU time per request.
func writeOverDirect(b *strings.Builder, s Scenario) {
	b.WriteString("\nAdded over direct, µs (p50 / p90 / p99):\n\n| target | TTFB over direct | total over direct | CPU µs/req |\n|---|--:|--:|--:|\n")
	for _, r := range s.Rows {
		if r.Target == targetDirect {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", r.Target, added3(r.TTFBOverDirect), added3(r.OverDirect), cpu(r.CPUPerRequest))
	}
}

// writeDeltas writes the scenario's deltas, one line each.
func writeDeltas(b *strings.Builder, s Scenario) {
	if len(s.Deltas) == 0 {
		return
	}
	b.WriteString("\n| target | minus | ")
	if s.Kind == kindStream {
		b.WriteString("TTFB p50 / p90 / p99 | whole stream p50 / p90 / p99 | CPU µs/stream |\n|---|---|--:|--:|--:|\n")
	} else {
		b.WriteString("p50 / p90 / p99 | CPU µs/req |\n|---|---|--:|--:|\n")
	}
	for _, d := range s.Deltas {
		fmt.Fprintf(b, "| %s | %s | ", d.Target, d.Minus)
		if s.Kind == kindStream {
			fmt.Fprintf(b, "%s | ", added3(d.TTFB))
		}
		fmt.Fprintf(b, "%s | %s |\n", added3(&d.Latency), signed(d.CPUPerRequest))
	}
}

// writeChaos writes the chaos scenario: both targets' latencies and
// attempts, the success rate, what failover adds, the breakers' effect
// over time, and the faults seen on both sides.
func writeChaos(b *strings.Builder, s Scenario) {
	c := s.Chaos
	b.WriteString("| target | ok | errors | req/s | p50 | p90 | p99 | p99.9 | mean attempts | CPU µs/req |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i, r := range s.Rows {
		attempts := c.PlainMeanAttempts
		if i > 0 {
			attempts = c.MeanAttempts
		}
		fmt.Fprintf(b, "| %s | %d | %d | %.0f | %s | %s | %s | %s | %.3f | %s |\n",
			r.Target, r.Requests, r.Errors, r.RPS,
			us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.P999), attempts, cpu(r.CPUPerRequest))
	}
	fmt.Fprintf(b, "\nSuccess: %s of %d calls through the chaos route (%d failed; goal 100%%). Failover adds %s µs (p50 / p90 / p99 / p99.9, chaos minus plain).\n",
		successRate(c.Successes, c.Calls), c.Calls, c.Calls-c.Successes, added(&c.Added))
	fmt.Fprintf(b, "\nAttempts per call: mean %.3f, at most %d; %d calls (%s) needed more than one: %.1f%% in the first second of the chaos route's windows, %.1f%% in the last (circuit breakers: 5 failures in a row open a target for 30 s).\n",
		c.MeanAttempts, c.MaxAttempts, c.Retried, share(c.Retried, c.Calls), c.FirstSecondRetried, c.LastSecondRetried)
	fmt.Fprintf(b, "\nFailed attempts in x-switchboard-fallback: %s. Answered by (x-switchboard-provider): %s.\n", reasons(c.Fallbacks), reasons(c.Answered))
	fmt.Fprintf(b, "\nThe mock received %d requests for the flaky targets and drew %d 500s, %d resets and %d stalls; the gateway reported %d attempts on them (failures plus answers)",
		c.Injected.Draws, c.Injected.Fails, c.Injected.Resets, c.Injected.Stalls, c.FlakyAttempts)
	if c.Uncounted != 0 {
		fmt.Fprintf(b, ": %d requests no attempt accounts for, re-sent by the gateway's HTTP client on its own", c.Uncounted)
	}
	b.WriteString(".\n")
	if len(c.Timeline) > 0 {
		b.WriteString("\n| second | calls | >1 attempt | failed | p99 |\n|--:|--:|--:|--:|--:|\n")
		for _, t := range c.Timeline {
			fmt.Fprintf(b, "| %d | %d | %.1f%% | %d | %s |\n", t.Second, t.Calls, t.RetriedPct, t.Failed, us(t.P99))
		}
	}
}

// successRate formats succeeded of calls as a percentage that reads 100%
// only when every call succeeded.
func successRate(succeeded, calls int64) string {
	switch {
	case calls == 0:
		return "—"
	case succeeded == calls:
		return "100%"
	}
	return fmt.Sprintf("%.3f%%", math.Floor(100000*float64(succeeded)/float64(calls))/1000)
}

// share formats n of total in percent.
func share(n, total int64) string {
	if total == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}

// reasons formats fallback reason counts, most frequent first.
func reasons(counts map[string]int64) string {
	if len(counts) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// describe says what billing costs in a scenario of kind, in one line.
func (d *BillingDelta) describe(kind string) string {
	var b strings.Builder
	if kind == kindStream && d.TTFB != nil {
		fmt.Fprintf(&b, "TTFB %s µs, whole stream %s µs", added(d.TTFB), added(&d.Latency))
	} else {
		fmt.Fprintf(&b, "latency %s µs", added(&d.Latency))
	}
	b.WriteString(" (p50 / p90 / p99 / p99.9)")
	if d.CPUPerRequest != nil {
		unit := "request"
		if kind == kindStream {
			unit = "stream"
		}
		fmt.Fprintf(&b, ", CPU %s µs per %s", signed(d.CPUPerRequest), unit)
	}
	return b.String()
}

// writeBillingTable sums up what billing costs, one row per scenario that
// measured both built-in gateways; for streams, the latency is the time
// to the first content chunk.
func writeBillingTable(b *strings.Builder, scenarios []Scenario) {
	header := false
	for _, s := range scenarios {
		d := s.Billing
		if d == nil {
			continue
		}
		if !header {
			header = true
			fmt.Fprintf(b, "\n### Billing on vs off\n\n%s minus %s, same run, same windows: what the reservation, the ledger entry and the TPM limit's token charge add. Latencies in µs; for streams, the time to the first content chunk.\n\n", targetGateway, targetGatewayNoBill)
			b.WriteString("| scenario | p50 | p90 | p99 | p99.9 | CPU µs/req |\n|---|--:|--:|--:|--:|--:|\n")
		}
		name, lat := s.Name, d.Latency
		if s.Kind == kindStream && d.TTFB != nil {
			name, lat = s.Name+" (TTFB)", *d.TTFB
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", name,
			signed(&lat.P50), signed(&lat.P90), signed(&lat.P99), signed(&lat.P999), signed(d.CPUPerRequest))
	}
}

// us formats microseconds: one decimal below 100, none above.
func us(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.Abs(v) < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// signed formats microseconds with a sign; "—" for nil.
func signed(v *float64) string {
	if v == nil {
		return "—"
	}
	if *v >= 0 {
		return "+" + us(*v)
	}
	return us(*v)
}

// added formats the four added latencies as "+a / +b / +c / +d".
func added(p *Percentiles) string {
	if p == nil {
		return "—"
	}
	return signed(&p.P50) + " / " + signed(&p.P90) + " / " + signed(&p.P99) + " / " + signed(&p.P999)
}

// added3 formats the added p50, p90 and p99 as "+a / +b / +c".
func added3(p *Percentiles) string {
	if p == nil {
		return "—"
	}
	return signed(&p.P50) + " / " + signed(&p.P90) + " / " + signed(&p.P99)
}

func cpu(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f", *v)
}

func mib(bytes int64) string {
	if bytes <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
}
