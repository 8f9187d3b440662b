package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"switchboard/bench/mock"
	"switchboard/store"
)

// wsClient is a test client of Responses over WebSocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dialResponses opens a WebSocket to g's /v1/responses with key, the
// way Codex does (its beta header, a Bearer token).
func dialResponses(t *testing.T, g *gateway, key string) (*wsClient, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+key)
	h.Set("OpenAI-Beta", "responses_websockets=2026-02-06")
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(g.URL, "http")+"/v1/responses", h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &wsClient{t: t, conn: conn}, resp, nil
}

func mustDial(t *testing.T, g *gateway) *wsClient {
	t.Helper()
	c, resp, err := dialResponses(t, g, testKey)
	if err != nil {
		t.Fatalf("dial: %v (response %+v)", err, resp)
	}
	return c
}

// wsEvent is one event message, with the fields the tests look at.
type wsEvent struct {
	Type     string `json:"type"`
	Status   int    `json:"status"`
	Delta    string `json:"delta"`
	Response struct {
		ID     string            `json:"id"`
		Output []json.RawMessage `json:"output"`
		Usage  *struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	} `json:"response"`
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	raw string
}

// send sends one message.
func (c *wsClient) send(msg string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// turn sends a response.create message with the fields in fields (JSON
// object members) and reads its events up to response.completed or an
// error.
func (c *wsClient) turn(fields string) []wsEvent {
	c.t.Helper()
	c.send(`{"type":"response.create",` + fields + `}`)
	return c.events()
}

// events reads events until a response.completed, response.failed or
// error event.
func (c *wsClient) events() []wsEvent {
	c.t.Helper()
	var evs []wsEvent
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		typ, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read after %d events: %v", len(evs), err)
		}
		if typ != websocket.TextMessage {
			c.t.Fatalf("message type %d, want text", typ)
		}
		var ev wsEvent
		if err := json.Unmarshal(msg, &ev); err != nil {
			c.t.Fatalf("event %q: %v", msg, err)
		}
		ev.raw = string(msg)
		evs = append(evs, ev)
		switch ev.Type {
		case "response.completed", "response.failed", "error":
			return evs
		}
	}
}

// text is the output text of a turn's deltas.
func text(evs []wsEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Type == "response.output_text.delta" {
			b.WriteString(ev.Delta)
		}
	}
	return b.String()
}

// last is a turn's last event.
func last(evs []wsEvent) wsEvent { return evs[len(evs)-1] }

// TestResponsesWebSocketTurns: turns on one connection are served like
// POST /v1/responses streams, one message per event, for a Responses
// provider and for providers of the other formats (translated); each is
// one ledger entry and counted as a turn.
func TestResponsesWebSocketTurns(t *testing.T) {
	g := startFourFormatGateway(t)
	c := mustDial(t, g)
	httpTurns, _, _ := WebSocketTurns()
	for i, model := range []string{"resp/resp-model", "mock/mock-model", "anth/claude-mock", "gem/gem-model"} {
		entries := len(operatorEntries(t, g))
		evs := c.turn(fmt.Sprintf(`"model":%q,"input":"hi","store":false`, model))
		if evs[0].Type != "response.created" || last(evs).Type != "response.completed" {
			t.Fatalf("%s: events %q ... %q, want response.created ... response.completed", model, evs[0].raw, last(evs).raw)
		}
		if got := text(evs); got != cliMockText {
			t.Fatalf("%s: text %q, want %q", model, got, cliMockText)
		}
		if u := last(evs).Response.Usage; u == nil || u.OutputTokens == 0 {
			t.Fatalf("%s: completed without usage: %s", model, last(evs).raw)
		}
		if up := g.Mock.LastRequest(); strings.Contains(string(up.Body), `"type":"response.create"`) {
			t.Fatalf("%s: the provider got the message type: %s", model, up.Body)
		}
		waitFor(t, 20*time.Second, func() string { // the call settles once its last event is sent
			if es := operatorEntries(t, g); len(es) != entries+1 || es[0].Status != 200 || es[0].OutputTokens == 0 {
				return fmt.Sprintf("%s: ledger has %d entries (want %d): %+v", model, len(es), entries+1, es)
			}
			return ""
		})
		if h, _, _ := WebSocketTurns(); h != httpTurns+uint64(i)+1 {
			t.Fatalf("%s: %d turns counted, want %d", model, h-httpTurns, i+1)
		}
	}
}

