package proxy

import (
	"encoding/json"
	"testing"

	"github.com/bytedance/sonic/ast"
)

func TestAppendDollars(t *testing.T) {
	f := func(nanos int64, want string) {
		t.Helper()
		if got := string(appendDollars(nil, nanos)); got != want {
			t.Fatalf("appendDollars(%d) = %s, want %s", nanos, got, want)
		}
	}
	f(0, "0")
	f(1, "0.000000001")
	f(1234, "0.000001234")
	f(2_500_000_000, "2.5")
	f(12_000_000_000, "12")
	f(-75_000, "-0.000075")
}

func TestAppendWithCost(t *testing.T) {
	var n ast.Node
	f := func(doc, want string) {
		t.Helper()
		got := string(appendWithCost(nil, []byte(doc), 75_000, &n))
		if got != want {
			t.Fatalf("appendWithCost(%s)\n got %s\nwant %s", doc, got, want)
		}
		if json.Valid([]byte(doc)) && !json.Valid([]byte(got)) {
			t.Fatalf("invalid JSON out: %s", got)
		}
	}
	f(`{"id":1,"usage":{"prompt_tokens":3}}`, `{"id":1,"usage":{"prompt_tokens":3,"cost":0.000075}}`)
	f(`{"usage":{ },"x":[]}`, `{"usage":{ "cost":0.000075},"x":[]}`)
	f(`{"usage":null}`, `{"usage":null}`)
	f(`{"a":{"usage":{}}}`, `{"a":{"usage":{}}}`)
	f(`not json`, `not json`)
}
