package proxy

import (
	"fmt"
	"testing"

	"switchboard/bench/mock"
)

// TestStickyRouting: on a weighted route, the turns of one conversation
// (same opening, or same session header) stay with the target that
// served its first turn.
func TestStickyRouting(t *testing.T) {
	m := startMock(t, mock.Options{})
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
providers:
  - {name: one, base_url: %[3]s/v1, api_key: k1, models: [m]}
  - {name: two, base_url: %[3]s/v1, api_key: k2, models: [m]}
routes:
  - {model: conv, strategy: weighted, targets: [one/m, two/m]}
`, t.TempDir(), testKey, m.URL()))
	for conv := range 4 {
		opening := fmt.Sprintf(`{"role":"system","content":"conversation %d"},{"role":"user","content":"start"}`, conv)
		var first string
		for turn := range 8 {
			body := fmt.Sprintf(`{"model":"conv","messages":[%s,{"role":"assistant","content":"ok"},{"role":"user","content":"turn %d"}]}`, opening, turn)
			r := g.post(t, "/v1/chat/completions", body)
			p := r.header[headerProvider]
			switch {
			case r.status != 200:
				t.Fatalf("status %d: %s", r.status, r.body)
			case turn == 0:
				first = p
			case p != first || r.header[headerSticky] != "1":
				t.Fatalf("conversation %d turn %d went to %q (sticky %q), its first turn to %q", conv, turn, p, r.header[headerSticky], first)
			}
		}
	}
	// A session header names the conversation whatever its content.
	var first string
	for turn := range 8 {
		r := g.post(t, "/v1/chat/completions", fmt.Sprintf(`{"model":"conv","messages":[{"role":"user","content":"%d"}]}`, turn), "session_id", "s-1")
		if turn == 0 {
			first = r.header[headerProvider]
		} else if r.header[headerProvider] != first {
			t.Fatalf("session turn %d went to %q, not %q", turn, r.header[headerProvider], first)
		}
	}
}