// TestResponsesWebSocketContinuity: a turn that sends only its new input
// with previous_response_id is expanded for a stateless provider into
// the whole conversation: the last request's input, its output, then the
// new items, with no previous_response_id. A warm-up turn (generate:
// false) is answered without a provider call and continues the same way.
func TestResponsesWebSocketContinuity(t *testing.T) {
	g := startFourFormatGateway(t)
	c := mustDial(t, g)
	calls := g.Mock.Requests()
	warm := c.turn(`"model":"resp/resp-model","generate":false,"input":[{"type":"message","role":"user","content":"first"}]`)
	if len(warm) != 2 || last(warm).Type != "response.completed" || len(last(warm).Response.Output) != 0 {
		t.Fatalf("warm-up events %+v, want created and completed with no output", warm)
	}
	if g.Mock.Requests() != calls {
		t.Fatalf("the warm-up reached the provider")
	}
	_, _, warmups := WebSocketTurns()
	if warmups == 0 {
		t.Fatal("the warm-up was not counted")
	}
	for _, model := range []string{"resp/resp-model+tools=2", "mock/mock-model"} {
		t.Run(model, func(t *testing.T) {
			prev := last(warm).Response.ID
			first := c.turn(fmt.Sprintf(`"model":%q,"previous_response_id":%q,"input":[]`, model, prev))
			if last(first).Type != "response.completed" {
				t.Fatalf("first turn ended with %s", last(first).raw)
			}
			id := last(first).Response.ID
			if id == "" || id == prev {
				t.Fatalf("first turn's response id %q", id)
			}
			second := c.turn(fmt.Sprintf(`"model":%q,"previous_response_id":%q,"input":[{"type":"function_call_output","call_id":"call_x","output":"sunny"}]`, model, id))
			if last(second).Type != "response.completed" {
				t.Fatalf("second turn ended with %s", last(second).raw)
			}
			body := string(g.Mock.LastRequest().Body)
			if strings.Contains(body, "previous_response_id") {
				t.Fatalf("a stateless provider was sent previous_response_id: %s", body)
			}
			// The whole conversation, in order: the warm-up's input,
			// the first turn's output, the new tool output.
			iFirst := strings.Index(body, "first")
			iOut := strings.Index(body, "chunk 0")
			if strings.HasSuffix(model, "tools=2") {
				iOut = strings.Index(body, "get_weather")
			}
			iNew := strings.LastIndex(body, "sunny")
			if iFirst < 0 || iOut < iFirst || iNew < iOut {
				t.Fatalf("the provider was not sent the whole conversation in order (%d, %d, %d): %s", iFirst, iOut, iNew, body)
			}
			warm = second
		})
	}
}

// TestResponsesWebSocketErrors: a turn the gateway refuses is an error
// event with the HTTP status, and the connection stays open for the
// next turn.
func TestResponsesWebSocketErrors(t *testing.T) {
	g := startFourFormatGateway(t)
	c := mustDial(t, g)
	for _, tc := range []struct{ msg, code string }{
		{`{"type":"response.cancel"}`, "invalid_request"},
		{`[1,2]`, "invalid_request"},
		{`{"type":"response.create","model":"resp/resp-model","input":1}`, "invalid_request"},
		{`{"type":"response.create","model":"resp/resp-model","input":true,"generate":false}`, "invalid_request"},
		{`{"type":"response.create","model":"resp/resp-model","input":{}}`, "invalid_request"},
		{`{"type":"response.create","model":"nope/none","input":"hi"}`, "model_not_found"},
		{`{"type":"response.create","model":"resp/resp-model+status=429+retry_after=1","input":"hi"}`, ""},
	} {
		c.send(tc.msg)
		ev := last(c.events())
		if ev.Type != "error" || ev.Status < 400 || tc.code != "" && ev.Error.Code != tc.code {
			t.Fatalf("%s: got %s, want an error event with a status and code %q", tc.msg, ev.raw, tc.code)
		}
	}
	if evs := c.turn(`"model":"resp/resp-model","input":"hi"`); last(evs).Type != "response.completed" {
		t.Fatalf("the connection did not serve a turn after errors: %s", last(evs).raw)
	}
}

