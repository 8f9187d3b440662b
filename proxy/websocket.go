package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"
	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"switchboard/upstream"
	"switchboard/upstream/canon"
)

// Responses over WebSocket (what Codex CLI calls responses_websockets): a
// client upgrades GET /v1/responses and then sends each turn as a
// {"type":"response.create", ...} text message whose other fields are a
// Responses request body; the answer is the typed events of the HTTP
// stream (response.created ... response.completed), one JSON text message
// each, and the connection stays open for the next turn.
//
// Each turn is one call of the ordinary request path: the turn's body and
// the upgrade request's headers (the key, attribution, traceparent) make
// a request that serve runs as if it came over HTTP — auth, limits,
// reservation, routing, failover, billing and the access log, one ledger
// entry per response — and whose SSE relay the session reads event by
// event, sending each event's data as one message. Calls are watched on
// the client's socket like an HTTP stream's, so a client that leaves
// mid-turn cancels the upstream call at once and is billed for what was
// produced. A provider of format responses with websocket: true is
// reached over a WebSocket of the session's own (websocket_upstream.go);
// every other gets the turn over HTTP, translated when it speaks another
// format.
//
// Continuity: a turn may send only its new input items with
// previous_response_id naming the connection's last response (Codex
// does, with store: false). The session remembers that response's
// input and output, and expands such a turn into the whole conversation,
// which is what a stateless provider needs; the upstream WebSocket of a
// passthrough provider that served the last response is sent the short
// turn instead. A previous_response_id the connection does not know is
// passed on as it is (a provider with store: true may know it).
//
// A turn with "generate": false (Codex's warm-up) is answered by the
// gateway itself: a response with no output, which the next turn may
// continue, no provider call and nothing billed.
//
// 426 Upgrade Required, which makes Codex fall back to HTTP for the rest
// of its session, answers an upgrade when server.websocket.disabled is
// set or the config has no provider at all. A bad key is answered 401 at
// the upgrade, as over HTTP.
//
// One goroutine per connection: fasthttp's, which runs the hijacked
// connection. A turn's relay runs on it like an HTTP stream's on its
// handler; between turns the goroutine waits in a read of the next
// message, bounded by server.websocket.idle_timeout.
//
// Rejected alternatives: a second code path that calls the providers
// itself (auth, billing and failover twice); permessage-deflate, which
// Codex offers: without context takeover (all the library supports) a
// delta of a few dozen bytes does not compress, and every message would
// pay the deflate CPU.

var (
	wsConnections = metrics.NewGauge(`switchboard_responses_websocket_connections`, nil)
	wsTurnsBridge = metrics.NewCounter(`switchboard_responses_websocket_turns_total{mode="http"}`)
	wsTurnsPass   = metrics.NewCounter(`switchboard_responses_websocket_turns_total{mode="websocket"}`)
	wsTurnsWarmup = metrics.NewCounter(`switchboard_responses_websocket_turns_total{mode="warmup"}`)
	wsTurnsError  = metrics.NewCounter(`switchboard_responses_websocket_turns_total{mode="error"}`)
	wsRefused     = metrics.NewCounter(`switchboard_responses_websocket_refused_total`)
)

// WebSocketTurns returns how many Responses turns the gateway served over
// WebSocket since it started, by how they reached the provider: over
// HTTP, over the provider's own WebSocket, or answered locally (warm-up).
func WebSocketTurns() (http, websocket, warmup uint64) {
	return wsTurnsBridge.Get(), wsTurnsPass.Get(), wsTurnsWarmup.Get()
}

// wsUpgrader takes the upgrade. Its buffers are the connection's
// fasthttp ones (sizes 0); a message is read whole into the session's
// buffer either way.
var wsUpgrader = websocket.FastHTTPUpgrader{
	HandshakeTimeout: 10 * time.Second,
	Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
		writeErrorIn(ctx, formatOf(upstream.FormatResponses), fmt.Errorf("%w: %v", errBadRequest, reason))
		ctx.SetStatusCode(status)
		ctx.Response.Header.Set("Sec-WebSocket-Version", "13")
	},
}

// isWebSocketUpgrade reports whether ctx asks to upgrade to a WebSocket.
func isWebSocketUpgrade(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsGet() && len(ctx.Request.Header.Peek("Upgrade")) > 0 && websocket.FastHTTPIsWebSocketUpgrade(ctx)
}

