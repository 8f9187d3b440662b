package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"switchboard/bench/mock"
)

// BenchmarkResponsesWebSocketTurn runs Responses turns over one
// WebSocket through a gateway in front of the in-process mock: to a
// provider over HTTP (the session's bridge), and passed through to a
// provider that serves WebSockets. Each turn continues the last with one
// new item, as a tool loop does; the conversation restarts every 20
// turns. Times and allocations include the client's and the mock's.
func BenchmarkResponsesWebSocketTurn(b *testing.B) {
	m := startMock(b, mock.Options{})
	g := startGatewayConfig(b, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
log: {access: false}
auth: {keys: [{name: test, key: %s}]}
billing:
  prices:
    resp/resp-model: {input: "1", output: "2"}
    wsp/ws-model: {input: "1", output: "2"}
providers:
  - {name: resp, format: responses, base_url: %[3]s/v1, api_key: k, models: [resp-model]}
  - {name: wsp, format: responses, websocket: true, base_url: %[3]s/v1, api_key: k, models: [ws-model]}
`, b.TempDir(), testKey, m.URL()))
	for _, model := range []string{"resp/resp-model", "wsp/ws-model"} {
		b.Run(model, func(b *testing.B) {
			h := map[string][]string{"Authorization": {"Bearer " + testKey}}
			conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(g.URL, "http")+"/v1/responses", h)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			tool := []byte(`{"type":"function_call_output","call_id":"c","output":"` + strings.Repeat("x", 2048) + `"}`)
			prev := ""
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				msg := `{"type":"response.create","model":"` + model + `","input":"start"}`
				if prev != "" && i%20 != 0 {
					msg = `{"type":"response.create","model":"` + model + `","previous_response_id":"` + prev + `","input":[` + string(tool) + `]}`
				}
				if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					b.Fatal(err)
				}
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				for {
					_, ev, err := conn.ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					if strings.Contains(string(ev[:min(len(ev), 40)]), `"response.completed"`) {
						var c wsEvent
						_ = json.Unmarshal(ev, &c)
						prev = c.Response.ID
						break
					}
					if strings.Contains(string(ev[:min(len(ev), 20)]), `"error"`) {
						b.Fatalf("%s", ev)
					}
				}
			}
		})
	}
}
