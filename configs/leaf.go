package configs

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"switchboard/store/money"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "30s" or "2m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: want a duration like \"30s\", got %q", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// SyncInterval is a Duration that may also be written "always"
// (SyncAlways).
type SyncInterval Duration

// SyncAlways is the SyncInterval "always". No duration string parses to
// it.
const SyncAlways = SyncInterval(math.MinInt64)

// UnmarshalYAML parses "always" or a Go duration string.
func (s *SyncInterval) UnmarshalYAML(n *yaml.Node) error {
	if n.Value == "always" {
		*s = SyncAlways
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || SyncInterval(v) == SyncAlways {
		return fmt.Errorf("line %d: want a duration like \"100ms\" or \"always\", got %q", n.Line, n.Value)
	}
	*s = SyncInterval(v)
	return nil
}

// Always reports whether s is "always".
func (s SyncInterval) Always() bool { return s == SyncAlways }

// D returns s as a time.Duration; check Always first.
func (s SyncInterval) D() time.Duration { return time.Duration(s) }

// HedgeAfter is how long a hedged route waits for its first target's
// first byte: a Duration, or "p95" (HedgeP95).
type HedgeAfter Duration

// HedgeP95 is the HedgeAfter "p95": the target's observed 95th
// percentile time to first byte. No duration string parses to it.
const HedgeP95 = HedgeAfter(math.MinInt64)

// UnmarshalYAML parses "p95" or a Go duration string.
func (h *HedgeAfter) UnmarshalYAML(n *yaml.Node) error {
	if n.Value == "p95" {
		*h = HedgeP95
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || HedgeAfter(v) == HedgeP95 {
		return fmt.Errorf("line %d: want \"p95\" or a duration like \"200ms\", got %q", n.Line, n.Value)
	}
	*h = HedgeAfter(v)
	return nil
}

// P95 reports whether h is "p95".
func (h HedgeAfter) P95() bool { return h == HedgeP95 }

// D returns h as a time.Duration; check P95 first.
func (h HedgeAfter) D() time.Duration { return time.Duration(h) }

// ByteSize is a size in bytes written as 1048576, "512KiB", "32MiB" or "1GiB".
type ByteSize int64

// UnmarshalYAML parses a byte size with an optional KiB/MiB/GiB unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<40)/mult {
		return fmt.Errorf("line %d: want a size like 1048576 or \"32MiB\", got %q", n.Line, n.Value)
	}
	*b = ByteSize(v * mult)
	return nil
}

// FileMode is a file's permission bits written in octal: 0660 or "0o660".
type FileMode uint32

// UnmarshalYAML parses octal permission bits.
func (m *FileMode) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimPrefix(strings.TrimSpace(n.Value), "0o")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("line %d: want octal permission bits like 0660, got %q", n.Line, n.Value)
	}
	*m = FileMode(v)
	return nil
}

// Dollars is an exact amount of money written as decimal dollars: "25",
// "0.50". It never passes through a float.
type Dollars money.Money

// UnmarshalYAML parses decimal dollars.
func (d *Dollars) UnmarshalYAML(n *yaml.Node) error {
	m, err := money.Parse(n.Value)
	if err != nil || m < 0 {
		return fmt.Errorf("line %d: want a non-negative dollar amount like \"25\" or \"0.50\", got %q", n.Line, n.Value)
	}
	*d = Dollars(m)
	return nil
}

// Secret is a credential. It prints as <secret> so it never reaches a log.
type Secret string

// String hides the value.
func (Secret) String() string { return "<secret>" }

// GoString hides the value from %#v too.
func (Secret) GoString() string { return "<secret>" }

// MarshalYAML hides the value when a config is written back out.
func (Secret) MarshalYAML() (any, error) { return "<secret>", nil }
