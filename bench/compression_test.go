package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
)

func TestCompressionScenario(t *testing.T) {
	targets, o := testTargets(t)
	bodies, messages, err := compressionCorpus(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 3 || len(messages) != 3 || len(bodies[0]) >= len(bodies[2]) || !strings.Contains(string(bodies[0]), `"model":"mock-model"`) || strings.Contains(string(bodies[0]), `"stream":true`) {
		t.Fatalf("corpus: %d bodies, first %.200s", len(bodies), bodies[0])
	}
	// A gateway that does not compress: the scenario says so.
	plain := withFakeGateways(t, targets, o)
	ct := compressionTargets(plain)
	s := runCompression(context.Background(), ct, bodies, messages, nil, o)
	if s.Rows != nil || s.Compression == nil || s.Compression.Available || !strings.Contains(s.Skipped, "compression not available in this build") {
		t.Fatalf("without compression: %+v", s)
	}

	// The stand-in claims a fifth of the tokens saved with compression on.
	targets = withFeatureGateway(t, targets, o, func(req *fasthttp.Request, h *fasthttp.ResponseHeader) {
		if string(req.Header.Peek(headerCompression)) != "on" {
			return
		}
		before := len(req.Body()) / 4
		h.Set(headerTokensBefore, strconv.Itoa(before))
		h.Set(headerTokensAfter, strconv.Itoa(before*4/5))
		h.Set(headerCompression, "dedupe,minify")
	})
	ct = compressionTargets(targets)
	if len(ct) != 3 || ct[1].name != targetCompressOff || ct[2].name != targetCompressOn {
		t.Fatalf("compression targets %v", ct)
	}
	lastLen := len(bodies[0])
	last := func() mock.Recorded { return mock.Recorded{Body: make([]byte, lastLen)} }
	o.compressionRounds, o.compressionSeed = 2, 1
	s = runCompression(context.Background(), ct, bodies, messages, last, o)
	checkRows(t, s, 3)
	c := s.Compression
	if c == nil || !c.Available || c.Rounds != 2 || c.Conversations != 3 || len(c.PerConversation) != 3 {
		t.Fatalf("compression figures %+v", c)
	}
	if c.ReductionP50 < 19.9 || c.ReductionP50 > 20.1 || c.ReductionP90 < 19.9 || c.Stages["dedupe"] != 3 || c.Stages["minify"] != 3 {
		t.Fatalf("reduction p50 %.2f p90 %.2f, stages %v", c.ReductionP50, c.ReductionP90, c.Stages)
	}
	for _, cv := range c.PerConversation {
		if cv.TokensBefore == 0 || cv.OnP50 <= 0 || cv.OffP50 <= 0 || cv.DirectP50 <= 0 || cv.UpstreamBytesOn != lastLen {
			t.Fatalf("conversation %+v", cv)
		}
	}
	for _, r := range s.Rows {
		if r.Requests != 6 { // 2 rounds of 3 conversations
			t.Fatalf("row %s: %d requests", r.Target, r.Requests)
		}
	}
	if len(s.Deltas) != 2 || s.Deltas[0].Target != targetCompressOn || s.Deltas[0].Minus != targetCompressOff {
		t.Fatalf("deltas %+v", s.Deltas)
	}
}

func TestNearestRank(t *testing.T) {
	vs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for q, want := range map[float64]float64{50: 5, 90: 9, 100: 10, 1: 1, 0: 1} {
		if got := nearestRank(vs, q); got != want {
			t.Errorf("p%v = %v, want %v", q, got, want)
		}
	}
	if vs[0] != 5 {
		t.Error("nearestRank sorted its input")
	}
}

func TestCompressionHeaders(t *testing.T) {
	h := new(fasthttp.ResponseHeader)
	if _, _, err := compressionHeaders(h); err == nil {
		t.Fatal("no headers accepted")
	}
	h.Set(headerTokensBefore, "1000")
	h.Set(headerTokensAfter, "750")
	if b, a, err := compressionHeaders(h); err != nil || b != 1000 || a != 750 {
		t.Fatalf("%d, %d, %v", b, a, err)
	}
	for _, bad := range []string{"x", "-1", "1001"} {
		h.Set(headerTokensAfter, bad)
		if _, _, err := compressionHeaders(h); err == nil {
			t.Errorf("after %q accepted", bad)
		}
	}
}

func TestCompressionReport(t *testing.T) {
	comp := Scenario{Name: compressionName, Kind: kindLatency, Feature: featureCompression, Method: "z",
		Compression: &Compression{Available: true, Conversations: 2, ReductionP50: 12.5, ReductionP90: 30, ReductionMax: 30, TokensBefore: 3000, TokensAfter: 2400,
			AddedP50: 250, AddedP90: 1200, Stages: map[string]int{"dedupe": 2, "minify": 1},
			PerConversation: []CompressedConversation{
				{Bytes: 4000, Messages: 5, TokensBefore: 1000, TokensAfter: 875, Reduction: 12.5, Stages: "dedupe", UpstreamBytesOff: 4000, UpstreamBytesOn: 3500, DirectP50: 300, OffP50: 600, OnP50: 850, Added: 250},
				{Bytes: 8000, Messages: 9, TokensBefore: 2000, TokensAfter: 1400, Reduction: 30, Stages: "dedupe,minify", UpstreamBytesOff: 8000, UpstreamBytesOn: 5600, DirectP50: 500, OffP50: 900, OnP50: 2100, Added: 1200},
			}}}
	unavailable := compressionUnavailable("compression not available in this build: the answer to x-switchboard-compression: on has no x-switchboard-tokens-before header")
	r := &Report{Scenarios: []Scenario{comp, unavailable}}
	var b bytes.Buffer
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"median 12.5%, p90 30.0%",
		"2400 of 3000 tokens in all",
		"**+250 µs at the median conversation and +1200 µs at p90**",
		"Stages applied (x-switchboard-compression), by conversations: dedupe ×2, minify ×1.",
		"| 8000 | 9 | 2000 | 1400 | 30.0% | dedupe,minify | 8000 / 5600 | 500 | 900 | 2100 | +1200 |",
		"**Not measured: compression not available in this build: the answer to x-switchboard-compression: on has no x-switchboard-tokens-before header.**",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "Token reduction") != 1 {
		t.Errorf("figures for the unavailable scenario:\n%s", out)
	}
}
