package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/bytedance/sonic"
	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// request holds the fields of an OpenAI chat, completions or embeddings
// body the mock looks at; the other surfaces fill Model and Stream from
// their own bodies.
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

// messagesRequest holds the fields of an Anthropic Messages body the mock
// looks at. Each surface decodes its own struct, so that a field of one
// API cannot make a valid body of another fail to decode.
type messagesRequest struct {
	Model     string `json:"model"`
	Stream    bool   `json:"stream"`
	MaxTokens int    `json:"max_tokens"` // -1 before decoding: absent
}

// responsesRequest holds the fields of an OpenAI Responses body the mock
// looks at.
type responsesRequest struct {
	Model     string   `json:"model"`
	Stream    bool     `json:"stream"`
	Include   []string `json:"include"`
	Reasoning struct {
		Summary string `json:"summary"`
	} `json:"reasoning"`
}

// geminiRequest holds the fields of a Gemini body the mock looks at; the
// model is in the path.
type geminiRequest struct {
	GenerationConfig struct {
		ThinkingConfig struct {
			IncludeThoughts bool `json:"includeThoughts"`
		} `json:"thinkingConfig"`
	} `json:"generationConfig"`
}

type endpoint int

const (
	endpointNone endpoint = iota
	endpointChat
	endpointCompletions
	endpointEmbeddings
	endpointModels
	endpointMessages
	endpointCountTokens
	endpointResponses
	endpointGenerate
	endpointStreamGenerate
	endpointGeminiCountTokens
	numEndpoints
)

// surfaces names the endpoints, by endpoint.
var surfaces = [numEndpoints]Surface{
	endpointNone:              SurfaceNone,
	endpointChat:              SurfaceChat,
	endpointCompletions:       SurfaceCompletions,
	endpointEmbeddings:        SurfaceEmbeddings,
	endpointModels:            SurfaceModels,
	endpointMessages:          SurfaceMessages,
	endpointCountTokens:       SurfaceCountTokens,
	endpointResponses:         SurfaceResponses,
	endpointGenerate:          SurfaceGenerateContent,
	endpointStreamGenerate:    SurfaceStreamGenerateContent,
	endpointGeminiCountTokens: SurfaceGeminiCountTokens,
}

func (ep endpoint) surface() Surface { return surfaces[ep] }

// format is the API family of an endpoint: its credentials and error
// shape.
type format int

const (
	formatOpenAI format = iota
	formatAnthropic
	formatGemini
)

func (ep endpoint) format() format {
	switch ep {
	case endpointMessages, endpointCountTokens:
		return formatAnthropic
	case endpointGenerate, endpointStreamGenerate, endpointGeminiCountTokens:
		return formatGemini
	}
	return formatOpenAI
}

// geminiPrefixes are the paths under which Gemini serves
// models/{model}:{method}.
var geminiPrefixes = [...][]byte{[]byte("/v1beta/models/"), []byte("/v1/models/")}

// route maps a path to its endpoint and the method it takes. OpenAI and
// Anthropic paths are served with and without the /v1 prefix; for Gemini
// paths it also returns the model segment, which fasthttp has already
// URL-decoded (so %2B is `+`). The model aliases path.
func route(path []byte) (ep endpoint, method string, model []byte) {
	for _, prefix := range geminiPrefixes {
		rest, ok := bytes.CutPrefix(path, prefix)
		if !ok {
			continue
		}
		i := bytes.LastIndexByte(rest, ':')
		if i < 0 {
			return endpointNone, "", nil
		}
		switch string(rest[i+1:]) {
		case "generateContent":
			ep = endpointGenerate
		case "streamGenerateContent":
			ep = endpointStreamGenerate
		case "countTokens":
			ep = endpointGeminiCountTokens
		default:
			return endpointNone, "", nil
		}
		return ep, fasthttp.MethodPost, rest[:i]
	}
	path = bytes.TrimPrefix(path, []byte("/v1"))
	switch string(path) {
	case "/chat/completions":
		return endpointChat, fasthttp.MethodPost, nil
	case "/completions":
		return endpointCompletions, fasthttp.MethodPost, nil
	case "/embeddings":
		return endpointEmbeddings, fasthttp.MethodPost, nil
	case "/models":
		return endpointModels, fasthttp.MethodGet, nil
	case "/messages":
		return endpointMessages, fasthttp.MethodPost, nil
	case "/messages/count_tokens":
		return endpointCountTokens, fasthttp.MethodPost, nil
	case "/responses":
		return endpointResponses, fasthttp.MethodPost, nil
	}
	return endpointNone, "", nil
}

