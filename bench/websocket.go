package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// The WebSocket scenario: a coding agent's tool loop, wsLoopTurns turns
// of one conversation, each answered by the mock with a function call
// whose output (wsToolOutput bytes, a file read) the next turn sends,
// through the billing-on gateway three ways, loops of each taking turns
// in the same run, one at a time:
//
//   - http: POST /v1/responses streams, each turn sending the whole
//     conversation so far, on a keep-alive connection;
//   - websocket: one Responses WebSocket per loop (its dial counted in
//     the loop), each turn after the first sending only its tool output
//     with previous_response_id; the gateway expands it and calls the
//     provider over HTTP;
//   - websocket-passthrough: the same to a provider with websocket: true,
//     which the gateway passes the short turns to over its own
//     WebSocket to the mock.
//
// It reports each way's time per turn (send to response.completed) and
// per loop, and the bytes the client sent per loop.

const (
	wsName       = "Responses over WebSocket vs HTTP, 20-turn tool loop, c=1"
	featureWS    = "responses-websocket"
	wsLoopTurns  = 20
	wsToolOutput = 2048
	// The models of the loops: the mock answers each turn with a tool
	// call; resp speaks Responses over HTTP, wsp over WebSocket too.
	wsModelHTTP = "resp/resp-model+tools=1"
	wsModelPass = "wsp/ws-model+tools=1"
)

// wsProviders is the gateway config's providers for the scenario, on the
// mock at %[1]s.
const wsProviders = `  - {name: resp, format: responses, base_url: %[1]s/v1, api_key: mock-upstream-key, models: [resp-model]}
  - {name: wsp, format: responses, websocket: true, base_url: %[1]s/v1, api_key: mock-upstream-key, models: [ws-model]}
`

// wsPrices are the scenario models' prices, as the plain model's.
var wsPrices = []string{wsModelHTTP, wsModelPass}

// WebSocketFigures are the WebSocket scenario's figures, per way.
type WebSocketFigures struct {
	Turns int             `json:"turns_per_loop"`
	Modes []WebSocketMode `json:"modes"`
}

// WebSocketMode is one way's figures: per turn and per loop, in µs.
type WebSocketMode struct {
	Mode         string      `json:"mode"`
	Loops        int64       `json:"loops"`
	Errors       int64       `json:"errors"`
	FirstError   string      `json:"first_error,omitempty"`
	Turn         Percentiles `json:"turn_us"`
	Loop         Percentiles `json:"loop_us"`
	BytesPerLoop int64       `json:"client_bytes_per_loop"`
}

// wsMode is one way to run the loop.
type wsMode struct {
	name  string
	model string
	ws    bool
	turn  *hdrhistogram.Histogram
	loop  *hdrhistogram.Histogram
	fig   WebSocketMode
}

// runWebSocket runs o.wsLoops loops of each way through gw.
func runWebSocket(ctx context.Context, gw *target, o *options) Scenario {
	s := Scenario{Name: wsName, Kind: kindLatency, Feature: featureWS,
		Method: fmt.Sprintf("%d loops of %d turns per way through %s, the ways taking turns loop by loop; a turn is a Responses stream from send to response.completed, its tool output %d bytes; the loop includes the WebSocket dial", o.wsLoops, wsLoopTurns, gw.name, wsToolOutput)}
	modes := []*wsMode{
		{name: "http", model: wsModelHTTP},
		{name: "websocket", model: wsModelHTTP, ws: true},
		{name: "websocket-passthrough", model: wsModelPass, ws: true},
	}
	for _, m := range modes {
		m.turn = hdrhistogram.New(1, int64(time.Minute), 3)
		m.loop = hdrhistogram.New(1, int64(time.Minute), 3)
		m.fig.Mode = m.name
	}
	hc := gw.client
	for i := 0; i < o.wsLoops && ctx.Err() == nil; i++ {
		for _, m := range modes {
			start := time.Now()
			sent, err := wsLoop(gw, hc, m, o.timeout)
			if err != nil {
				m.fig.Errors++
				if m.fig.FirstError == "" {
					m.fig.FirstError = err.Error()
				}
				continue
			}
			_ = m.loop.RecordValue(int64(time.Since(start)))
			m.fig.Loops++
			m.fig.BytesPerLoop = sent
		}
	}
	f := &WebSocketFigures{Turns: wsLoopTurns}
	for _, m := range modes {
		m.fig.Turn, m.fig.Loop = percentiles(m.turn), percentiles(m.loop)
		f.Modes = append(f.Modes, m.fig)
	}
	s.WebSocket = f
	return s
}

