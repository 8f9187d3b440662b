package mock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"
)

// request holds the fields of a request body the mock looks at.
type request struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

type endpoint int

const (
	endpointNone endpoint = iota
	endpointChat
	endpointCompletions
	endpointEmbeddings
	endpointModels
)

// route maps a path, with or without the /v1 prefix, to its endpoint and
// the method it takes.
func route(path []byte) (endpoint, string) {
	path = bytes.TrimPrefix(path, []byte("/v1"))
	switch string(path) {
	case "/chat/completions":
		return endpointChat, fasthttp.MethodPost
	case "/completions":
		return endpointCompletions, fasthttp.MethodPost
	case "/embeddings":
		return endpointEmbeddings, fasthttp.MethodPost
	case "/models":
		return endpointModels, fasthttp.MethodGet
	}
	return endpointNone, ""
}

// authorized reports whether the Authorization header is `Bearer <token>`
// with a non-empty token. Any token is accepted.
func authorized(h []byte) bool {
	token, ok := bytes.CutPrefix(h, []byte("Bearer "))
	return ok && len(bytes.TrimSpace(token)) > 0
}

// call is one request being answered.
type call struct {
	ctx *fasthttp.RequestCtx
	req request
	f   faults
	seq int64 // per-server answer number, used in response ids
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	s.requests.Add(1)
	s.rec.record(ctx)

	if !authorized(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)) {
		writeError(ctx, fasthttp.StatusUnauthorized, "Incorrect API key provided: the mock wants `Authorization: Bearer <key>`.")
		return
	}
	ep, method := route(ctx.Path())
	if ep == endpointNone {
		writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", ctx.Method(), ctx.Path()))
		return
	}
	if string(ctx.Method()) != method {
		writeError(ctx, fasthttp.StatusMethodNotAllowed, fmt.Sprintf("Method %s not allowed on %s; use %s", ctx.Method(), ctx.Path(), method))
		return
	}

	c := call{ctx: ctx, f: noFaults(), seq: s.seq.Add(1)}
	if err := c.f.parse(string(ctx.Request.Header.Peek("x-mock")), ','); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if ep != endpointModels {
		if err := sonic.Unmarshal(ctx.Request.Body(), &c.req); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("mock cannot parse the request body as JSON: %s", err))
			return
		}
		name, directives := splitModel(c.req.Model)
		if name == "" {
			writeError(ctx, fasthttp.StatusBadRequest, "you must provide a model parameter")
			return
		}
		if err := c.f.parse(directives, '+'); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
	}
	if err := c.f.check(); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	stream := c.req.Stream && ep != endpointEmbeddings && ep != endpointModels

	drawn := outcomeNone
	if c.f.random() {
		drawn = s.draw(&c.f)
	}
	wait := s.opts.Latency + c.f.delay
	if !stream {
		wait += c.f.ttft
	}
	if drawn == outcomeStall {
		wait += c.f.stall
	}
	if !s.sleep(wait) {
		ctx.SetConnectionClose()
		writeError(ctx, fasthttp.StatusServiceUnavailable, "mock: server closed")
		return
	}
	if c.f.status != 0 {
		if c.f.retryAfter != "" {
			ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, c.f.retryAfter)
		}
		writeError(ctx, c.f.status, fmt.Sprintf("mock: injected status %d", c.f.status))
		return
	}
	if drawn == outcomeFail {
		writeError(ctx, fasthttp.StatusInternalServerError, "mock: injected random failure (fail=)")
		return
	}
	if c.f.reset >= 0 && !stream || drawn == outcomeReset {
		// Send nothing: fasthttp hands over the connection after the
		// handler returns, and the hijack handler resets it.
		conn := ctx.Conn()
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(net.Conn) { _ = resetConn(conn) })
		return
	}

	if stream {
		s.stream(&c, ep)
		return
	}
	buf := acquireBuf()
	defer releaseBuf(buf)
	switch ep {
	case endpointChat:
		buf.b = s.appendChat(buf.b, &c)
	case endpointCompletions:
		buf.b = s.appendCompletion(buf.b, &c)
	case endpointEmbeddings:
		var err error
		if buf.b, err = appendEmbeddings(buf.b, &c); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
	case endpointModels:
		buf.b = appendModels(buf.b)
	}
	if err := writeBody(ctx, buf, c.f.encoding); err != nil {
		writeError(ctx, fasthttp.StatusInternalServerError, err.Error())
	}
}