// TestResponsesWebSocketRefused: the upgrade is answered 426 when
// WebSockets are off (Codex then falls back to HTTP) and 401 for a bad
// key, before any upgrade.
func TestResponsesWebSocketRefused(t *testing.T) {
	m := startMock(t, mock.Options{})
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
server: {websocket: {disabled: true}}
auth: {keys: [{name: test, key: %s}]}
providers:
  - {name: resp, format: responses, base_url: %s/v1, api_key: sk-resp-upstream, models: [resp-model]}
`, t.TempDir(), testKey, m.URL()))
	_, resp, err := dialResponses(t, g, testKey)
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("disabled: %v, response %+v; want 426", err, resp)
	}
	g2 := startFourFormatGateway(t)
	_, resp, err = dialResponses(t, g2, "sk-sb-wrong")
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad key: %v, response %+v; want 401", err, resp)
	}
}

// TestResponsesWebSocketClientLeavesMidTurn: a client that closes its
// connection while the provider is silent mid-stream cancels the
// upstream call at once, and the turn is billed for what was relayed.
func TestResponsesWebSocketClientLeavesMidTurn(t *testing.T) {
	g := startFourFormatGateway(t)
	for _, model := range []string{"resp/resp-model", "mock/mock-model"} {
		t.Run(model, func(t *testing.T) {
			before := len(g.Mock.Holds())
			entries := len(operatorEntries(t, g))
			c := mustDial(t, g)
			c.send(fmt.Sprintf(`{"type":"response.create","model":%q,"input":"hi"}`, model+holdLong+"+holdafter=6"))
			_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, _, err := c.conn.ReadMessage(); err != nil {
				t.Fatalf("no event before the hold: %v", err)
			}
			waitHold(t, g.Mock, 1)
			_ = c.conn.NetConn().Close()
			waitHold(t, g.Mock, 0)
			if h := g.Mock.Holds(); len(h) != before+1 || h[before].Closed.IsZero() {
				t.Fatalf("the mock did not see its connection close")
			}
			var e store.Entry
			waitFor(t, 20*time.Second, func() string {
				es := operatorEntries(t, g)
				if len(es) != entries+1 {
					return fmt.Sprintf("%d ledger entries, want %d", len(es), entries+1)
				}
				e = es[0]
				return ""
			})
			if e.Settled != store.SettledEstimate || e.OutputTokens == 0 {
				t.Fatalf("entry %+v: want an estimate with the relayed output", e)
			}
		})
	}
	waitFor(t, 20*time.Second, func() string {
		if n := wsConnections.Get(); n != 0 {
			return fmt.Sprintf("%v WebSocket connections still open", n)
		}
		return noCallsLeft()
	})
}

// TestResponsesWebSocketLimits: a message over server.max_body_bytes
// closes the connection with 1009; an idle one is closed with 1001 after
// server.websocket.idle_timeout; pings are answered.
func TestResponsesWebSocketLimits(t *testing.T) {
	m := startMock(t, mock.Options{})
	g := startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
server: {max_body_bytes: 4096, websocket: {idle_timeout: 300ms}}
auth: {keys: [{name: test, key: %s}]}
providers:
  - {name: resp, format: responses, base_url: %s/v1, api_key: sk-resp-upstream, models: [resp-model]}
`, t.TempDir(), testKey, m.URL()))
	closeCode := func(c *wsClient) int {
		_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			if _, _, err := c.conn.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return ce.Code
				}
				t.Fatalf("read: %v, want a close frame", err)
			}
		}
	}
	c := mustDial(t, g)
	pong := make(chan struct{}, 1)
	c.conn.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
	if err := c.conn.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	c.send(`{"type":"response.create","model":"resp/resp-model","input":"` + strings.Repeat("x", 5000) + `"}`)
	if code := closeCode(c); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d after a big message, want %d", code, websocket.CloseMessageTooBig)
	}
	select {
	case <-pong:
	default:
		t.Fatal("the ping was not answered")
	}
	c = mustDial(t, g)
	if code := closeCode(c); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d when idle, want %d", code, websocket.CloseGoingAway)
	}
}