// isGeminiPath reports whether path is under a Gemini prefix.
func isGeminiPath(path []byte) bool {
	for _, prefix := range geminiPrefixes {
		if bytes.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

// authorized reports whether the Authorization header is `Bearer <token>`
// with a non-empty token. Any token is accepted.
func authorized(h []byte) bool {
	token, ok := bytes.CutPrefix(h, []byte("Bearer "))
	return ok && len(bytes.TrimSpace(token)) > 0
}

// Messages of the credential refusals, worded like the real APIs.
const (
	msgOpenAIKey       = "Incorrect API key provided: the mock wants `Authorization: Bearer <key>`."
	msgAnthropicKey    = "x-api-key header is required"
	msgAnthropicVer    = "anthropic-version: header is required"
	msgGeminiNoKey     = "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."
	msgGeminiBadBearer = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. The mock takes an API key: x-goog-api-key or ?key=."
)

// authorize checks the credentials API family f wants, and for Anthropic
// the anthropic-version header; it returns the status and message to
// refuse with, or 0. Any non-empty key is accepted.
func authorize(ctx *fasthttp.RequestCtx, f format) (int, string) {
	h := &ctx.Request.Header
	switch f {
	case formatAnthropic:
		if len(bytes.TrimSpace(h.Peek("x-api-key"))) == 0 {
			return fasthttp.StatusUnauthorized, msgAnthropicKey
		}
		if len(bytes.TrimSpace(h.Peek("anthropic-version"))) == 0 {
			return fasthttp.StatusBadRequest, msgAnthropicVer
		}
	case formatGemini:
		if len(h.Peek("x-goog-api-key")) > 0 || len(ctx.QueryArgs().Peek("key")) > 0 {
			return 0, ""
		}
		if len(h.Peek(fasthttp.HeaderAuthorization)) > 0 {
			return fasthttp.StatusUnauthorized, msgGeminiBadBearer
		}
		return fasthttp.StatusForbidden, msgGeminiNoKey
	default:
		if !authorized(h.Peek(fasthttp.HeaderAuthorization)) {
			return fasthttp.StatusUnauthorized, msgOpenAIKey
		}
	}
	return 0, ""
}

// call is one request being answered.
type call struct {
	ctx *fasthttp.RequestCtx
	req request
	f   faults
	seq int64 // per-server answer number, used in response ids

	encrypted bool // responses: include asks for reasoning.encrypted_content
	summary   bool // responses: reasoning.summary asks for a summary
	thoughts  bool // gemini: thinkingConfig.includeThoughts
	sse       bool // gemini streamGenerateContent: alt=sse, else a JSON array
}

var errNoModel = errors.New("you must provide a model parameter")

// decode reads the body fields ep looks at and applies the directives
// after `+` in the model name (for Gemini, the model in the path). It
// returns the status to refuse with and why.
func (c *call) decode(ep endpoint, pathModel []byte) (int, error) {
	body := c.ctx.Request.Body()
	var err error
	switch ep {
	case endpointModels:
		return 0, nil
	case endpointMessages, endpointCountTokens:
		// The surface structs escape through sonic's interface{}: one
		// allocation on these surfaces, rather than growing every call
		// (and the OpenAI hot path) by their size.
		r := &messagesRequest{MaxTokens: -1}
		if err = sonic.Unmarshal(body, r); err != nil {
			break
		}
		if r.Model == "" {
			return fasthttp.StatusBadRequest, errors.New("model: Field required")
		}
		if ep == endpointMessages && r.MaxTokens < 1 {
			if r.MaxTokens == -1 {
				return fasthttp.StatusBadRequest, errors.New("max_tokens: Field required")
			}
			return fasthttp.StatusBadRequest, fmt.Errorf("max_tokens: want at least 1, got %d", r.MaxTokens)
		}
		c.req.Model, c.req.Stream = r.Model, r.Stream
	case endpointResponses:
		r := &responsesRequest{}
		if err = sonic.Unmarshal(body, r); err != nil {
			break
		}
		c.req.Model, c.req.Stream = r.Model, r.Stream
		c.encrypted = slices.Contains(r.Include, "reasoning.encrypted_content")
		c.summary = r.Reasoning.Summary != ""
	case endpointGenerate, endpointStreamGenerate, endpointGeminiCountTokens:
		r := &geminiRequest{}
		if err = sonic.Unmarshal(body, r); err != nil {
			break
		}
		if name, _ := splitModel(string(pathModel)); name == "" {
			return fasthttp.StatusNotFound, fmt.Errorf("models/%s is not found for API version v1beta", pathModel)
		}
		c.req.Model = string(pathModel)
		c.thoughts = r.GenerationConfig.ThinkingConfig.IncludeThoughts
		c.sse = string(c.ctx.QueryArgs().Peek("alt")) == "sse"
	default:
		err = sonic.Unmarshal(body, &c.req)
	}
	if err != nil {
		return fasthttp.StatusBadRequest, fmt.Errorf("mock cannot parse the request body as JSON: %s", err)
	}
	name, directives := splitModel(c.req.Model)
	if name == "" {
		return fasthttp.StatusBadRequest, errNoModel
	}
	if err := c.f.parse(directives, '+'); err != nil {
		return fasthttp.StatusBadRequest, err
	}
	return 0, nil
}

// streams reports whether ep answers c with a stream.
func (ep endpoint) streams(c *call) bool {
	switch ep {
	case endpointChat, endpointCompletions, endpointMessages, endpointResponses:
		return c.req.Stream
	case endpointStreamGenerate:
		return true
	}
	return false
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	n := s.requests.Add(1)
	ep, method, pathModel := route(ctx.Path())
	s.rec.record(ctx, ep)
	f := ep.format()
	if ep == endpointNone && isGeminiPath(ctx.Path()) {
		f = formatGemini // an unknown method: refused in Google's shape
	}
	if f == formatAnthropic {
		setRequestID(ctx, n)
	}
	fail := func(status int, msg string) { writeErrorAs(ctx, f, n, status, msg) }

	if status, msg := authorize(ctx, f); status != 0 {
		fail(status, msg)
		return
	}
	if ep == endpointResponses && ctx.IsGet() && websocket.FastHTTPIsWebSocketUpgrade(ctx) {
		s.serveWebSocket(ctx)
		return
	}
	if ep == endpointNone {
		fail(fasthttp.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", ctx.Method(), ctx.Path()))
		return
	}
	if string(ctx.Method()) != method {
		fail(fasthttp.StatusMethodNotAllowed, fmt.Sprintf("Method %s not allowed on %s; use %s", ctx.Method(), ctx.Path(), method))
		return
	}

	c := call{ctx: ctx, f: noFaults(), seq: s.seq.Add(1)}
	if err := c.f.parse(string(ctx.Request.Header.Peek("x-mock")), ','); err != nil {
		fail(fasthttp.StatusBadRequest, err.Error())
		return
	}
	if status, err := c.decode(ep, pathModel); err != nil {
		fail(status, err.Error())
		return
	}
	if err := c.f.check(); err != nil {
		fail(fasthttp.StatusBadRequest, err.Error())
		return
	}
	stream := ep.streams(&c)

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
		fail(fasthttp.StatusServiceUnavailable, "mock: server closed")
		return
	}
	if c.f.hold > 0 && c.f.holdAfter == 0 && s.hold(ctx.Conn(), c.f.hold) {
		ctx.HijackSetNoResponse(true) // the client is gone: send nothing
		ctx.Hijack(func(net.Conn) {})
		return
	}
	if c.f.status != 0 {
		if c.f.retryAfter != "" {
			ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, c.f.retryAfter)
		}
		fail(c.f.status, fmt.Sprintf("mock: injected status %d", c.f.status))
		return
	}
	if drawn == outcomeFail {
		fail(fasthttp.StatusInternalServerError, "mock: injected random failure (fail=)")
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
	held := c.f.hold > 0 && c.f.holdAfter > 0
	defer func() {
		if !held {
			releaseBuf(buf)
		}
	}()
	switch ep {
	case endpointChat:
		buf.b = s.appendChat(buf.b, &c)
	case endpointCompletions:
		buf.b = s.appendCompletion(buf.b, &c)
	case endpointEmbeddings:
		var err error
		if buf.b, err = appendEmbeddings(buf.b, &c); err != nil {
			fail(fasthttp.StatusBadRequest, err.Error())
			return
		}
	case endpointModels:
		buf.b = appendModels(buf.b)
	case endpointMessages:
		buf.b = s.appendMessage(buf.b, &c)
	case endpointCountTokens:
		buf.b = appendCountTokens(buf.b, &c)
	case endpointResponses:
		buf.b = s.appendResponse(buf.b, &c, responseCompleted)
	case endpointGenerate:
		buf.b = s.appendGenerate(buf.b, &c)
	case endpointGeminiCountTokens:
		buf.b = appendGeminiCountTokens(buf.b, &c)
	}
	if held {
		if err := s.writeHeld(ctx, buf, c.f.encoding, c.f.hold); err != nil {
			held = false
			fail(fasthttp.StatusInternalServerError, err.Error())
		}
		return
	}
	if err := writeBody(ctx, buf, c.f.encoding); err != nil {
		fail(fasthttp.StatusInternalServerError, err.Error())
	}
}
