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

// target is one OpenAI-compatible endpoint the bench calls.
type target struct {
	name string
	base string // "http://127.0.0.1:PORT", without /v1
	proc *child // nil: CPU and memory not measured (in-process mock, -target)

	client     *fasthttp.HostClient
	auth       string
	chatBody   []byte
	streamBody []byte
}

// newTarget returns a target at base called with key and model; workers
// bounds its connections.
func newTarget(name, base, key, model string, proc *child, workers int, timeout time.Duration) (*target, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("target %s: bad base URL %q", name, base)
	}
	return &target{
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
		auth:       "Bearer " + key,
		chatBody:   chatBody(model, false),
		streamBody: chatBody(model, true),
	}, nil
}

// chatBody returns a realistic chat completion request of about 1 KiB: a
// system prompt and a short conversation, as a coding tool sends.
func chatBody(model string, stream bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"`)
	b.WriteString(model)
	b.WriteString(`","messages":[{"role":"system","content":"You are a careful senior engineer. Answer briefly, show code when it helps, and say when you are unsure. Prefer the standard library; explain trade-offs in one or two sentences. The user works in Go 1.26 on Linux and runs go vet and gofmt before every commit."},`)
	b.WriteString(`{"role":"user","content":"Here is a Go function that parses a duration from a config file and falls back to a default:\n\nfunc parse(s string) time.Duration {\n\td, err := time.ParseDuration(s)\n\tif err != nil {\n\t\treturn 30 * time.Second\n\t}\n\treturn d\n}\n\nIs silently falling back a good idea?"},`)
	b.WriteString(`{"role":"assistant","content":"Usually not: a typo in the config becomes a silent 30s timeout. Return the error and let the caller report the field and the bad value."},`)
	b.WriteString(`{"role":"user","content":"Show me the version that returns the error, with a message naming the field, and a table test for it."}],`)
	b.WriteString(`"temperature":0.2,"max_tokens":512`)
	if stream {
		b.WriteString(`,"stream":true,"stream_options":{"include_usage":true}`)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

// request returns a chat completion request to t; it may be reused for
// calls that do not overlap.
func (t *target) request(stream bool) *fasthttp.Request {
	req := new(fasthttp.Request)
	req.SetRequestURI(t.base + "/v1/chat/completions")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.Set(fasthttp.HeaderAuthorization, t.auth)
	req.Header.SetContentType("application/json")
	if stream {
		req.SetBodyRaw(t.streamBody)
	} else {
		req.SetBodyRaw(t.chatBody)
	}
	return req
}

// call sends req and reads the whole answer into resp. Anything but a 200
// with a chat completion is an error.
func (t *target) call(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
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
	return nil
}
