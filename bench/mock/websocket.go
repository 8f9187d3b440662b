package mock

// Responses over WebSocket: GET /v1/responses with a WebSocket upgrade,
// then one {"type":"response.create", ...} text message per turn, whose
// other fields are a Responses body; each turn is answered with the
// events of the Responses stream (same timing and directives), one
// message each. The connection remembers its last response: a turn may
// continue it with previous_response_id (any other id is an error
// message, status 400, code previous_response_not_found, as OpenAI's
// store: false connections answer). Errors, refused or injected
// (status=), are {"type":"error","status":N,"error":{...}} messages;
// the connection stays open.
//
// Reference: https://platform.openai.com/docs/guides/websocket-mode

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/bytedance/sonic"
	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

var wsUpgrader = websocket.FastHTTPUpgrader{}

// serveWebSocket takes the upgrade of ctx, or answers 426 with
// Options.NoWebSocket.
func (s *Server) serveWebSocket(ctx *fasthttp.RequestCtx) {
	if s.opts.NoWebSocket {
		ctx.Response.Header.Set("Upgrade", "HTTP/1.1")
		writeError(ctx, fasthttp.StatusUpgradeRequired, "mock: WebSocket mode is off (Options.NoWebSocket)")
		return
	}
	raw := ctx.Conn()
	var hdr fasthttp.RequestHeader
	ctx.Request.Header.CopyTo(&hdr)
	_ = wsUpgrader.Upgrade(ctx, func(conn *websocket.Conn) {
		s.wsConns.Add(1)
		defer s.wsConns.Add(-1)
		var tctx fasthttp.RequestCtx
		tctx.Init2(raw, discardLogger{}, true)
		last := ""
		for {
			typ, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.TextMessage {
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseUnsupportedData, "want text"), time.Now().Add(time.Second))
				return
			}
			hdr.CopyTo(&tctx.Request.Header)
			tctx.Request.Header.SetMethod(fasthttp.MethodPost)
			tctx.Request.SetRequestURI("/v1/responses")
			tctx.Request.SetBody(msg)
			tctx.Response.Reset()
			id, ok := s.wsTurn(conn, &tctx, msg, last)
			if !ok {
				return
			}
			if id != "" {
				last = id
			}
		}
	})
}

// wsTurn answers one message of a connection whose last response is
// last. It returns the id of the response it completed, and false when
// the connection is to end.
func (s *Server) wsTurn(conn *websocket.Conn, ctx *fasthttp.RequestCtx, msg []byte, last string) (string, bool) {
	s.requests.Add(1)
	s.wsTurns.Add(1)
	s.rec.record(ctx, endpointResponses)
	// fail sends an error message; code "" is the status's own.
	fail := func(status int, code, text string) bool {
		typ, kind := errorKind(status)
		if code == "" {
			code = kind
		}
		b := acquireBuf()
		defer releaseBuf(b)
		// {"type":"error","status":N, then the OpenAI error body's
		// "error":{...}} after its opening brace.
		b.b = fmt.Appendf(b.b, `{"type":"error","status":%d,`, status)
		at := len(b.b)
		b.b = appendOpenAIError(b.b, text, typ, code)
		b.b = append(b.b[:at], b.b[at+1:]...)
		return conn.WriteMessage(websocket.TextMessage, b.b) == nil
	}
	var head struct {
		Type     string `json:"type"`
		Previous string `json:"previous_response_id"`
	}
	if err := sonic.Unmarshal(msg, &head); err != nil {
		return "", fail(fasthttp.StatusBadRequest, "", fmt.Sprintf("mock cannot parse the message as JSON: %s", err))
	}
	if head.Type != "response.create" {
		return "", fail(fasthttp.StatusBadRequest, "", fmt.Sprintf("mock: want a response.create message, got type %q", head.Type))
	}
	if head.Previous != "" && head.Previous != last {
		return "", fail(fasthttp.StatusBadRequest, "previous_response_not_found", fmt.Sprintf("Previous response with id '%s' not found.", head.Previous))
	}
	c := call{ctx: ctx, f: noFaults(), seq: s.seq.Add(1)}
	if err := c.f.parse(string(ctx.Request.Header.Peek("x-mock")), ','); err != nil {
		return "", fail(fasthttp.StatusBadRequest, "", err.Error())
	}
	if status, err := c.decode(endpointResponses, nil); err != nil {
		return "", fail(status, "", err.Error())
	}
	if err := c.f.check(); err != nil {
		return "", fail(fasthttp.StatusBadRequest, "", err.Error())
	}
	if !s.sleep(s.opts.Latency + c.f.delay) {
		return "", false
	}
	if c.f.status != 0 {
		return "", fail(c.f.status, "", fmt.Sprintf("mock: injected status %d", c.f.status))
	}
	c.req.Stream = true
	st := s.newStream(&c)
	defer func() { _ = st.Close() }()
	s.responseEvents(st, &c)
	var ev [64 << 10]byte
	buf := ev[:0]
	for {
		k, err := st.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		for {
			i := bytes.Index(buf, []byte("\n\n"))
			if i < 0 {
				break
			}
			if _, data, ok := bytes.Cut(buf[:i], []byte("data: ")); ok {
				if werr := conn.WriteMessage(websocket.TextMessage, data); werr != nil {
					return "", false
				}
			}
			buf = buf[:copy(buf, buf[i+2:])]
		}
		if err != nil {
			if err == io.EOF {
				id := appendID(nil, "resp_mock_", c.seq)
				return string(id[1 : len(id)-1]), true
			}
			return "", false // reset=, hold= closed, or the mock closing
		}
	}
}