var (
	errWebSocketDisabled = errors.New("responses over WebSocket are turned off on this gateway (server.websocket.disabled); use POST /v1/responses")
	errNoProviders       = errors.New("the gateway has no provider to serve Responses over WebSocket; use POST /v1/responses")
)

// upgradeResponses takes a WebSocket upgrade of /v1/responses on runtime
// rt, or refuses it: 426 when WebSockets are off, 401 for a bad key.
func (s *Server) upgradeResponses(ctx *fasthttp.RequestCtx, rt *runtimeState) {
	f := formatOf(upstream.FormatResponses)
	refuse := func(err error) {
		wsRefused.Inc()
		writeErrorIn(ctx, f, err)
		ctx.SetStatusCode(fasthttp.StatusUpgradeRequired)
		ctx.Response.Header.Set("Upgrade", "HTTP/1.1")
		ctx.Response.Header.Set("Connection", "Upgrade")
	}
	switch {
	case rt.cfg.Server.WebSocket.Disabled:
		refuse(errWebSocketDisabled)
		return
	case len(rt.cfg.Providers) == 0:
		refuse(errNoProviders)
		return
	}
	if _, err := rt.keys.authenticate(&ctx.Request.Header, time.Now()); err != nil {
		writeErrorIn(ctx, f, err)
		return
	}
	if !s.ws.accepting() { // shutting down: a 503, not a 426 that sends the client to HTTP here
		writeErrorIn(ctx, f, errServerBusy)
		ctx.SetConnectionClose()
		return
	}
	ws := &wsSession{s: s, raw: ctx.Conn(), maxBody: int(rt.cfg.Server.MaxBodyBytes)}
	ws.up.ws = ws
	ctx.Request.Header.CopyTo(&ws.hdr)
	_ = wsUpgrader.Upgrade(ctx, func(conn *websocket.Conn) {
		ws.conn = conn
		ws.run()
	}) // a refused handshake is answered by wsUpgrader.Error
}

// wsSessions are the open WebSocket sessions, so that Shutdown can end
// them: an idle one at once, one in a turn when the turn ends.
type wsSessions struct {
	mu      sync.Mutex
	open    map[*wsSession]struct{}
	closing bool
	count   int
	done    chan struct{} // closed when count drops to 0 while closing
}

// accepting reports whether new sessions are taken: false once Shutdown
// began.
func (w *wsSessions) accepting() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.closing
}

// add registers a running session; false once Shutdown began, and the
// session is then to end.
func (w *wsSessions) add(ws *wsSession) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open == nil {
		w.open = map[*wsSession]struct{}{}
	}
	w.open[ws] = struct{}{}
	w.count++
	return !w.closing
}

// leave unregisters ws.
func (w *wsSessions) leave(ws *wsSession) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.open, ws)
	w.count--
	if w.closing && w.count == 0 && w.done != nil {
		close(w.done)
		w.done = nil
	}
}

// isClosing reports whether Shutdown began.
func (w *wsSessions) isClosing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closing
}

// close makes every session end after its turn, wakes the idle ones,
// and returns a channel closed once none is left.
func (w *wsSessions) close() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closing = true
	done := make(chan struct{})
	if w.count == 0 {
		close(done)
		return done
	}
	w.done = done
	for ws := range w.open {
		_ = ws.conn.NetConn().SetReadDeadline(aLongTimeAgo)
	}
	return done
}

// aLongTimeAgo is a deadline that ends a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// wsSession is one client WebSocket connection to /v1/responses, owned
// by the goroutine fasthttp runs it on.
type wsSession struct {
	s       *Server
	conn    *websocket.Conn
	raw     net.Conn               // the client's socket, which each turn's call watches
	hdr     fasthttp.RequestHeader // the upgrade request's
	tctx    fasthttp.RequestCtx    // each turn's request and response
	maxBody int

	msg  []byte // the message being handled
	body []byte // the turn's request body, held by its call until it finishes
	in   []byte // relay bytes not yet sent

	last     lastResponse
	prevID   string // the turn continues this response of the connection's, or ""
	newInput []byte // the turn's own input items, a JSON array
	items    []byte // the output items of the turn being relayed, comma-separated
	resp     []byte // the turn's response.completed response object, or nil
	id       []byte // the turn's response id

	up wsUpstream // websocket_upstream.go
}

