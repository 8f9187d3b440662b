package mock_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"switchboard/bench/mock"
)

// wsTurn sends msg and reads the events up to the last one of the turn.
func wsTurn(t *testing.T, c *websocket.Conn, msg string) []map[string]any {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var evs []map[string]any
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d events: %v", len(evs), err)
		}
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		evs = append(evs, ev)
		if typ := ev["type"]; typ == "response.completed" || typ == "error" {
			return evs
		}
	}
}

// TestWebSocketResponses: Responses over WebSocket answers each
// response.create with the stream's events as messages, continues only
// the connection's own last response, and answers errors as error
// messages on the open connection; with NoWebSocket the upgrade is 426.
func TestWebSocketResponses(t *testing.T) {
	m := startMock(t, mock.Options{})
	url := "ws" + strings.TrimPrefix(m.URL(), "http") + "/v1/responses"
	h := http.Header{"Authorization": {"Bearer k"}}
	c, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	evs := wsTurn(t, c, `{"type":"response.create","model":"m","input":"hi"}`)
	if evs[0]["type"] != "response.created" || len(evs) != 16 {
		t.Fatalf("%d events, first %v; want the 16 of the stream (8 deltas)", len(evs), evs[0])
	}
	id := evs[len(evs)-1]["response"].(map[string]any)["id"].(string)
	next := wsTurn(t, c, `{"type":"response.create","model":"m","previous_response_id":"`+id+`","input":[]}`)
	if next[len(next)-1]["type"] != "response.completed" {
		t.Fatalf("continuing %s: %v", id, next[len(next)-1])
	}
	bad := wsTurn(t, c, `{"type":"response.create","model":"m","previous_response_id":"resp_other","input":[]}`)
	if e := bad[0]; e["type"] != "error" || e["status"] != 400.0 || e["error"].(map[string]any)["code"] != "previous_response_not_found" {
		t.Fatalf("an unknown previous_response_id: %v", e)
	}
	if e := wsTurn(t, c, `{"type":"response.create","model":"m+status=429","input":"hi"}`)[0]; e["status"] != 429.0 {
		t.Fatalf("status=429: %v", e)
	}
	if m.WebSocketTurns() != 4 || m.WebSocketConns() != 1 {
		t.Fatalf("%d turns on %d connections, want 4 on 1", m.WebSocketTurns(), m.WebSocketConns())
	}
	off := startMock(t, mock.Options{NoWebSocket: true})
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(off.URL(), "http")+"/v1/responses", h)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("NoWebSocket: %v %+v, want 426", err, resp)
	}
}