// startPassthroughGateway starts a gateway whose Responses provider
// "wsp" serves WebSockets (websocket: true) on m, beside an HTTP one.
func startPassthroughGateway(t *testing.T, m *mock.Server) *gateway {
	t.Helper()
	return startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
billing:
  prices:
    wsp/ws-model: {input: "1", output: "2"}
    wsp/ws-model+status=503: {input: "1", output: "2"}
providers:
  - {name: wsp, format: responses, websocket: true, base_url: %s/v1, api_key: sk-ws-upstream, models: [ws-model]}
routes:
  - {model: flaky, targets: [wsp/ws-model+status=503, wsp/ws-model]}
`, t.TempDir(), testKey, m.URL()))
}

// TestResponsesWebSocketPassthrough: turns routed to a provider that
// serves WebSockets go over the gateway's own WebSocket to it, message
// for message; a turn that continues the connection's last response is
// sent short (its new input and previous_response_id), which the mock
// accepts only for the response it completed on that connection; each
// turn is billed.
func TestResponsesWebSocketPassthrough(t *testing.T) {
	m := startMock(t, mock.Options{})
	g := startPassthroughGateway(t, m)
	c := mustDial(t, g)
	_, pass, _ := WebSocketTurns()
	first := c.turn(`"model":"wsp/ws-model","input":"hello there","store":false`)
	if last(first).Type != "response.completed" || text(first) != cliMockText {
		t.Fatalf("first turn: %s, text %q", last(first).raw, text(first))
	}
	if m.WebSocketTurns() != 1 {
		t.Fatalf("the mock got %d WebSocket turns, want 1", m.WebSocketTurns())
	}
	second := c.turn(fmt.Sprintf(`"model":"wsp/ws-model","previous_response_id":%q,"input":[{"type":"message","role":"user","content":"and then"}]`, last(first).Response.ID))
	if last(second).Type != "response.completed" {
		t.Fatalf("second turn: %s", last(second).raw)
	}
	up := m.LastRequestTo(mock.SurfaceResponses)
	var frame struct {
		Type     string            `json:"type"`
		Model    string            `json:"model"`
		Previous string            `json:"previous_response_id"`
		Input    []json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(up.Body, &frame); err != nil {
		t.Fatalf("the mock's last message %q: %v", up.Body, err)
	}
	if frame.Type != "response.create" || frame.Model != "ws-model" || frame.Previous != last(first).Response.ID || len(frame.Input) != 1 {
		t.Fatalf("the provider was sent %s; want the short turn: response.create for ws-model continuing %s with one item", up.Body, last(first).Response.ID)
	}
	if up.Headers["authorization"] != "Bearer sk-ws-upstream" || up.Headers["openai-beta"] == "" {
		t.Fatalf("the provider's WebSocket had headers %v, want its key and the beta header", up.Headers)
	}
	if _, p, _ := WebSocketTurns(); p != pass+2 {
		t.Fatalf("%d passthrough turns counted, want 2", p-pass)
	}
	waitFor(t, 20*time.Second, func() string {
		es := operatorEntries(t, g)
		if len(es) != 2 || es[0].Provider != "wsp" || es[0].OutputTokens == 0 || es[0].Settled == store.SettledEstimate {
			return fmt.Sprintf("ledger %+v, want two wsp entries with the provider's usage", es)
		}
		return ""
	})
	// A provider's error message fails over like its HTTP status: the
	// next target answers on the same connection, sent whole, since after
	// an error the gateway does not count on the provider's state.
	turns := m.WebSocketTurns()
	evs := c.turn(fmt.Sprintf(`"model":"flaky","previous_response_id":%q,"input":[{"type":"message","role":"user","content":"again"}]`, last(second).Response.ID))
	if last(evs).Type != "response.completed" || m.WebSocketTurns() != turns+2 {
		t.Fatalf("failover: %s after %d provider turns, want completed after 2", last(evs).raw, m.WebSocketTurns()-turns)
	}
	waitFor(t, 20*time.Second, func() string {
		es := operatorEntries(t, g)
		if len(es) != 3 || es[0].Attempts != 2 {
			return fmt.Sprintf("ledger %+v, want a third entry with 2 attempts", es)
		}
		return ""
	})
	if body := string(m.LastRequestTo(mock.SurfaceResponses).Body); strings.Contains(body, "previous_response_id") || !strings.Contains(body, "hello there") {
		t.Fatalf("after a failover the provider was sent %s; want the whole conversation", body)
	}
	// The client leaves mid-turn: the provider's connection is closed.
	c.send(`{"type":"response.create","model":"wsp/ws-model+chunks=200+gap=20ms","input":"long"}`)
	if _, _, err := c.conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	_ = c.conn.NetConn().Close()
	waitFor(t, 20*time.Second, func() string {
		if n := m.WebSocketConns(); n != 0 {
			return fmt.Sprintf("the mock still has %d WebSocket connections", n)
		}
		if es := operatorEntries(t, g); len(es) != 4 {
			return fmt.Sprintf("%d ledger entries, want 4", len(es))
		}
		return ""
	})
}

// TestResponsesWebSocketPassthroughRefused: a provider marked websocket
// that answers the upgrade 426 gets the turn over HTTP.
func TestResponsesWebSocketPassthroughRefused(t *testing.T) {
	m := startMock(t, mock.Options{NoWebSocket: true})
	g := startPassthroughGateway(t, m)
	c := mustDial(t, g)
	evs := c.turn(`"model":"wsp/ws-model","input":"hi"`)
	if last(evs).Type != "response.completed" || text(evs) != cliMockText {
		t.Fatalf("turn: %s", last(evs).raw)
	}
	if m.WebSocketTurns() != 0 || m.LastRequestTo(mock.SurfaceResponses).Method != "POST" {
		t.Fatalf("the provider got %d WebSocket turns and last %s; want the turn over HTTP", m.WebSocketTurns(), m.LastRequestTo(mock.SurfaceResponses).Method)
	}
}

// TestResponsesWebSocketShutdown: Shutdown lets a turn in progress
// finish (its ledger entry written), then closes every session with
// 1001, an idle one at once, and refuses new upgrades.
func TestResponsesWebSocketShutdown(t *testing.T) {
	g := startFourFormatGateway(t)
	idle := mustDial(t, g)
	busy := mustDial(t, g)
	busy.send(`{"type":"response.create","model":"resp/resp-model+gap=20ms","input":"hi"}`)
	_ = busy.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, _, err := busy.conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- g.srv.Shutdown(ctx)
	}()
	evs := busy.events()
	if last(evs).Type != "response.completed" {
		t.Fatalf("the turn in progress ended with %s", last(evs).raw)
	}
	for name, c := range map[string]*wsClient{"idle": idle, "busy": busy} {
		_, _, err := c.conn.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("%s session: %v, want close 1001", name, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if es := operatorEntries(t, g); len(es) != 1 || es[0].Status != 200 {
		t.Fatalf("ledger %+v, want the finished turn", es)
	}
}

// TestResponsesWebSocketReload: a reload that turns WebSockets off makes
// new upgrades 426 while an open session keeps serving turns on the
// config its turns load (each turn loads the running one).
func TestResponsesWebSocketReload(t *testing.T) {
	g := startGateway(t, mock.Options{}, "")
	open := mustDial(t, g)
	cfg, r := reloadConfig(t, g, "server: {websocket: {disabled: true}}\n")
	if _, err := g.srv.Reload(cfg, r); err != nil {
		t.Fatal(err)
	}
	if _, resp, err := dialResponses(t, g, testKey); err == nil || resp == nil || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("after the reload: %v, %+v; want 426", err, resp)
	}
	if evs := open.turn(`"model":"mock/mock-model","input":"hi"`); last(evs).Type != "response.completed" {
		t.Fatalf("the open session after the reload: %s", last(evs).raw)
	}
}