// lastResponse is the last response the connection completed: the
// whole input of its request and its output items (JSON arrays), for a
// turn that continues it with previous_response_id.
type lastResponse struct {
	id     string
	input  []byte
	output []byte
}

// wsCloseWait bounds the wait for a client's close frame.
const wsCloseWait = time.Second

// run serves the connection's turns until the client closes it, it has
// been idle too long, or the gateway shuts down.
func (ws *wsSession) run() {
	s := ws.s
	wsConnections.Inc()
	defer func() {
		ws.up.close()
		wsConnections.Dec()
		s.ws.leave(ws)
	}()
	defer func() {
		if v := recover(); v != nil {
			s.logPanic(v)
			ws.close(websocket.CloseInternalServerErr, "internal gateway error")
		}
	}()
	ws.tctx.Init2(ws.raw, s.errLog, true)
	ws.conn.SetReadLimit(int64(ws.maxBody))
	if !s.ws.add(ws) {
		ws.close(websocket.CloseGoingAway, "the gateway is shutting down")
		return
	}
	for {
		rt := s.rt.Load()
		if d := rt.cfg.Server.WebSocket.IdleTimeout.D(); d > 0 {
			_ = ws.conn.SetReadDeadline(time.Now().Add(d))
		}
		// After the deadline is set: Shutdown's past deadline lands
		// after it, or closing is seen here.
		if s.ws.isClosing() {
			ws.close(websocket.CloseGoingAway, "the gateway is shutting down")
			return
		}
		typ, r, err := ws.conn.NextReader()
		if err == nil {
			ws.msg, err = appendMessage(ws.msg[:0], r)
		}
		var ne net.Error
		switch {
		case err == nil:
		case errors.Is(err, websocket.ErrReadLimit):
			ws.close(websocket.CloseMessageTooBig, "a message is larger than the gateway's limit (server.max_body_bytes)")
			return
		case errors.As(err, &ne) && ne.Timeout():
			if s.ws.isClosing() {
				ws.close(websocket.CloseGoingAway, "the gateway is shutting down")
			} else {
				ws.close(websocket.CloseGoingAway, "idle timeout (server.websocket.idle_timeout)")
			}
			return
		default:
			return // closed by the client, or broken
		}
		if typ != websocket.TextMessage {
			ws.close(websocket.CloseUnsupportedData, "want JSON text messages")
			return
		}
		if !ws.turn(rt) {
			return
		}
		ws.msg = reuse(ws.msg)
	}
}

