package proxy

import (
	"encoding/json"
	"testing"

	"github.com/bytedance/sonic/ast"

	"switchboard/store"
)

func TestAppendWithCost(t *testing.T) {
	var n ast.Node
	cost := store.Money(75_000)
	f := func(doc, want string) {
		t.Helper()
		got := string(appendWithCost(nil, []byte(doc), cost, &n))
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

	cost = 12 * store.Dollar
	f(`{"usage":{"total_tokens":9}}`, `{"usage":{"total_tokens":9,"cost":12}}`)
}
