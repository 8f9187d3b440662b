package router

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"switchboard/store/money"
	"switchboard/upstream/canon"
)

// TestCostGolden runs testdata/cost, a datadriven command file: a
// command line, input lines, "----", the expected output, a blank line.
// datadriven trims white space around the whole input, so an input line
// that starts with a space (" 2.50") must not be the first.
// go test ./router -run CostGolden -rewrite rewrites the expected output.
func TestCostGolden(t *testing.T) {
	datadriven.RunTest(t, "testdata/cost", func(t *testing.T, d *datadriven.TestData) string {
		var input []string
		if d.Input != "" {
			input = strings.Split(d.Input, "\n")
		}
		var out []string
		switch d.Cmd {
		case "parse":
			for _, in := range input {
				n, err := parsePrice(in)
				if err != nil {
					out = append(out, fmt.Sprintf("%s -> error: %v", in, err))
					continue
				}
				out = append(out, fmt.Sprintf("%s -> %s (%d)", in, n, int64(n)))
			}
		case "cost":
			p := goldenPrice(t, d)
			for _, in := range input {
				c := p.Cost(goldenUsage(t, in))
				out = append(out, fmt.Sprintf("%s -> input %s output %s cache_read %s cache_write %s total %s",
					in, c.Input, c.Output, c.CacheRead, c.CacheWrite, c.Total))
			}
		case "worst":
			p := goldenPrice(t, d)
			for _, in := range input {
				kv := goldenArgs(t, in)
				out = append(out, fmt.Sprintf("%s -> %s", in, p.Worst(goldenInt(t, kv["prompt"]), goldenInt(t, kv["max_output"]))))
			}
		case "estimate":
			for _, in := range input {
				n, err := strconv.Atoi(in)
				if err != nil {
					t.Fatalf("bad byte count %q", in)
				}
				out = append(out, fmt.Sprintf("%s bytes -> %d tokens", in, EstimateTokens(n)))
			}
		default:
			d.Fatalf(t, "unknown command %q", d.Cmd)
		}
		return strings.Join(out, "\n")
	})
}

func goldenArgs(t *testing.T, s string) map[string]string {
	t.Helper()
	kv := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("want key=value, got %q", f)
		}
		kv[k] = v
	}
	return kv
}

func goldenInt(t *testing.T, s string) int64 {
	t.Helper()
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return n
}

// goldenPrice reads a price from the command's arguments: input=2.50,
// cache_write_1h=6, reasoning=12, long_above=200000, and a tier's rates as
// long.input=6, flex.output=5, priority.cache_read=0.25, batch.input=1.
func goldenPrice(t *testing.T, d *datadriven.TestData) Price {
	t.Helper()
	var p Price
	for _, arg := range d.CmdArgs {
		if arg.Key == "long_above" {
			p.LongAbove = goldenInt(t, arg.SingleVal(t))
			continue
		}
		n, err := parsePrice(arg.SingleVal(t))
		if err != nil {
			t.Fatal(err)
		}
		r, field := &p.Rates, arg.Key
		if tier, f, ok := strings.Cut(arg.Key, "."); ok {
			r, field = map[string]*Rates{"long": &p.Long, "flex": &p.Flex, "priority": &p.Priority, "batch": &p.Batch}[tier], f
			if r == nil {
				t.Fatalf("unknown price tier %q", tier)
			}
		}
		switch field {
		case "input":
			r.Input = n
		case "output":
			r.Output = n
		case "cache_read":
			r.CacheRead = n
		case "cache_write":
			r.CacheWrite = n
		case "cache_write_1h":
			r.CacheWrite1h = n
		case "reasoning":
			r.Reasoning = n
		default:
			t.Fatalf("unknown price field %q", arg.Key)
		}
	}
	return p
}

func goldenUsage(t *testing.T, s string) canon.Usage {
	t.Helper()
	var u canon.Usage
	for k, v := range goldenArgs(t, s) {
		var n int64
		if k != "tier" {
			n = goldenInt(t, v)
		}
		switch k {
		case "input":
			u.Input = n
		case "output":
			u.Output = n
		case "cache_read":
			u.CacheRead = n
		case "cache_write":
			u.CacheWrite = n
		case "reasoning":
			u.Reasoning = n
		case "cache_write_1h":
			u.CacheWrite1h = n
		case "tier":
			if u.Tier = canon.ParseServiceTier(v); u.Tier == canon.TierStandard && v != "standard" {
				t.Fatalf("unknown tier %q", v)
			}
		default:
			t.Fatalf("unknown usage field %q", k)
		}
	}
	return u
}

