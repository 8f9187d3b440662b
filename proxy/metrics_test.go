package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// counter reads a counter of the default set.
func counter(name string) uint64 { return metrics.GetOrCreateCounter(name).Get() }

func TestSpendMetricsCountWhatTheLedgerCharges(t *testing.T) {
	g := startBillingGateway(t)
	g.topUp(t, "team", "10")
	id, secret := g.newKey(t, `{"account":"team"}`)
	route := `{model="mock-model",provider="mock"}`
	spendBefore := counter(`switchboard_spend_nanodollars_total` + route)
	inBefore := counter(`switchboard_usage_tokens_total{model="mock-model",provider="mock",kind="input"}`)
	var cost, in, out int64
	for range 3 {
		r := g.post(t, "/v1/chat/completions", chat("mock-model", ""), bearer(secret)...)
		e := entryOf(t, g, r)
		cost, in, out = cost+int64(e.Cost), in+e.InputTokens, out+e.OutputTokens
	}
	if cost <= 0 || in <= 0 {
		t.Fatalf("cost %d, input %d: the mock model is priced", cost, in)
	}
	if got := counter(`switchboard_spend_nanodollars_total`+route) - spendBefore; got != uint64(cost) {
		t.Errorf("route spend grew by %d, the ledger charged %d", got, cost)
	}
	if got := counter(`switchboard_usage_tokens_total{model="mock-model",provider="mock",kind="input"}`) - inBefore; got != uint64(in) {
		t.Errorf("route input tokens grew by %d, want %d", got, in)
	}
	key := fmt.Sprintf(`{key=%q}`, id)
	if got := counter(`switchboard_key_spend_nanodollars_total` + key); got != uint64(cost) {
		t.Errorf("key spend %d, want %d", got, cost)
	}
	if got := counter(fmt.Sprintf(`switchboard_key_usage_tokens_total{key=%q,kind="output"}`, id)); got != uint64(out) {
		t.Errorf("key output tokens %d, want %d", got, out)
	}
	var sb strings.Builder
	metrics.WritePrometheus(&sb, false)
	for _, kind := range tokenKinds {
		if !strings.Contains(sb.String(), fmt.Sprintf(`switchboard_key_usage_tokens_total{key=%q,kind=%q}`, id, kind)) {
			t.Errorf("/metrics lacks the key's %s tokens", kind)
		}
	}
}

func TestSpendSeriesAreCapped(t *testing.T) {
	var sc spendCache
	for i := range maxLabelSets + 10 {
		sc.get(spendLabels{key: fmt.Sprintf("sk-sb-cap%05d", i)})
		sc.get(spendLabels{model: fmt.Sprintf("client/model-%d", i), provider: "client"})
	}
	if sc.keys > maxLabelSets+1 || sc.routes > maxLabelSets+1 || len(sc.m) > 2*maxLabelSets+2 {
		t.Errorf("%d key and %d route label sets, %d series sets; cap %d", sc.keys, sc.routes, len(sc.m), maxLabelSets)
	}
	if sc.m[spendLabels{key: "other"}] == nil || sc.m[spendLabels{model: "other", provider: "client"}] == nil {
		t.Errorf("no \"other\" series past the cap")
	}
}