// appendMessage appends the message r reads to dst.
func appendMessage(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// close sends a close frame with code and reason and waits briefly for
// the client's.
func (ws *wsSession) close(code int, reason string) {
	deadline := time.Now().Add(wsCloseWait)
	msg := websocket.FormatCloseMessage(code, reason)
	if err := ws.conn.WriteControl(websocket.CloseMessage, msg, deadline); err != nil {
		return
	}
	_ = ws.conn.SetReadDeadline(deadline)
	for {
		if _, _, err := ws.conn.NextReader(); err != nil {
			return
		}
	}
}

var (
	typeResponseCreate = "response.create"
	errNotCreate       = fmt.Errorf("%w: want a message of type response.create", errBadRequest)
)

// turn handles one message. It returns false when the connection is to
// end: the client left or the message could not be answered.
func (ws *wsSession) turn(rt *runtimeState) bool {
	msg := unsafe.String(unsafe.SliceData(ws.msg), len(ws.msg))
	root, err := sonic.GetFromString(msg)
	if err == nil && root.TypeSafe() != ast.V_OBJECT {
		err = errors.New("not an object")
	}
	if err != nil {
		return ws.fail(fmt.Errorf("%w: a message must be a JSON object: %v", errBadRequest, err))
	}
	if typ, _ := root.Get("type").String(); typ != typeResponseCreate {
		return ws.fail(fmt.Errorf("%w, got %q", errNotCreate, typ))
	}
	warmup := false
	if g := root.Get("generate"); g.Exists() {
		on, err := g.Bool()
		if err != nil {
			return ws.fail(fmt.Errorf("%w: generate must be true or false", errBadRequest))
		}
		warmup = !on
	}
	input, err := ws.expand(&root)
	if err != nil {
		return ws.fail(err)
	}
	// The turn's body: the message's members but the WebSocket's own,
	// the input (whole when expanded) and stream: true. One copy.
	skip := [...]string{"type", "generate", "stream", "input", ""}
	if ws.prevID != "" {
		skip[len(skip)-1] = "previous_response_id"
	}
	body, err := appendMembers(reuse(ws.body), &root, skip[:]...) // the last turn's call is done with it
	if err != nil {
		return ws.fail(err)
	}
	body = appendMember(body, "input", input)
	body = append(appendMember(body, "stream", []byte("true")), '}')
	if len(body) > ws.maxBody {
		return ws.fail(fasthttp.ErrBodyTooLarge)
	}
	ws.body = body
	ws.items, ws.resp, ws.id = ws.items[:0], nil, ws.id[:0]
	if warmup {
		return ws.warmup(rt, &root, input)
	}
	ok := ws.relay(rt)
	if len(ws.resp) > 0 || len(ws.id) > 0 {
		ws.remember(input)
	}
	return ok
}

// expand returns the whole input of root's turn as a JSON array: for a
// turn that continues the connection's last response (ws.prevID is then
// set), the last request's input, then the last output, then its own.
func (ws *wsSession) expand(root *ast.Node) ([]byte, error) {
	in := root.Get("input")
	raw := []byte("[]")
	if in.Exists() {
		r, err := in.Raw()
		if err != nil {
			return nil, fmt.Errorf("%w: input: %v", errBadRequest, err)
		}
		switch in.TypeSafe() {
		case ast.V_ARRAY, ast.V_STRING:
		default:
			return nil, fmt.Errorf("%w: input: want a string or an array of input items", errBadRequest)
		}
		raw = []byte(r)
		if in.TypeSafe() == ast.V_STRING { // a plain string is one user message
			raw = append(append([]byte(`[{"type":"message","role":"user","content":`), r...), "}]"...)
		}
	}
	prev := root.Get("previous_response_id")
	id, _ := prev.String()
	ws.prevID, ws.newInput = "", raw
	if id == "" || id != ws.last.id {
		return raw, nil
	}
	ws.prevID = id
	whole := append([]byte(nil), '[')
	for _, part := range [...][]byte{ws.last.input, ws.last.output, raw} {
		items := bytes.TrimSpace(part)
		items = bytes.TrimSpace(items[1 : len(items)-1])
		if len(items) == 0 {
			continue
		}
		if len(whole) > 1 {
			whole = append(whole, ',')
		}
		whole = append(whole, items...)
	}
	return append(whole, ']'), nil
}

// appendMembers appends "{" and the members of the object root but those
// named in skip, their values as they are, to dst; appendMember adds
// more, and the caller the closing "}".
func appendMembers(dst []byte, root *ast.Node, skip ...string) ([]byte, error) {
	dst = append(dst, '{')
	var err error
	root.ForEach(func(p ast.Sequence, n *ast.Node) bool {
		for _, k := range skip {
			if *p.Key == k {
				return true
			}
		}
		var raw string
		if raw, err = n.Raw(); err != nil {
			err = fmt.Errorf("%w: %s: %v", errBadRequest, *p.Key, err)
			return false
		}
		dst = appendMember(dst, *p.Key, unsafe.Slice(unsafe.StringData(raw), len(raw)))
		return true
	})
	return dst, err
}

// appendMember appends the member key: raw (a JSON value) to an object
// being written.
func appendMember(dst []byte, key string, raw []byte) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = canon.AppendString(dst, key)
	dst = append(dst, ':')
	return append(dst, raw...)
}

// remember keeps the turn just relayed as the connection's last
// response, whose whole input was input.
func (ws *wsSession) remember(input []byte) {
	id := string(ws.id)
	output := []byte(nil)
	if len(ws.resp) > 0 {
		src := unsafe.String(unsafe.SliceData(ws.resp), len(ws.resp))
		if n, err := sonic.GetFromString(src, "output"); err == nil && n.TypeSafe() == ast.V_ARRAY {
			if r, err := n.Raw(); err == nil && len(bytes.TrimSpace([]byte(r))) > 2 {
				output = []byte(r)
			}
		}
		if n, err := sonic.GetFromString(src, "id"); err == nil {
			if s, err := n.String(); err == nil && s != "" {
				id = s
			}
		}
	}
	if output == nil {
		output = append(append([]byte{'['}, ws.items...), ']')
	}
	if id == "" {
		return
	}
	ws.last = lastResponse{id: id, input: input, output: output}
}

