package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedCatalogIsGenerated is the check that configs/catalog.yaml
// and the README's coverage table are what make catalog generates from
// the pinned sources and the overrides: edit those, never the outputs.
func TestCommittedCatalogIsGenerated(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	cat, readme, err := generateFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{catalogPath: cat, readmePath: readme} {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the generator makes from configs/catalog: run make catalog", path)
		}
	}
}

func TestDecimalPriceIsExact(t *testing.T) {
	f := func(lit string, perUnit int64, want string) {
		t.Helper()
		got, err := decimalPrice(lit, perUnit)
		if err != nil || got != want {
			t.Fatalf("decimalPrice(%q, %d) = %q, %v; want %q", lit, perUnit, got, err, want)
		}
	}
	f("2.5", 1, "2.5")
	f("0.075", 1, "0.075")
	f("15", 1, "15")
	f("2e5", 1, "200000")
	f("0", 1, "0")
	f("0.003625", 1, "0.003625")
	// Per-token floats, as LiteLLM writes them, become per-million decimals.
	f("2.5e-06", 1e6, "2.5")
	f("1.25e-07", 1e6, "0.125")
	// A float artifact rounds away at the 9th decimal; half rounds up.
	f("3.0000000000000004e-07", 1e6, "0.3")
	f("0.0000000005", 1, "0.000000001")
	f("0.00000000049", 1, "0")
	for _, bad := range []string{"-1", "x", ""} {
		if _, err := decimalPrice(bad, 1); err == nil {
			t.Errorf("decimalPrice(%q) succeeded", bad)
		}
	}
}

func TestParseJSLiteral(t *testing.T) {
	v, err := parseJSLiteral("const E = [\n  { id: \"a\", n: 0.075, t: !0, f: !1, s: 'it\\'s \"q\"', d: `x\ny`, /* c */ l: [1e6, null] }\n]")
	if err != nil {
		t.Fatal(err)
	}
	m := v.([]any)[0].(map[string]any)
	if m["id"] != "a" || m["n"] != jsNumber("0.075") || m["t"] != true || m["f"] != false || m["d"] != "x\ny" || m["s"] != `it's "q"` {
		t.Fatalf("parsed %#v", m)
	}
	if l := m["l"].([]any); l[0] != jsNumber("1e6") || l[1] != nil {
		t.Fatalf("list %#v", l)
	}
	for _, bad := range []string{"[", "{a 1}", "[`${x}`]", "[1] x"} {
		if _, err := parseJSLiteral(bad); err == nil {
			t.Errorf("parseJSLiteral(%q) succeeded", bad)
		}
	}
}