// wsLoop runs one loop of m and returns the bytes the client sent.
func wsLoop(gw *target, hc *fasthttp.HostClient, m *wsMode, timeout time.Duration) (int64, error) {
	var conn *websocket.Conn
	if m.ws {
		h := http.Header{"Authorization": {"Bearer " + gw.key}}
		d := websocket.Dialer{HandshakeTimeout: timeout}
		if hc.Dial != nil {
			d.NetDial = func(_, addr string) (net.Conn, error) { return hc.Dial(addr) }
		}
		var err error
		if conn, _, err = d.Dial("ws"+strings.TrimPrefix(gw.base, "http")+"/v1/responses", h); err != nil {
			return 0, fmt.Errorf("dial: %w", err)
		}
		defer conn.Close()
	}
	tool := `{"type":"function_call_output","call_id":"call_%d","output":"` + strings.Repeat("x", wsToolOutput) + `"}`
	items := []string{`{"type":"message","role":"user","content":"Fix the failing test."}`}
	var sent int64
	prev := ""
	for turn := 0; turn < wsLoopTurns; turn++ {
		input := "[" + strings.Join(items, ",") + "]"
		if m.ws && prev != "" {
			input = "[" + items[len(items)-1] + "]"
		}
		body := fmt.Sprintf(`{"model":%q,"stream":true,"store":false,"input":%s`, m.model, input)
		if m.ws {
			body = `{"type":"response.create",` + body[1:]
			if prev != "" {
				body += fmt.Sprintf(`,"previous_response_id":%q`, prev)
			}
		}
		body += "}"
		sent += int64(len(body))
		start := time.Now()
		var id string
		var output []json.RawMessage
		var err error
		if m.ws {
			id, output, err = wsTurn(conn, body, timeout)
		} else {
			id, output, err = httpTurn(hc, gw, body, timeout)
		}
		if err != nil {
			return sent, fmt.Errorf("turn %d: %w", turn+1, err)
		}
		_ = m.turn.RecordValue(int64(time.Since(start)))
		prev = id
		for _, it := range output {
			items = append(items, string(it))
		}
		items = append(items, fmt.Sprintf(tool, turn))
	}
	return sent, nil
}

// completed is a response.completed event's response.
type completed struct {
	Type     string `json:"type"`
	Response struct {
		ID     string            `json:"id"`
		Output []json.RawMessage `json:"output"`
	} `json:"response"`
	Error json.RawMessage `json:"error"`
}

// readCompleted reads one event; done with the completed response.
func readCompleted(data []byte) (c completed, done bool, err error) {
	if !bytes.Contains(data, []byte(`"response.completed"`)) && !bytes.Contains(data, []byte(`"error"`)) {
		return c, false, nil
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, false, err
	}
	switch c.Type {
	case "response.completed":
		return c, true, nil
	case "error", "response.failed":
		return c, false, fmt.Errorf("%s: %s", c.Type, data)
	}
	return c, false, nil
}

func wsTurn(conn *websocket.Conn, body string, timeout time.Duration) (string, []json.RawMessage, error) {
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(body)); err != nil {
		return "", nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return "", nil, err
		}
		c, done, err := readCompleted(msg)
		if err != nil {
			return "", nil, err
		}
		if done {
			return c.Response.ID, c.Response.Output, nil
		}
	}
}

func httpTurn(hc *fasthttp.HostClient, gw *target, body string, timeout time.Duration) (string, []json.RawMessage, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(gw.base + "/v1/responses")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("Authorization", "Bearer "+gw.key)
	req.SetBodyString(body)
	if err := hc.DoTimeout(req, resp, timeout); err != nil {
		return "", nil, err
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return "", nil, fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	for _, ev := range bytes.Split(resp.Body(), []byte("\n\n")) {
		_, data, ok := bytes.Cut(ev, []byte("data: "))
		if !ok {
			continue
		}
		c, done, err := readCompleted(data)
		if err != nil {
			return "", nil, err
		}
		if done {
			return c.Response.ID, c.Response.Output, nil
		}
	}
	return "", nil, errors.New("the stream ended without response.completed")
}

// writeWebSocket writes the scenario's table.
func writeWebSocket(b *strings.Builder, f *WebSocketFigures) {
	b.WriteString("| way | loops | errors | turn p50 | turn p99 | loop p50 | loop p99 | client bytes per loop |\n|---|---|---|---|---|---|---|---|\n")
	for _, m := range f.Modes {
		fmt.Fprintf(b, "| %s | %d | %d | %.0f | %.0f | %.0f | %.0f | %d |\n", m.Mode, m.Loops, m.Errors, m.Turn.P50, m.Turn.P99, m.Loop.P50, m.Loop.P99, m.BytesPerLoop)
	}
	for _, m := range f.Modes {
		if m.FirstError != "" {
			fmt.Fprintf(b, "\n%s: first error: %s\n", m.Mode, m.FirstError)
		}
	}
}
