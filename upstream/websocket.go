package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// ResponsesWebSocketBeta is the OpenAI-Beta header value of Responses
// over WebSocket, as Codex CLI sends it.
const ResponsesWebSocketBeta = "responses_websockets=2026-02-06"

// ErrNoWebSocket is a provider's 426 to a WebSocket upgrade: it serves
// the call over HTTP instead.
var ErrNoWebSocket = errors.New("the provider answered the WebSocket upgrade 426 Upgrade Required")

// WebSocket reports whether p serves Responses over WebSocket
// (websocket: true in its config).
func (p *Provider) WebSocket() bool { return p.cfg.WebSocket }

// IdleTimeout is the longest silence p may keep inside a stream
// (timeouts.idle).
func (p *Provider) IdleTimeout() time.Duration { return p.cfg.Timeouts.Idle.D() }

// FirstByteTimeout bounds the wait for p's first answer (timeouts.first_byte).
func (p *Provider) FirstByteTimeout() time.Duration { return p.cfg.Timeouts.FirstByte.D() }

// DialResponses opens a WebSocket to p's Responses endpoint (base_url
// with ws:// or wss://, then /responses) with p's key and headers and the
// Responses WebSocket beta header, within the connect timeout. A 426 is
// ErrNoWebSocket; every failure is an *Error.
func (p *Provider) DialResponses() (*websocket.Conn, error) {
	u := p.urls[Responses]
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + u[len("https://"):]
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + u[len("http://"):]
	}
	h := http.Header{}
	if p.auth != nil {
		h.Set(string(p.authHeader), string(p.auth))
	}
	for _, kv := range p.headers {
		h.Set(string(kv[0]), string(kv[1]))
	}
	h.Set("OpenAI-Beta", ResponsesWebSocketBeta)
	d := websocket.Dialer{HandshakeTimeout: p.cfg.Timeouts.Connect.D() + p.cfg.Timeouts.FirstByte.D()}
	conn, resp, err := d.Dial(u, h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode == fasthttp.StatusUpgradeRequired {
			return nil, ErrNoWebSocket
		}
		if resp != nil {
			err = fmt.Errorf("WebSocket upgrade answered %d: %w", resp.StatusCode, err)
		}
		return nil, &Error{Provider: p.Name, Status: fasthttp.StatusBadGateway, Err: err}
	}
	return conn, nil
}
