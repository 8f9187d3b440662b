package main

import (
	"bytes"
	"fmt"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
)

// Names of the built-in targets. targetGateway is the gateway as shipped,
// billing on; targetGatewayNoBill is the same gateway with billing
// disabled, to tell what metering costs.
const (
	targetDirect        = "direct"
	targetFloor         = "floor"
	targetGateway       = "switchboard"
	targetGatewayNoBill = "switchboard-nobill"
	// targetChaos is targetGateway called with the chaos route's model.
	targetChaos = "switchboard chaos"
)

// target is one endpoint the bench calls, and the client API it calls it
// in: OpenAI chat completions unless speaking says otherwise.
type target struct {
	name string
	base string // "http://127.0.0.1:PORT", without /v1
	proc *child // nil: CPU and memory not measured (in-process mock, -target)

	client     *fasthttp.HostClient
	key        string
	model      string
	api        *clientAPI
	body       []byte
	streamBody []byte

	// What the feature scenarios (response cache, :web, compression) add
	// to a call; the zero values are the plain call.
	headers []header                               // extra request headers
	next    func(stream bool) []byte               // a new body for every call; nil: body or streamBody
	check   func(h *fasthttp.ResponseHeader) error // judges the answer's headers; nil: any
	chunks  int                                    // content chunks a stream carries; 0: the mock's
}

// header is a request header.
type header struct{ name, value string }

// clientAPI is an API the bench's client speaks: where its requests go,
// how they carry the key, their bodies, and how its streams mark a
// content chunk and their end.
type clientAPI struct {
	path      string // under the base URL
	auth      func(h *fasthttp.RequestHeader, key string)
	body      func(model string, stream bool) []byte
	isContent func(event []byte) bool
	isEnd     func(event []byte) bool
}

// chatAPI is OpenAI chat completions, which every scenario but the
// cross-format ones speaks.
var chatAPI = &clientAPI{
	path:      "/v1/chat/completions",
	auth:      func(h *fasthttp.RequestHeader, key string) { h.Set(fasthttp.HeaderAuthorization, "Bearer "+key) },
	body:      chatBody,
	isContent: isContentEvent,
	isEnd:     isDoneEvent,
}

// newTarget returns a target at base called with key and model in OpenAI
// chat completions; workers bounds its connections.
func newTarget(name, base, key, model string, proc *child, workers int, timeout time.Duration) (*target, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("target %s: bad base URL %q", name, base)
	}
	t := &target{
		name: name,
		base: base,
		proc: proc,
		client: &fasthttp.HostClient{
			Addr:     u.Host,
			Name:     "switchboard-bench",
			MaxConns: workers + 16,
			// A failed request is an error to count, not to hide behind
			// a retry.
			MaxIdemponentCallAttempts: 1,
			ReadTimeout:               timeout,
			WriteTimeout:              timeout,
			MaxIdleConnDuration:       time.Minute,
		},
		key: key,
	}
	t.setCall(chatAPI, model)
	return t, nil
}

// setCall makes t call model in api.
func (t *target) setCall(api *clientAPI, model string) {
	t.api, t.model = api, model
	t.body, t.streamBody = api.body(model, false), api.body(model, true)
}

// speaking returns a target of the same name, endpoint, connections and
// process as t that calls t's model in api.
func (t *target) speaking(api *clientAPI) *target {
	c := *t
	c.setCall(api, t.model)
	return &c
}

// The conversation of the bench's requests, as JSON strings: a system
// prompt and a short conversation, as a coding tool sends.
const (
	promptSystem    = `"You are a careful senior engineer. Answer briefly, show code when it helps, and say when you are unsure. Prefer the standard library; explain trade-offs in one or two sentences. The user works in Go 1.26 on Linux and runs go vet and gofmt before every commit."`
	promptUser      = `"Here is a Go function that parses a duration from a config file and falls back to a default:\n\nfunc parse(s string) time.Duration {\n\td, err := time.ParseDuration(s)\n\tif err != nil {\n\t\treturn 30 * time.Second\n\t}\n\treturn d\n}\n\nIs silently falling back a good idea?"`
	promptAssistant = `"Usually not: a typo in the config becomes a silent 30s timeout. Return the error and let the caller report the field and the bad value."`
	promptFollowUp  = `"Show me the version that returns the error, with a message naming the field, and a table test for it."`
)

// chatBody returns a realistic chat completion request of about 1 KiB: a
// system prompt and a short conversation, as a coding tool sends.
func chatBody(model string, stream bool) []byte {
	return chatBodyWith(model, promptFollowUp, "0.2", stream)
}

// chatBodyWith returns chatBody's request with followUp (a JSON string)
// as the last user message and temperature (a JSON number).
func chatBodyWith(model, followUp, temperature string, stream bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"`)
	b.WriteString(model)
	b.WriteString(`","messages":[{"role":"system","content":` + promptSystem + `},`)
	b.WriteString(`{"role":"user","content":` + promptUser + `},`)
	b.WriteString(`{"role":"assistant","content":` + promptAssistant + `},`)
	b.WriteString(`{"role":"user","content":` + followUp + `}],`)
	b.WriteString(`"temperature":` + temperature + `,"max_tokens":512`)
	if stream {
		b.WriteString(`,"stream":true,"stream_options":{"include_usage":true}`)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

// request returns a request to t in its API; it may be reused for calls
// that do not overlap.
func (t *target) request(stream bool) *fasthttp.Request {
	req := new(fasthttp.Request)
	req.SetRequestURI(t.base + t.api.path)
	req.Header.SetMethod(fasthttp.MethodPost)
	t.api.auth(&req.Header, t.key)
	req.Header.SetContentType("application/json")
	for _, h := range t.headers {
		req.Header.Set(h.name, h.value)
	}
	if stream {
		req.SetBodyRaw(t.streamBody)
	} else {
		req.SetBodyRaw(t.body)
	}
	return req
}

// call sends req and reads the whole answer into resp. Anything but a 200
// with the mock's content, and headers that t.check accepts, is an error.
// A target with its own body per call (t.next) puts it into req first.
func (t *target) call(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	if t.next != nil {
		req.SetBodyRaw(t.next(false))
	}
	resp.StreamBody = false
	if err := t.client.DoDeadline(req, resp, deadline); err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return fmt.Errorf("%s: status %d: %.200s", t.name, resp.StatusCode(), resp.Body())
	}
	if !bytes.Contains(resp.Body(), []byte(`chunk `)) {
		return fmt.Errorf("%s: answer without the mock's content: %.200s", t.name, resp.Body())
	}
	return t.checkHeaders(&resp.Header)
}

// checkHeaders runs t.check on an answer's headers.
func (t *target) checkHeaders(h *fasthttp.ResponseHeader) error {
	if t.check == nil {
		return nil
	}
	if err := t.check(h); err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	return nil
}
