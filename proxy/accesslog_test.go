package proxy

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"
)

// TestAccessLogLines: a proxied call's line carries its request id,
// cost, cache part and attempts; a management API call gets a line and
// a request id too.
func TestAccessLogLines(t *testing.T) {
	g := startGateway(t, mock.Options{}, `
routes:
  - {model: after-500, targets: [mock/mock-model+status=500, mock/mock-model]}
billing:
  prices:
    mock/mock-model: {input: "1", output: "2"}
`)
	r := g.post(t, "/v1/chat/completions", chat("after-500", ""))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	id := r.header[headerRequestID]
	api := g.do(t, "GET", "/api/v1/key", "")
	apiID := api.header[headerRequestID]
	if api.status != 200 || !strings.HasPrefix(apiID, "req_") || apiID == id {
		t.Fatalf("GET /api/v1/key: status %d, request id %q (the call's %q)", api.status, apiID, id)
	}
	call := regexp.MustCompile(`id=` + id + ` key=test /v1/chat/completions model="after-500" provider=mock status=200 dur_us=\d+ overhead_us=-?\d+ in=\d+ out=\d+ cost=0\.\d+ cache=- attempts=2\n`)
	apiLine := regexp.MustCompile(`id=` + apiID + ` api GET /api/v1/key status=200 dur_us=\d+\n`)
	deadline := time.Now().Add(10 * time.Second) // the log is flushed every 200ms
	for !(call.MatchString(g.logs.String()) && apiLine.MatchString(g.logs.String())) {
		if time.Now().After(deadline) {
			t.Fatalf("no access log lines for the call and the API call:\n%s", g.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
