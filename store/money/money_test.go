package money

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMoneyString(t *testing.T) {
	f := func(m Money, want string) {
		t.Helper()
		if got := m.String(); got != want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(m), got, want)
		}
	}
	f(0, "$0.000000000")
	f(1, "$0.000000001")
	f(1234567890, "$1.234567890")
	f(12*Dollar+Dollar/2, "$12.500000000")
	f(-Dollar/2, "-$0.500000000")
	f(Max, "$9223372036.854775807")
	f(-Max-1, "-$9223372036.854775808")
}

func TestMoneyAppendDecimal(t *testing.T) {
	f := func(m Money, want string) {
		t.Helper()
		if got := string(m.AppendDecimal(nil)); got != want {
			t.Errorf("Money(%d).AppendDecimal = %q, want %q", int64(m), got, want)
		}
	}
	f(0, "0")
	f(1, "0.000000001")
	f(1234, "0.000001234")
	f(75_000, "0.000075")
	f(2_500_000_000, "2.5")
	f(12*Dollar, "12")
	f(1234567890, "1.23456789")
	f(-Dollar/2, "-0.5")
	f(-75_000, "-0.000075")
	f(-3*Dollar, "-3")
	f(Max, "9223372036.854775807")
	f(math.MinInt64, "-9223372036.854775808")

	if got := string(Money(2_500_000_000).AppendDecimal([]byte(`"cost":`))); got != `"cost":2.5` {
		t.Errorf("AppendDecimal to a prefix = %q", got)
	}
}

// TestMoneyAppendDecimalRoundTrips checks that Parse reads back what
// AppendDecimal writes, over edge values and random ones of every size
// (math.MinInt64 is beyond what Parse reads).
func TestMoneyAppendDecimalRoundTrips(t *testing.T) {
	ms := []Money{0, 1, -1, 9, 10, Dollar - 1, Dollar, Dollar + 1, -Dollar, 100 * Dollar,
		Max, Max - 1, math.MinInt64 + 1, math.MinInt64 + 2}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100_000 {
		m := Money(r.Int64() >> r.IntN(63)) // non-negative
		if r.IntN(2) == 0 {
			m = -m
		}
		ms = append(ms, m)
	}
	var buf []byte
	for _, m := range ms {
		buf = m.AppendDecimal(buf[:0])
		back, err := Parse(string(buf))
		if err != nil || back != m {
			t.Fatalf("Money(%d).AppendDecimal = %s, which parses to %d, %v", int64(m), buf, back, err)
		}
	}
}

func TestAppendDecimalAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race; make test checks the budget in its non-race run")
	}
	buf := make([]byte, 0, 32)
	m := Money(math.MinInt64)
	if allocs := testing.AllocsPerRun(100, func() {
		buf = m.AppendDecimal(buf[:0])
		m += 123_456_789
	}); allocs != 0 {
		t.Fatalf("AppendDecimal allocates %.1f times with room in dst", allocs)
	}
}

func TestParseMoney(t *testing.T) {
	f := func(in string, want Money) {
		t.Helper()
		got, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got != want {
			t.Errorf("Parse(%q) = %d, want %d", in, got, want)
		}
	}
	f("12.5", 12_500_000_000)
	f("0.000001", 1000)
	f("0.000000001", 1)
	f("7", 7*Dollar)
	f("007.10", 7_100_000_000)
	f("-3", -3*Dollar)
	f("$1.234567890", 1234567890)
	f("-$0.5", -Dollar/2)
	f("9223372036.854775807", Max)
}

func TestParseMoneyRejects(t *testing.T) {
	f := func(in, wantErr string) {
		t.Helper()
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", in, err, wantErr)
		}
	}
	f("", "want decimal dollars")
	f("-", "want decimal dollars")
	f("$", "want decimal dollars")
	f(".5", "want decimal dollars")
	f("1.", "no digits after")
	f("1e3", "want decimal dollars")
	f("1.5e3", "want decimal dollars")
	f("+1", "want decimal dollars")
	f(" 1", "want decimal dollars")
	f("1,5", "want decimal dollars")
	f("0.0000000001", "more than 9 decimals")
	f("9223372036.854775808", "beyond the largest amount")
	f("99999999999999999999999", "beyond the largest amount")
	f("1.2.3", "want decimal dollars")
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"12.5", "0.000001", "-$1.234567890", "9223372036.854775807", "1.", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(m.String())
		if err != nil || back != m {
			t.Fatalf("Parse(%q) = %d, but its String %q parses to %d, %v", s, m, m.String(), back, err)
		}
	})
}
