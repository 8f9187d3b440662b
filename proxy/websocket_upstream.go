package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"
	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"switchboard/upstream"
)

// Passthrough of Responses over WebSocket to a provider that serves it
// (websocket: true, format responses): the turn's attempt at such a
// target sends the turn as a response.create message on the session's
// own WebSocket to the provider, and the provider's messages become the
// attempt's response, an SSE stream of one event per message, so that
// the rest of the path (failover before the first byte, the relay, the
// usage on response.completed, billing) is the HTTP path's. Each
// message's bytes reach the client unchanged.
//
// The provider keeps its conversation per connection, like the gateway
// does for its client: while the session's WebSocket to the provider is
// the one that completed the last response, a turn that continues it is
// sent as the client sent it (its new input and previous_response_id);
// after a failover, a reconnect or a turn served elsewhere, it is sent
// whole, without previous_response_id.
//
// The attempt ends at response.completed, response.failed,
// response.incomplete or an error message; the connection is then kept
// for the session's next turn. A turn left unfinished (the client
// went, the provider went silent past timeouts.idle) closes it, which
// stops the provider generating. A provider that answers the upgrade 426
// gets the turn over HTTP.
//
// A client that leaves is seen before each read of the provider's next
// message (a MSG_PEEK of its socket) and by the next send to it: the
// client watch of HTTP calls (upstream.Watch) wakes reads of upstream
// connections of its own, which this one is not, so a provider silent
// after the client left is stopped at its next message.

// wsUpstream is a session's WebSocket to a passthrough provider and the
// reader that presents one attempt's messages as an SSE body.
type wsUpstream struct {
	ws       *wsSession
	provider *upstream.Provider
	conn     *websocket.Conn
	lastID   string // the response the provider completed last on conn
	served   bool   // the current turn went over conn

	first   []byte // a message read before the body was handed over
	pending []byte // the SSE event being read out
	off     int
	done    bool // a terminal message was read
	id      []byte
}

// wsSessionKey is the user value of a turn's request that names its
// session, for the attempt loop (try).
const wsSessionKey = "switchboard.wsSession"

// websocketTurn returns the WebSocket session of c when c is one of its
// turns and p a passthrough provider, or nil.
func websocketTurn(c *call, p *upstream.Provider) *wsSession {
	if !p.WebSocket() {
		return nil
	}
	ws, _ := c.ctx.UserValue(wsSessionKey).(*wsSession)
	return ws
}

// close closes the connection to the provider, if any.
func (u *wsUpstream) close() {
	if u.conn != nil {
		_ = u.conn.Close()
		u.conn, u.provider, u.lastID = nil, nil, ""
	}
}

// do is an attempt of call c at target provider p over its WebSocket,
// with out, the turn's body for p: like DoUntil, c.resp holds the
// provider's answer (an error status and body, or a 200 SSE stream)
// unless the error says why there is none. A 426 makes the attempt an
// HTTP one.
func (u *wsUpstream) do(c *call, p *upstream.Provider, out []byte) error {
	if u.conn != nil && u.provider != p {
		u.close()
	}
	fresh := u.conn == nil
	if fresh {
		conn, err := p.DialResponses()
		if errors.Is(err, upstream.ErrNoWebSocket) {
			return p.DoUntil(&c.req, &c.resp, &c.watch)
		}
		if err != nil {
			return err
		}
		u.conn, u.provider = conn, p
	}
	msg, err := u.message(out)
	if err != nil {
		return &upstream.Error{Provider: p.Name, Status: fasthttp.StatusBadRequest, Err: err}
	}
	u.done, u.first, u.pending, u.off, u.id = false, nil, nil, 0, u.id[:0]
	if err := u.send(msg); err != nil {
		if fresh {
			u.close()
			return &upstream.Error{Provider: p.Name, Status: fasthttp.StatusBadGateway, Err: err}
		}
		u.close() // a stale connection: the provider closed it while idle
		return u.do(c, p, out)
	}
	first, err := u.read(p.FirstByteTimeout())
	var te *upstream.TimeoutError
	if err != nil {
		u.close()
		if !fresh && !errors.Is(err, upstream.ErrCanceled) && !errors.As(err, &te) {
			return u.do(c, p, out) // a stale connection
		}
		return err
	}
	resp := &c.resp
	if status, body, ok := wsErrorAnswer(first); ok {
		// Whether the provider still holds its last response after an
		// error is its own business: the next turn goes whole.
		u.done, u.lastID = true, ""
		resp.SetStatusCode(status)
		resp.Header.SetContentTypeBytes(contentTypeJSON)
		resp.SetBody(body)
		return nil
	}
	u.first = first
	resp.SetStatusCode(fasthttp.StatusOK)
	resp.Header.SetContentTypeBytes(contentTypeSSE)
	resp.SetBodyStream(u, -1)
	u.served = true
	return nil
}

