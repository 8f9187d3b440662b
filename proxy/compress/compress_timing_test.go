package compress

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"switchboard/bench/corpus"
	"switchboard/upstream/canon"
)

// The compression benchmark: Compress over the corpus of bench/corpus
// (50 coding-agent conversations, 6k to 150k tokens), reporting the
// token reduction (median and p90 over the conversations) and the time
// per request. Run with
//
//	go test -run '^$' -bench 'Corpus|Session' -benchtime 3x ./proxy/compress/
//
// "lossless" runs the lossless stages; "budget-32k" every stage with a
// 32k-token budget (the lossy ones act on the conversations over it).
// Times are with the token-count memo warm, as in a session, where
// almost everything was counted on the previous turn; "cold" resets the
// memo before each request, the worst case (a request never seen).

const (
	corpusSeed = 2026
	corpusSize = 50
)

var benchCorpus = sync.OnceValue(func() []*canon.Request { return corpus.Corpus(corpusSeed, corpusSize) })

func BenchmarkCorpus(b *testing.B) {
	for _, tc := range []struct {
		name string
		o    Options
		cold bool
	}{
		{"lossless", Options{Stages: Lossless}, false},
		{"lossless-cold", Options{Stages: Lossless}, true},
		{"budget-32k", Options{Stages: All, Budget: 32_000}, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			convs := benchCorpus()
			reduction := make([]float64, len(convs))
			for _, src := range convs { // warm the memo, as a session does
				Compress(corpus.Clone(src), tc.o, 0)
			}
			b.ReportAllocs()
			var spent time.Duration
			for b.Loop() {
				for i, src := range convs {
					b.StopTimer()
					r := corpus.Clone(src)
					if tc.cold {
						counts.reset()
					}
					b.StartTimer()
					start := time.Now()
					rep := Compress(r, tc.o, 0)
					spent += time.Since(start)
					reduction[i] = 100 * float64(rep.Saved()) / float64(rep.Before)
				}
			}
			slices.Sort(reduction)
			b.ReportMetric(percentile(reduction, 50), "median-saved-%")
			b.ReportMetric(percentile(reduction, 90), "p90-saved-%")
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N*len(convs)), "ns/request")
		})
	}
}

// percentile returns the p-th percentile of sorted (nearest rank).
func percentile(sorted []float64, p int) float64 {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

// BenchmarkSession replays the corpus's five biggest conversations turn
// by turn, as the agent sends them (each request the whole conversation
// so far), from an empty memo: ns/request is what compression adds to a
// request of a real session. It also prices the sessions' input with
// prompt caching (cache reads at 0.1x, writes at 1.25x: Anthropic's
// prices), with and without compression: "cached-cost-saved-%".
func BenchmarkSession(b *testing.B) {
	convs := benchCorpus()[corpusSize-5:]
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"lossless", Options{Stages: Lossless}},
		{"budget-32k", Options{Stages: All, Budget: 32_000}},
		{"budget-64k", Options{Stages: All, Budget: 64_000}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var spent time.Duration
			turns := 0
			var plain, compressed float64
			for b.Loop() {
				b.StopTimer()
				counts.reset()
				plain, compressed = 0, 0
				for _, src := range convs {
					var prevPlain, prevComp *canon.Request
					for k := 3; k <= len(src.Messages); k += 2 {
						r := corpus.Clone(src)
						r.Messages = r.Messages[:k]
						orig := corpus.Clone(r)
						b.StartTimer()
						start := time.Now()
						Compress(r, tc.o, 0)
						spent += time.Since(start)
						b.StopTimer()
						turns++
						plain += cachedCost(prevPlain, orig)
						compressed += cachedCost(prevComp, r)
						prevPlain, prevComp = orig, r
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(spent.Nanoseconds())/float64(turns), "ns/request")
			b.ReportMetric(100*(plain-compressed)/plain, "cached-cost-saved-%")
		})
	}
}

// cachedCost prices r's prompt, in input tokens at full price, when the
// provider has prev cached: the messages r shares with prev from the
// start (and the system prompt and tools) are read at 0.1x, the rest
// written at 1.25x.
func cachedCost(prev, r *canon.Request) float64 {
	total := Tokens(r)
	if prev == nil {
		return 1.25 * float64(total)
	}
	cached := BlockTokens(r.System) + ToolTokens(r.Tools)
	for i := range r.Messages {
		if i >= len(prev.Messages) || !sameMessage(&prev.Messages[i], &r.Messages[i]) {
			break
		}
		cached += MessageTokens(&r.Messages[i])
	}
	return 0.1*float64(cached) + 1.25*float64(total-cached)
}

func sameMessage(a, b *canon.Message) bool {
	return a.Role == b.Role && slices.EqualFunc(a.Content, b.Content, sameBlock)
}

func sameBlock(a, b canon.Block) bool {
	return a.Kind == b.Kind && a.Text == b.Text && a.ID == b.ID && a.Input == b.Input && a.Signature == b.Signature &&
		slices.EqualFunc(a.Content, b.Content, sameBlock)
}

// BenchmarkCompress compresses one 50k-token conversation per op, the
// token-count memo warm.
func BenchmarkCompress(b *testing.B) {
	src := corpus.Generate(corpusSeed, 50_000)
	for _, o := range []Options{{Stages: Lossless}, {Stages: All, Budget: 20_000}} {
		b.Run(fmt.Sprint(o.Stages, "/", o.Budget), func(b *testing.B) {
			b.ReportAllocs()
			Compress(corpus.Clone(src), o, 0)
			for b.Loop() {
				b.StopTimer()
				r := corpus.Clone(src)
				b.StartTimer()
				Compress(r, o, 0)
			}
		})
	}
}

// BenchmarkTextTokens is the memo's hit path on a 4 KB text.
func BenchmarkTextTokens(b *testing.B) {
	s := lines("x", 60)
	TextTokens(s)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			TextTokens(s)
		}
	})
}

func BenchmarkCollapseWhitespace(b *testing.B) {
	s := "Here is   the log:  \n\n\n" + lines("log", 200) + "```\ncode  \n```\n"
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = appendCollapsed(buf[:0], s, true)
	}
}