// relay runs the turn in ws.body through the request path and sends the
// client its events.
func (ws *wsSession) relay(rt *runtimeState) bool {
	tctx := &ws.tctx
	tctx.Request.Reset()
	tctx.Response.Reset()
	ws.hdr.CopyTo(&tctx.Request.Header)
	tctx.Request.Header.Del("Upgrade")
	tctx.Request.Header.Del("Connection")
	tctx.Request.Header.SetMethod(fasthttp.MethodPost)
	tctx.Request.SetRequestURI("/v1/responses")
	tctx.Request.Header.SetContentType("application/json")
	tctx.Request.SetBodyRaw(ws.body)
	tctx.SetUserValue(wsSessionKey, ws) // for the attempt loop: websocketTurn
	ws.up.served = false
	ws.s.serve(tctx, rt, surfaceResponses)
	resp := &tctx.Response
	stream := resp.BodyStream()
	if stream == nil {
		if resp.StatusCode() != fasthttp.StatusOK || !bytes.HasPrefix(resp.Header.ContentType(), contentTypeSSE) {
			return ws.sendErrorAnswer(resp.StatusCode(), resp.Body(), resp.Header.PeekBytes(headerRetryAfter))
		}
		wsTurnsBridge.Inc()
		_ = ws.conn.SetWriteDeadline(time.Now().Add(ws.writeTimeout()))
		_, err := ws.sendEvents(resp.Body(), true)
		return err == nil
	}
	if ws.up.served {
		wsTurnsPass.Inc()
	} else {
		wsTurnsBridge.Inc()
	}
	err := ws.pump(stream)
	if r, ok := stream.(*relay); ok && err != nil && r.c.errMsg == "" {
		r.c.errMsg = "client went away: " + err.Error() // as fasthttp's CloseWithError(err) says it
	}
	_ = resp.CloseBodyStream() // the relay finishes the call: billed for what was produced
	ws.in = reuse(ws.in)
	return err == nil
}

// pump reads the relay until it ends and sends each event. The error is
// the client's: a send that failed.
func (ws *wsSession) pump(stream io.Reader) error {
	ws.in = ws.in[:0]
	for {
		if len(ws.in) == cap(ws.in) {
			ws.in = append(ws.in, make([]byte, max(relayBuffer, cap(ws.in)))...)[:len(ws.in)]
		}
		n, rerr := stream.Read(ws.in[len(ws.in):cap(ws.in)])
		ws.in = ws.in[:len(ws.in)+n]
		sent, err := ws.sendEvents(ws.in, rerr != nil)
		if err != nil {
			return err
		}
		ws.in = ws.in[:copy(ws.in, ws.in[sent:])]
		if rerr != nil {
			return nil // the relay's end: io.EOF, or its error event was sent
		}
	}
}

// sendEvents sends the data of each complete SSE event in b as a
// message, and a ping for each comment (the relay's keep-alive), and
// returns how many bytes of b it handled. With last, an unterminated
// event at the end is sent too.
func (ws *wsSession) sendEvents(b []byte, last bool) (int, error) {
	off := 0
	for off < len(b) {
		k := nextEvent(b[off:])
		if k == 0 {
			if !last {
				break
			}
			k = len(b) - off
		}
		ev := b[off : off+k]
		off += k
		data := eventData(ev)
		if data == nil {
			if ev[0] == ':' {
				if err := ws.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(ws.writeTimeout())); err != nil {
					return off, err
				}
			}
			continue
		}
		if bytes.Equal(data, doneData) {
			continue
		}
		ws.note(data)
		if err := ws.conn.WriteMessage(websocket.TextMessage, data); err != nil {
			return off, err
		}
	}
	return off, nil
}

// writeTimeout is server.write_timeout, or a minute when it is off.
func (ws *wsSession) writeTimeout() time.Duration {
	if d := ws.s.rt.Load().writeTimeout; d > 0 {
		return d
	}
	return time.Minute
}

var (
	evOutputItemDone = []byte(`"response.output_item.done"`)
	evCompleted      = []byte(`"response.completed"`)
	evCreated        = []byte(`"response.created"`)
)

