package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/corpus"
	"switchboard/bench/mock"
)

// The compression scenario (issue 6): conversations of the corpus
// generator (package corpus: a coding agent's requests late in a session,
// from about 6k to 150k tokens) go non-streaming to the mock directly and
// through the billing-on gateway for mock-model with context compression
// off and on (x-switchboard-compression). Each target's window sends
// every conversation once, in the same order, so that all targets are
// measured on the same mix. The gateway's own headers say how many tokens
// the request had before and after compression; the mock's last request
// says how many bytes went upstream.
const (
	featureCompression = "compression"
	compressionName    = "context compression"

	targetCompressOff = targetGateway + " compression off"
	targetCompressOn  = targetGateway + " compression on"

	headerCompression  = "x-switchboard-compression"
	headerTokensBefore = "x-switchboard-tokens-before"
	headerTokensAfter  = "x-switchboard-tokens-after"

	// compressionBudget bounds the scenario's time whatever the corpus
	// and the gateway do: no round starts after it.
	compressionBudget = 30 * time.Second
)

// Compression is what the compression scenario measured beyond its rows.
type Compression struct {
	// Available is false when the gateway does not compress (it answers
	// without the token headers); Note says why, and nothing else is set.
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`

	Seed          uint64 `json:"seed,omitempty"`
	Conversations int    `json:"conversations,omitempty"`
	Rounds        int    `json:"rounds,omitempty"`

	// Token reduction per conversation, 1 - after/before from the
	// gateway's headers, in percent: over the conversations, the median,
	// the 90th percentile (the nearest rank: 90% of the conversations
	// were reduced by at most this much), the least and the most.
	ReductionP50 float64 `json:"reduction_p50_pct"`
	ReductionP90 float64 `json:"reduction_p90_pct"`
	ReductionMin float64 `json:"reduction_min_pct"`
	ReductionMax float64 `json:"reduction_max_pct"`
	// TokensBefore and TokensAfter sum the conversations'.
	TokensBefore int64 `json:"tokens_before"`
	TokensAfter  int64 `json:"tokens_after"`
	// Added is, per conversation, the median latency with compression
	// minus the median without, µs: its median and 90th percentile over
	// the conversations (the percentile rows' differences are in the
	// scenario's deltas).
	AddedP50 float64 `json:"added_p50_us"`
	AddedP90 float64 `json:"added_p90_us"`
	// Stages counts the conversations each stage changed, from
	// x-switchboard-compression.
	Stages map[string]int `json:"stages,omitempty"`
	// PerConversation lists each conversation's figures, smallest first.
	PerConversation []CompressedConversation `json:"per_conversation,omitempty"`
}

// CompressedConversation is one conversation of the compression scenario.
type CompressedConversation struct {
	Bytes        int     `json:"bytes"` // the request body the client sent
	Messages     int     `json:"messages"`
	TokensBefore int64   `json:"tokens_before"`
	TokensAfter  int64   `json:"tokens_after"`
	Reduction    float64 `json:"reduction_pct"`
	Stages       string  `json:"stages"`
	// UpstreamBytesOff and UpstreamBytesOn are the body sizes the mock
	// received from the gateway without and with compression.
	UpstreamBytesOff int `json:"upstream_bytes_off"`
	UpstreamBytesOn  int `json:"upstream_bytes_on"`
	// Median latencies, µs: direct, compression off and on, and on minus
	// off.
	DirectP50 float64 `json:"direct_p50_us"`
	OffP50    float64 `json:"off_p50_us"`
	OnP50     float64 `json:"on_p50_us"`
	Added     float64 `json:"added_us"`
}

// compressionCorpus returns the bodies of n conversations of the corpus
// generated from seed, as OpenAI chat completions for mock-model,
// non-streaming, smallest first, and their message counts.
func compressionCorpus(seed uint64, n int) (bodies [][]byte, messages []int, err error) {
	for _, r := range corpus.Corpus(seed, n) {
		r.Model, r.Stream = mockModel, false
		b, err := corpus.ChatJSON(r)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot encode the compression corpus: %w", err)
		}
		bodies = append(bodies, b)
		messages = append(messages, len(r.Messages))
	}
	return bodies, messages, nil
}

// compressionTargets returns direct and the billing-on gateway with
// compression off and on (whose every answer must carry the token
// headers); nothing without that gateway. The scenario sets their bodies.
func compressionTargets(targets []*target) []*target {
	gw := gatewayOwnConns(targets)
	if gw == nil {
		return nil
	}
	var out []*target
	if d := findTarget(targets, targetDirect); d != nil {
		out = append(out, d)
	}
	off := gw.withModel(targetCompressOff, mockModel)
	off.headers = []header{{headerCompression, "off"}}
	on := gw.withModel(targetCompressOn, mockModel)
	on.headers = []header{{headerCompression, "on"}}
	on.check = func(h *fasthttp.ResponseHeader) error {
		_, _, err := compressionHeaders(h)
		return err
	}
	return append(out, off, on)
}

// compressionHeaders reads the token counts an answer compressed by the
// gateway carries.
func compressionHeaders(h *fasthttp.ResponseHeader) (before, after int64, err error) {
	for _, f := range []struct {
		name string
		dst  *int64
	}{{headerTokensBefore, &before}, {headerTokensAfter, &after}} {
		v := h.Peek(f.name)
		if len(v) == 0 {
			return 0, 0, fmt.Errorf("no %s header", f.name)
		}
		if *f.dst, err = strconv.ParseInt(string(v), 10, 64); err != nil || *f.dst < 0 {
			return 0, 0, fmt.Errorf("%s: %q, want a token count", f.name, v)
		}
	}
	if after > before {
		return 0, 0, fmt.Errorf("%s %d > %s %d", headerTokensAfter, after, headerTokensBefore, before)
	}
	return before, after, nil
}

// compressionProbe sends the smallest conversation with compression on
// and reports whether the gateway compresses: "" if it does, or why not.
func compressionProbe(on *target, body []byte, timeout time.Duration) string {
	probe := *on
	probe.check = nil
	req, resp := probe.request(false), new(fasthttp.Response)
	req.SetBodyRaw(body)
	if err := probe.call(req, resp, time.Now().Add(timeout)); err != nil {
		return fmt.Sprintf("compression not available: a request with %s: on failed: %v", headerCompression, err)
	}
	if _, _, err := compressionHeaders(&resp.Header); err != nil {
		return fmt.Sprintf("compression not available in this build: the answer to %s: on has %v", headerCompression, err)
	}
	return ""
}

// compressionUnavailable is the scenario when the gateway does not
// compress.
func compressionUnavailable(note string) Scenario {
	return Scenario{Name: compressionName, Kind: kindLatency, Feature: featureCompression, Skipped: note,
		Method: "Conversations of the corpus generator with " + headerCompression + " on and off.", Compression: &Compression{Note: note}}
}

// runCompression is the compression scenario over direct and the gateway
// with compression off and on (compressionTargets); last reads the mock's
// last request.
func runCompression(ctx context.Context, targets []*target, bodies [][]byte, messages []int, last func() mock.Recorded, o *options) Scenario {
	on := findTarget(targets, targetCompressOn)
	if note := compressionProbe(on, bodies[0], o.timeout); note != "" {
		return compressionUnavailable(note)
	}
	if err := warmPass(targets, bodies, o.timeout); err != nil {
		s := compressionUnavailable("the warm-up pass over the corpus failed: " + err.Error())
		s.Compression = nil // it compresses; something else broke
		return s
	}
	ctx, cancel := context.WithTimeout(ctx, compressionBudget)
	defer cancel()
	tallies := newTallies(len(targets))
	lat := make([][][]time.Duration, len(targets))
	for i := range lat {
		lat[i] = make([][]time.Duration, len(bodies))
	}
	convs := make([]CompressedConversation, len(bodies))
	seen := make([]bool, len(bodies))
	resp := new(fasthttp.Response)
	windows := make([]int, len(targets))
	alternate(ctx, targets, tallies, o.compressionRounds, func(i int) {
		t, tl := targets[i], tallies[i]
		windows[i]++
		req := t.request(false)
		// The first call wakes the target after its idle turn: counted,
		// not measured.
		req.SetBodyRaw(bodies[0])
		if err := t.call(req, resp, time.Now().Add(o.timeout)); err != nil {
			tl.fail(err)
		} else {
			tl.addUnmeasured()
		}
		for j, body := range bodies {
			req.SetBodyRaw(body)
			start := time.Now()
			err := t.call(req, resp, start.Add(o.timeout))
			took := time.Since(start)
			if err != nil {
				tl.fail(fmt.Errorf("conversation %d: %w", j, err))
				continue
			}
			tl.add(took)
			lat[i][j] = append(lat[i][j], took)
			c := &convs[j]
			switch t.name {
			case targetCompressOn:
				before, after, _ := compressionHeaders(&resp.Header)
				stages := string(resp.Header.Peek(headerCompression))
				if seen[j] && (before != c.TokensBefore || after != c.TokensAfter || stages != c.Stages) {
					tl.fail(fmt.Errorf("conversation %d: compressed to %d of %d tokens (%s), before to %d of %d (%s): not deterministic",
						j, after, before, stages, c.TokensAfter, c.TokensBefore, c.Stages))
				}
				if !seen[j] {
					seen[j] = true
					c.TokensBefore, c.TokensAfter, c.Stages = before, after, stages
					c.UpstreamBytesOn = len(last().Body)
				}
			case targetCompressOff:
				if c.UpstreamBytesOff == 0 {
					c.UpstreamBytesOff = len(last().Body)
				}
			}
		}
	})
	rounds := slices.Min(windows) // whole rounds, if the budget cut one short
	rows := buildRows(targets, tallies, 0)
	s := Scenario{
		Name:    compressionName,
		Kind:    kindLatency,
		Feature: featureCompression,
		Method: fmt.Sprintf("%d conversations of the corpus generator (package bench/corpus, seed %d: coding-agent requests late in a session, %d to %d tokens, spread log-uniformly), non-streaming OpenAI chat completions for %s, one request at a time, to direct and to %s with %s: off and on; each of %d rounds (at most %s) gives every target one window in which it sends every conversation once, smallest first, after an unmeasured wake-up request. %s must carry %s and %s on every answer (anything else counts as an error)",
			len(bodies), o.compressionSeed, corpus.MinTokens, corpus.MaxTokens, mockModel, targetGateway, headerCompression,
			rounds, compressionBudget, targetCompressOn, headerTokensBefore, headerTokensAfter),
		Rows: rows,
	}
	s.Deltas = rowDeltas(rows, [2]string{targetCompressOn, targetCompressOff}, [2]string{targetCompressOff, targetDirect})
	s.Compression = summarizeCompression(convs, seen, lat, targets, bodies, messages)
	s.Compression.Seed, s.Compression.Rounds = o.compressionSeed, rounds
	return s
}

// summarizeCompression sums up the conversations' figures: lat holds each
// target's latencies by conversation, seen which conversations the
// compression-on target answered.
func summarizeCompression(convs []CompressedConversation, seen []bool, lat [][][]time.Duration, targets []*target, bodies [][]byte, messages []int) *Compression {
	c := &Compression{Available: true, Conversations: len(convs), Stages: map[string]int{}}
	index := func(name string) int {
		for i, t := range targets {
			if t.name == name {
				return i
			}
		}
		return -1
	}
	direct, off, on := index(targetDirect), index(targetCompressOff), index(targetCompressOn)
	median := func(target, conv int) float64 {
		if target < 0 || len(lat[target][conv]) == 0 {
			return 0
		}
		ds := slices.Clone(lat[target][conv])
		slices.Sort(ds)
		return float64(ds[(len(ds)-1)/2]) / 1e3
	}
	var reductions, added []float64
	for j := range convs {
		cv := &convs[j]
		cv.Bytes, cv.Messages = len(bodies[j]), messages[j]
		cv.DirectP50, cv.OffP50, cv.OnP50 = median(direct, j), median(off, j), median(on, j)
		if !seen[j] {
			continue
		}
		if cv.TokensBefore > 0 {
			cv.Reduction = 100 * (1 - float64(cv.TokensAfter)/float64(cv.TokensBefore))
		}
		reductions = append(reductions, cv.Reduction)
		c.TokensBefore += cv.TokensBefore
		c.TokensAfter += cv.TokensAfter
		if cv.OffP50 > 0 {
			cv.Added = cv.OnP50 - cv.OffP50
			added = append(added, cv.Added)
		}
		for st := range strings.SplitSeq(cv.Stages, ",") {
			if st = strings.TrimSpace(st); st != "" && st != "none" {
				c.Stages[st]++
			}
		}
	}
	c.PerConversation = convs
	if len(reductions) > 0 {
		c.ReductionP50, c.ReductionP90 = nearestRank(reductions, 50), nearestRank(reductions, 90)
		c.ReductionMin, c.ReductionMax = slices.Min(reductions), slices.Max(reductions)
	}
	if len(added) > 0 {
		c.AddedP50, c.AddedP90 = nearestRank(added, 50), nearestRank(added, 90)
	}
	return c
}

// nearestRank returns the q-th percentile of vs by the nearest rank: the
// smallest value at least q% of them do not exceed.
func nearestRank(vs []float64, q float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	k := int(q*float64(len(s))/100 + 0.999999999)
	return s[min(max(k, 1), len(s))-1]
}

// writeCompression writes the compression scenario's token figures and
// its conversations.
func writeCompression(b *strings.Builder, c *Compression) {
	if !c.Available {
		return // the scenario says why
	}
	fmt.Fprintf(b, "\nToken reduction (1 - after/before, the gateway's %s and %s) over %d conversations: **median %.1f%%, p90 %.1f%%** (least %.1f%%, most %.1f%%; %d of %d tokens in all). Compression adds, per conversation (median latency on minus off), **%s µs at the median conversation and %s µs at p90**.\n",
		headerTokensBefore, headerTokensAfter, c.Conversations, c.ReductionP50, c.ReductionP90, c.ReductionMin, c.ReductionMax,
		c.TokensAfter, c.TokensBefore, signed(&c.AddedP50), signed(&c.AddedP90))
	if len(c.Stages) > 0 {
		stages := make(map[string]int64, len(c.Stages))
		for k, v := range c.Stages {
			stages[k] = int64(v)
		}
		fmt.Fprintf(b, "\nStages applied (%s), by conversations: %s.\n", headerCompression, reasons(stages))
	}
	b.WriteString("\n| bytes | messages | tokens before | after | reduction | stages | upstream bytes off / on | direct p50 | off p50 | on p50 | on − off |\n")
	b.WriteString("|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|\n")
	for _, cv := range c.PerConversation {
		fmt.Fprintf(b, "| %d | %d | %d | %d | %.1f%% | %s | %d / %d | %s | %s | %s | %s |\n",
			cv.Bytes, cv.Messages, cv.TokensBefore, cv.TokensAfter, cv.Reduction, orDash(cv.Stages),
			cv.UpstreamBytesOff, cv.UpstreamBytesOn, us(cv.DirectP50), us(cv.OffP50), us(cv.OnP50), signed(&cv.Added))
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// sizeWords says how many bytes bodies hold, in MiB.
func sizeWords(bodies [][]byte) string {
	n := 0
	for _, b := range bodies {
		n += len(b)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// warmPass sends every body once to each target, unmeasured and
// unchecked: the first time a gateway sees requests this large, its
// buffers and pools grow.
func warmPass(targets []*target, bodies [][]byte, timeout time.Duration) error {
	resp := new(fasthttp.Response)
	for _, t := range targets {
		w := *t
		w.check = nil
		req := w.request(false)
		for _, b := range bodies {
			req.SetBodyRaw(b)
			if err := w.call(req, resp, time.Now().Add(timeout)); err != nil {
				return t.warmUpFailed(err)
			}
		}
	}
	return nil
}
