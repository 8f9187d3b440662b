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

func goldenPrice(t *testing.T, d *datadriven.TestData) Price {
	t.Helper()
	var p Price
	for _, arg := range d.CmdArgs {
		n, err := parsePrice(arg.SingleVal(t))
		if err != nil {
			t.Fatal(err)
		}
		switch arg.Key {
		case "input":
			p.Input = n
		case "output":
			p.Output = n
		case "cache_read":
			p.CacheRead = n
		case "cache_write":
			p.CacheWrite = n
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
		n := goldenInt(t, v)
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
	p := Price{Input: 1000 * money.Dollar, Output: 1000 * money.Dollar, CacheWrite: 1250 * money.Dollar}
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
	p := Price{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000}
	c := p.Cost(canon.Usage{CacheRead: 1e9})
	if c != (Cost{}) {
		t.Fatalf("a call that only reads the cache costs %+v; want nothing", c)
	}
}

// TestWorstCoversEveryUsage checks the reservation invariant: no split of
// the prompt between input, cache reads and cache writes, and no output up
// to the budget, costs more than Worst.
func TestWorstCoversEveryUsage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	prices := []Price{
		{Input: 3 * money.Dollar, Output: 15 * money.Dollar, CacheRead: 300_000_000, CacheWrite: 3_750_000_000},
		{Input: 2_500_000_000, Output: 10 * money.Dollar, CacheRead: 1_250_000_000},
		{Input: 1, Output: 1, CacheWrite: 1},
		{Input: 37_500_000, Output: 150_000_000},
		{Input: 0, Output: 0},
		{Input: 499_999, Output: 1, CacheWrite: 500_001},
	}
	for range 100_000 {
		p := prices[r.IntN(len(prices))]
		if r.IntN(2) == 0 {
			p = Price{Input: money.Money(r.Int64N(2e10)), Output: money.Money(r.Int64N(2e11)), CacheWrite: money.Money(r.Int64N(3e10))}
		}
		prompt, maxOut := r.Int64N(3e6), r.Int64N(2e5)
		cw := r.Int64N(prompt + 1)
		cr := r.Int64N(prompt - cw + 1)
		u := canon.Usage{Input: prompt - cw - cr, CacheRead: cr, CacheWrite: cw, Output: r.Int64N(maxOut + 1)}
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