// note keeps what continuity needs from an event: the response id, the
// done output items and the completed response.
func (ws *wsSession) note(data []byte) {
	var kind int
	switch {
	case bytes.Contains(data, evOutputItemDone):
		kind = 1
	case bytes.Contains(data, evCompleted):
		kind = 2
	case bytes.Contains(data, evCreated):
		kind = 3
	default:
		return
	}
	src := unsafe.String(unsafe.SliceData(data), len(data))
	typ, _ := sonic.GetFromString(src, "type")
	t, _ := typ.String()
	switch {
	case kind == 1 && t == "response.output_item.done":
		if n, err := sonic.GetFromString(src, "item"); err == nil {
			if r, err := n.Raw(); err == nil {
				if len(ws.items) > 0 {
					ws.items = append(ws.items, ',')
				}
				ws.items = append(ws.items, r...)
			}
		}
	case kind == 2 && t == "response.completed":
		if n, err := sonic.GetFromString(src, "response"); err == nil {
			if r, err := n.Raw(); err == nil {
				ws.resp = append(ws.resp[:0], r...)
			}
		}
	case kind == 3 && t == "response.created":
		if n, err := sonic.GetFromString(src, "response", "id"); err == nil {
			if id, err := n.String(); err == nil {
				ws.id = append(ws.id[:0], id...)
			}
		}
	}
}

// warmup answers a turn with "generate": false: a completed response
// with no output, that the next turn may continue. Nothing reaches a
// provider and nothing is billed, but the key must be good.
func (ws *wsSession) warmup(rt *runtimeState, root *ast.Node, input []byte) bool {
	if _, err := rt.keys.authenticate(&ws.hdr, time.Now()); err != nil {
		return ws.fail(err)
	}
	wsTurnsWarmup.Inc()
	model, _ := root.Get("model").String()
	id := ws.s.appendRequestID(append([]byte(nil), "resp_"...))
	now := strconv.FormatInt(time.Now().Unix(), 10)
	for i, status := range [...]string{"in_progress", "completed"} {
		ev := []byte(`{"type":"response.created","sequence_number":0,"response":{"id":`)
		if i == 1 {
			ev = []byte(`{"type":"response.completed","sequence_number":1,"response":{"id":`)
		}
		ev = canon.AppendString(ev, string(id))
		ev = append(ev, `,"object":"response","created_at":`+now+`,"status":"`+status+`","model":`...)
		ev = canon.AppendString(ev, model)
		ev = append(ev, `,"output":[],"usage":`...)
		if i == 1 {
			ev = append(ev, `{"input_tokens":0,"output_tokens":0,"total_tokens":0}}}`...)
		} else {
			ev = append(ev, `null}}`...)
		}
		if err := ws.write(ev); err != nil {
			return false
		}
	}
	ws.last = lastResponse{id: string(id), input: input, output: []byte("[]")}
	return true
}

// write sends one message within the write timeout.
func (ws *wsSession) write(msg []byte) error {
	_ = ws.conn.SetWriteDeadline(time.Now().Add(ws.writeTimeout()))
	return ws.conn.WriteMessage(websocket.TextMessage, msg)
}

// fail answers a turn the gateway refused before any call with an error
// event. The connection stays open.
func (ws *wsSession) fail(err error) bool {
	e := toAPIError(err)
	return ws.sendErrorAnswer(e.status, appendOpenAIError(nil, e), nil)
}

// sendErrorAnswer sends an error answer (status, and an OpenAI-shaped
// body) as the error event a Responses WebSocket sends:
// {"type":"error","status":429,"error":{...},"headers":{"retry-after":"1"}},
// which Codex reads as that HTTP status.
func (ws *wsSession) sendErrorAnswer(status int, body, retryAfter []byte) bool {
	wsTurnsError.Inc()
	ev := append([]byte(nil), `{"type":"error","status":`...)
	ev = strconv.AppendInt(ev, int64(status), 10)
	ev = append(ev, `,"error":`...)
	src := unsafe.String(unsafe.SliceData(body), len(body))
	if n, err := sonic.GetFromString(src, "error"); err == nil && n.TypeSafe() == ast.V_OBJECT {
		r, _ := n.Raw()
		ev = append(ev, r...)
	} else {
		ev = append(ev, `{"type":"upstream_error","code":null,"message":`...)
		ev = canon.AppendString(ev, string(body))
		ev = append(ev, '}')
	}
	if len(retryAfter) > 0 {
		ev = append(ev, `,"headers":{"retry-after":`...)
		ev = canon.AppendString(ev, string(retryAfter))
		ev = append(ev, '}')
	}
	ev = append(ev, '}')
	return ws.write(ev) == nil
}
