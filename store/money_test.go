package store

import (
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
	f(MaxMoney, "$9223372036.854775807")
	f(-MaxMoney-1, "-$9223372036.854775808")
}

func TestParseMoney(t *testing.T) {
	f := func(in string, want Money) {
		t.Helper()
		got, err := ParseMoney(in)
		if err != nil {
			t.Fatalf("ParseMoney(%q): %v", in, err)
		}
		if got != want {
			t.Errorf("ParseMoney(%q) = %d, want %d", in, got, want)
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
	f("9223372036.854775807", MaxMoney)
}

func TestParseMoneyRejects(t *testing.T) {
	f := func(in, wantErr string) {
		t.Helper()
		_, err := ParseMoney(in)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseMoney(%q) error = %v, want it to mention %q", in, err, wantErr)
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
		m, err := ParseMoney(s)
		if err != nil {
			return
		}
		back, err := ParseMoney(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseMoney(%q) = %d, but its String %q parses to %d, %v", s, m, m.String(), back, err)
		}
	})
}
