package proxy

import (
	"encoding/json"
	"testing"

	"github.com/bytedance/sonic/ast"

	"switchboard/store/money"
	"switchboard/upstream"
)

func TestAppendWithCost(t *testing.T) {
	var n ast.Node
	cost := money.Money(75_000)
	f := func(doc, want string) {
		t.Helper()
		got := string(appendWithCost(nil, []byte(doc), formatOf(upstream.FormatOpenAI).answerUsage, cost, &n))
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

	cost = 12 * money.Dollar
	f(`{"usage":{"total_tokens":9}}`, `{"usage":{"total_tokens":9,"cost":12}}`)
}

func TestAppendWithProvider(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"id":"x"}`, `{"provider":"groq","id":"x"}`},
		{` { }`, ` {"provider":"groq" }`},
		{`[1]`, `[1]`},
		{``, ``},
	} {
		if got := string(appendWithProvider(nil, []byte(c.in), "groq")); got != c.want {
			t.Errorf("%q -> %q, want %q", c.in, got, c.want)
		}
	}
}