func TestParsePrice(t *testing.T) {
	ok := func(in string, want money.Money) {
		t.Helper()
		got, err := parsePrice(in)
		if err != nil || got != want {
			t.Fatalf("parsePrice(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	ok("2.50", 2_500_000_000)
	ok("0.075", 75_000_000)
	ok("15", 15_000_000_000)
	ok("0.0375", 37_500_000)
	ok("0", 0)
	ok("0.000000001", 1)
	ok("007.10", 7_100_000_000)
	ok("9223372036.854775807", money.Max)

	bad := func(in, why string) {
		t.Helper()
		_, err := parsePrice(in)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Fatalf("parsePrice(%q) = %v; want an error with %q", in, err, why)
		}
	}
	bad("", "want plain decimal dollars")
	bad("-1", "want plain decimal dollars")
	bad("-0", "want plain decimal dollars")
	bad("+1", "want plain decimal dollars")
	bad("$1", "want plain decimal dollars")
	bad("-$1", "want plain decimal dollars")
	bad(".5", "want plain decimal dollars")
	bad(" 1", "want plain decimal dollars")
	bad("NaN", "want plain decimal dollars")
	bad("1e-3", "want decimal dollars")
	bad("1E3", "want decimal dollars")
	bad("1$", "want decimal dollars")
	bad("1 ", "want decimal dollars")
	bad("1,000", "want decimal dollars")
	bad("1_000", "want decimal dollars")
	bad("1.2.3", "want decimal dollars")
	bad("1.-5", "want decimal dollars")
	bad("5.", "no digits after the decimal point")
	bad("0.0000000001", "more than 9 decimals")
	bad("9223372036.854775808", "beyond the largest amount")
	bad("9223372037", "beyond the largest amount")
	bad("99999999999999999999999", "beyond the largest amount")
}

// TestCostRoundsUpExactly checks every component against exact big.Int
// arithmetic: ceil(tokens*price/1e6), saturated at math.MaxInt64.
func TestCostRoundsUpExactly(t *testing.T) {
	exact := func(tokens int64, price money.Money) money.Money {
		if tokens <= 0 || price <= 0 {
			return 0
		}
		n := new(big.Int).Mul(big.NewInt(tokens), big.NewInt(int64(price)))
		n.Add(n, big.NewInt(999_999))
		n.Quo(n, big.NewInt(1_000_000))
		if !n.IsInt64() {
			return math.MaxInt64
		}
		return money.Money(n.Int64())
	}
	r := rand.New(rand.NewPCG(1, 2))
	edges := []int64{0, 1, 2, 999_999, 1_000_000, 1_000_001, 1e9, 1e12, math.MaxInt64 / 1_000_000, math.MaxInt64 - 1, math.MaxInt64, -1}
	draw := func() int64 {
		switch r.IntN(3) {
		case 0:
			return edges[r.IntN(len(edges))]
		case 1:
			return r.Int64N(1e7)
		default:
			return r.Int64() >> r.IntN(63)
		}
	}
	for range 200_000 {
		tokens, price := draw(), money.Money(draw())
		if got, want := perMillion(tokens, price), exact(tokens, price); got != want {
			t.Fatalf("perMillion(%d, %d) = %d; want %d", tokens, int64(price), got, want)
		}
	}
}

func TestCostHugeCountsDoNotOverflow(t *testing.T) {
	p := Price{Rates: Rates{Input: 1000 * money.Dollar, Output: 1000 * money.Dollar, CacheWrite: 1250 * money.Dollar}}
	c := p.Cost(canon.Usage{Input: 1e9, Output: 1e9, CacheWrite: 1e9})
	// 1e9 tokens at $1000/M is $1,000,000: 1e21 before the division, past int64.
	if c.Input != 1e6*money.Dollar || c.Output != 1e6*money.Dollar || c.CacheWrite != 1.25e6*money.Dollar {
		t.Fatalf("cost = %+v", c)
	}
	if c.Total != 3.25e6*money.Dollar {
		t.Fatalf("total = %s", c.Total)
	}
	huge := canon.Usage{Input: math.MaxInt64, Output: math.MaxInt64, CacheWrite: math.MaxInt64}
	if c := p.Cost(huge); c.Total != math.MaxInt64 || c.Input != math.MaxInt64 {
		t.Fatalf("cost of MaxInt64 tokens = %+v; want saturation", c)
	}
	if w := p.Worst(math.MaxInt64, math.MaxInt64); w != math.MaxInt64 {
		t.Fatalf("Worst(MaxInt64) = %d; want saturation", w)
	}
}

func TestCostChargesNothingForCacheReads(t *testing.T) {
	p := Price{Rates: Rates{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000}}
	c := p.Cost(canon.Usage{CacheRead: 1e9})
	if c != (Cost{}) {
		t.Fatalf("a call that only reads the cache costs %+v; want nothing", c)
	}
}

// TestWorstCoversEveryUsage checks the reservation invariant: no split of
// the prompt between input, cache reads and 5-minute and 1-hour cache
// writes, no output up to the budget with any part of it reasoning, and
// no service tier the provider may report, costs more than Worst, for
// prices with and without long-prompt tiers, one-hour and reasoning
// prices and flex or priority tiers.
func TestWorstCoversEveryUsage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sonnet := Rates{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000, CacheWrite1h: 6 * money.Dollar}
	prices := []Price{
		{Rates: Rates{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000}},
		{Rates: Rates{Input: 2_500_000_000, Output: 10 * money.Dollar, CacheRead: 1_250_000_000}},
		{Rates: Rates{Input: 1, Output: 1, CacheWrite: 1}},
		{Rates: Rates{Input: 37_500_000, Output: 150_000_000}},
		{Rates: Rates{Input: 0, Output: 0}},
		{Rates: Rates{Input: 499_999, Output: 1, CacheWrite: 500_001}},
		{Rates: sonnet, LongAbove: 200_000, Long: Rates{Input: 6 * money.Dollar, Output: 22_500_000_000, CacheWrite: 7_500_000_000, CacheWrite1h: 12 * money.Dollar}},
		{Rates: Rates{Input: 1_250_000_000, Output: 10 * money.Dollar, Reasoning: 12 * money.Dollar},
			Flex: Rates{Input: 625_000_000, Output: 5 * money.Dollar}, Priority: Rates{Input: 2_500_000_000, Output: 20 * money.Dollar}},
		{Rates: Rates{Input: 3, Output: 7, CacheWrite: 5, CacheWrite1h: 11, Reasoning: 13}, LongAbove: 10, Long: Rates{Input: 4, Output: 9, CacheWrite1h: 17}},
	}
	tiers := []canon.ServiceTier{canon.TierStandard, canon.TierFlex, canon.TierPriority, canon.TierBatch}
	for range 200_000 {
		p := prices[r.IntN(len(prices))]
		if r.IntN(3) == 0 {
			p = Price{Rates: Rates{Input: money.Money(r.Int64N(2e10)), Output: money.Money(r.Int64N(2e11)), CacheWrite: money.Money(r.Int64N(3e10)),
				CacheWrite1h: money.Money(r.Int64N(2) * r.Int64N(4e10)), Reasoning: money.Money(r.Int64N(2) * r.Int64N(3e11))}}
			if r.IntN(2) == 0 {
				p.LongAbove = r.Int64N(3e6)
				p.Long = Rates{Input: money.Money(r.Int64N(4e10)), Output: money.Money(r.Int64N(4e11)), CacheWrite1h: money.Money(r.Int64N(5e10))}
			}
			if r.IntN(2) == 0 {
				p.Priority = Rates{Input: money.Money(r.Int64N(4e10)), Output: money.Money(r.Int64N(4e11) + 1)}
			}
		}
		prompt, maxOut := r.Int64N(3e6), r.Int64N(2e5)
		cw := r.Int64N(prompt + 1)
		cr := r.Int64N(prompt - cw + 1)
		out := r.Int64N(maxOut + 1)
		u := canon.Usage{Input: prompt - cw - cr, CacheRead: cr, CacheWrite: cw, CacheWrite1h: r.Int64N(cw + 1),
			Output: out, Reasoning: r.Int64N(out + 1), Tier: tiers[r.IntN(len(tiers))]}
		if c, w := p.Cost(u), p.Worst(prompt, maxOut); c.Total > w {
			t.Fatalf("price %+v usage %+v costs %s, more than Worst(%d, %d) = %s", p, u, c.Total, prompt, maxOut, w)
		}
	}
}

func TestEstimateTokens(t *testing.T) {
	for in, want := range map[int]int64{-5: 0, 0: 0, 1: 1, 2: 1, 3: 1, 4: 2, 3000: 1000, 3001: 1001} {
		if got := EstimateTokens(in); got != want {
			t.Errorf("EstimateTokens(%d) = %d; want %d", in, got, want)
		}
	}
}

var dollarSyntax = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,9})?$`)

// FuzzParsePrice checks parsePrice against big.Rat: it accepts exactly
// the plain decimal strings that fit, reads them exactly, and String and
// AppendDecimal format the result back to the same value.
func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"2.50", "0.075", "15", "0.0375", "0", "0.000000001", "9223372036.854775807",
		"9223372036.854775808", "-1", "1e3", ".5", "5.", "1.2.3", "0.0000000001", "", " 1", "+1", "00.10", "$1", "-$1", "1.-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parsePrice(s)
		if !dollarSyntax.MatchString(s) {
			if err == nil {
				t.Fatalf("parsePrice(%q) = %d; want an error", s, n)
			}
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat cannot read %q", s)
		}
		r.Mul(r, big.NewRat(1e9, 1))
		if !r.IsInt() {
			t.Fatalf("%q is not a whole number of nano-dollars", s)
		}
		want := r.Num()
		if !want.IsInt64() {
			if err == nil {
				t.Fatalf("parsePrice(%q) = %d; want too large", s, n)
			}
			return
		}
		if err != nil || int64(n) != want.Int64() {
			t.Fatalf("parsePrice(%q) = %d, %v; want %s", s, n, err, want)
		}
		back, err := parsePrice(strings.TrimPrefix(n.String(), "$"))
		if err != nil || back != n {
			t.Fatalf("String round trip of %q: %q -> %d, %v", s, n.String(), back, err)
		}
		dec := string(n.AppendDecimal(nil))
		if back, err := parsePrice(dec); err != nil || back != n {
			t.Fatalf("AppendDecimal round trip of %q: %q -> %d, %v", s, dec, back, err)
		}
	})
}