// message builds the response.create message of body for the
// connection: the client's short turn when the connection holds the
// response it continues, else body whole.
func (u *wsUpstream) message(body []byte) ([]byte, error) {
	root, err := sonic.Get(body)
	if err != nil {
		return nil, err
	}
	ws := u.ws
	if ws.prevID != "" && ws.prevID == u.lastID {
		if _, err := root.Set("input", ast.NewRaw(string(ws.newInput))); err != nil {
			return nil, err
		}
		if _, err := root.Set("previous_response_id", ast.NewString(ws.prevID)); err != nil {
			return nil, err
		}
	}
	if _, err := root.Set("type", ast.NewString(typeResponseCreate)); err != nil {
		return nil, err
	}
	return root.MarshalJSON()
}

// send writes msg to the provider within its first-byte timeout.
func (u *wsUpstream) send(msg []byte) error {
	if d := u.provider.FirstByteTimeout(); d > 0 {
		_ = u.conn.SetWriteDeadline(time.Now().Add(d))
	}
	return u.conn.WriteMessage(websocket.TextMessage, msg)
}

// read reads the provider's next message within limit (0: none). It
// first asks whether the client is still there (upstream.ErrCanceled
// when not); a deadline cannot wake the read to ask again, since a
// WebSocket read that timed out leaves the connection unusable.
func (u *wsUpstream) read(limit time.Duration) ([]byte, error) {
	if upstream.PeerClosed(u.ws.raw) {
		return nil, &upstream.Error{Provider: u.provider.Name, Status: 499, Err: upstream.ErrCanceled}
	}
	var deadline time.Time
	if limit > 0 {
		deadline = time.Now().Add(limit)
	}
	_ = u.conn.SetReadDeadline(deadline)
	typ, msg, err := u.conn.ReadMessage()
	switch {
	case isTimeout(err):
		return nil, &upstream.Error{Provider: u.provider.Name, Status: fasthttp.StatusGatewayTimeout, Err: &upstream.TimeoutError{Phase: upstream.PhaseIdle}}
	case err != nil:
		return nil, &upstream.Error{Provider: u.provider.Name, Status: fasthttp.StatusBadGateway, Err: err}
	case typ != websocket.TextMessage:
		return nil, &upstream.Error{Provider: u.provider.Name, Status: fasthttp.StatusBadGateway, Err: errors.New("the provider sent a binary WebSocket message")}
	}
	return msg, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Read hands the relay the provider's messages as SSE events, up to the
// terminal one.
func (u *wsUpstream) Read(p []byte) (int, error) {
	for u.off == len(u.pending) {
		if u.done {
			return 0, io.EOF
		}
		msg := u.first
		u.first = nil
		if msg == nil {
			var err error
			if msg, err = u.read(u.provider.IdleTimeout()); err != nil {
				return 0, err
			}
		}
		u.pending = appendEvent(u.pending[:0], msg)
		u.off = 0
		u.done = u.terminal(msg)
	}
	n := copy(p, u.pending[u.off:])
	u.off += n
	return n, nil
}

// Close ends the attempt: a finished one keeps the connection for the
// next turn, an unfinished one closes it, which stops the provider.
func (u *wsUpstream) Close() error {
	if !u.done || u.off < len(u.pending) {
		u.close()
	}
	return nil
}

// terminal reports whether msg ends a response, and keeps the id of a
// completed one.
func (u *wsUpstream) terminal(msg []byte) bool {
	src := unsafe.String(unsafe.SliceData(msg), len(msg))
	n, _ := sonic.GetFromString(src, "type")
	typ, _ := n.String()
	switch typ {
	case "response.completed":
		if n, err := sonic.GetFromString(src, "response", "id"); err == nil {
			id, _ := n.String()
			u.lastID = id
		}
		return true
	case "response.failed", "response.incomplete", "error":
		u.lastID = ""
		return true
	}
	return false
}

// appendEvent appends msg as one SSE data event. A JSON message has no
// raw newline but between tokens, where a space does as well.
func appendEvent(dst, msg []byte) []byte {
	dst = append(dst, "data: "...)
	start := len(dst)
	dst = append(dst, msg...)
	if bytes.IndexByte(msg, '\n') >= 0 {
		for i := start; i < len(dst); i++ {
			if dst[i] == '\n' || dst[i] == '\r' {
				dst[i] = ' '
			}
		}
	}
	return append(dst, "\n\n"...)
}

// wsErrorAnswer reads a provider's error message
// ({"type":"error","status":429,"error":{...}}) as the HTTP answer it
// stands for: its status and an OpenAI-shaped body.
func wsErrorAnswer(msg []byte) (status int, body []byte, ok bool) {
	src := unsafe.String(unsafe.SliceData(msg), len(msg))
	n, _ := sonic.GetFromString(src, "type")
	if typ, _ := n.String(); typ != "error" {
		return 0, nil, false
	}
	status = fasthttp.StatusBadGateway
	if n, err := sonic.GetFromString(src, "status"); err == nil {
		if v, err := n.Int64(); err == nil && v >= 400 && v < 600 {
			status = int(v)
		}
	}
	body = append(body, `{"error":`...)
	if n, err := sonic.GetFromString(src, "error"); err == nil && n.TypeSafe() == ast.V_OBJECT {
		r, _ := n.Raw()
		body = append(body, r...)
	} else {
		body = append(body, `{"type":"upstream_error","message":"the provider sent an error message"}`...)
	}
	return status, append(body, '}'), true
}
