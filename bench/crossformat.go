package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
)

// The cross-format scenarios: an Anthropic Messages client calls the
// gateways for mock-model, which they serve from the mock as an
// OpenAI-format provider, so they decode the request, send it upstream as
// a chat completion and translate the answer, or the stream event by
// event, back to Anthropic. Direct and floor send the same request to the
// mock's own /v1/messages, which answers with the same content in as many
// events: over direct is what the hop, the gateway and the translation
// add together, over floor what the gateway and the translation add.
const (
	crossName   = "cross-format: Anthropic in, OpenAI out"
	crossFormat = "anthropic-to-openai"
)

// anthropicVersion is the anthropic-version header the Anthropic SDKs
// send.
const anthropicVersion = "2023-06-01"

// messagesAPI is Anthropic Messages as the Anthropic SDKs speak it: the
// key in x-api-key, the API version in anthropic-version.
var messagesAPI = &clientAPI{
	path:      "/v1/messages",
	auth:      messagesAuth,
	body:      messagesBody,
	isContent: isTextDeltaEvent,
	isEnd:     isMessageStopEvent,
}

func messagesAuth(h *fasthttp.RequestHeader, key string) {
	h.Set("x-api-key", key)
	h.Set("anthropic-version", anthropicVersion)
}

// messagesBody returns the Anthropic Messages request that says what
// chatBody says: the same system prompt, conversation, temperature and
// max_tokens.
func messagesBody(model string, stream bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"`)
	b.WriteString(model)
	b.WriteString(`","max_tokens":512,"system":` + promptSystem + `,"messages":[`)
	b.WriteString(`{"role":"user","content":` + promptUser + `},`)
	b.WriteString(`{"role":"assistant","content":` + promptAssistant + `},`)
	b.WriteString(`{"role":"user","content":` + promptFollowUp + `}],`)
	b.WriteString(`"temperature":0.2`)
	if stream {
		b.WriteString(`,"stream":true`)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

// isTextDeltaEvent reports whether an Anthropic stream event carries a
// content chunk of the mock: a content_block_delta with a text_delta of
// "chunk N ".
func isTextDeltaEvent(ev []byte) bool {
	return bytes.Contains(ev, []byte(`"text_delta"`)) && bytes.Contains(ev, []byte(`"chunk `))
}

// isMessageStopEvent reports whether an Anthropic stream event is the
// last one, "event: message_stop".
func isMessageStopEvent(ev []byte) bool {
	for line := range bytes.Lines(ev) {
		if name, ok := bytes.CutPrefix(line, []byte("event:")); ok {
			return string(bytes.TrimSpace(name)) == "message_stop"
		}
	}
	return false
}

// crossTargets returns the built-in targets (direct, floor and both
// gateways) speaking Anthropic Messages, or nothing without the billing-on
// gateway, whose translation the scenarios measure. The -target gateways
// are left out: whether they take Anthropic clients is up to their own
// configuration.
func crossTargets(targets []*target) []*target {
	if findTarget(targets, targetGateway) == nil {
		return nil
	}
	var cross []*target
	for _, name := range []string{targetDirect, targetFloor, targetGateway, targetGatewayNoBill} {
		if t := findTarget(targets, name); t != nil {
			cross = append(cross, t.speaking(messagesAPI))
		}
	}
	return cross
}

// checkTranslated sends one Anthropic request through each gateway among
// the cross targets and checks that the mock received it as a chat
// completion, last returning the mock's last request: that the gateways
// translate, so that the scenarios measure what they say.
func checkTranslated(cross []*target, last func() mock.Recorded, timeout time.Duration) error {
	resp := new(fasthttp.Response)
	for _, t := range cross {
		if t.name != targetGateway && t.name != targetGatewayNoBill {
			continue
		}
		if err := t.call(t.request(false), resp, time.Now().Add(timeout)); err != nil {
			return t.warmUpFailed(err)
		}
		if up := last(); up.Surface != mock.SurfaceChat {
			return fmt.Errorf("%s sent an Anthropic request to the mock's %s (%q), want %q: the cross-format scenarios would measure no translation",
				t.name, up.Path, up.Surface, mock.SurfaceChat)
		}
	}
	return nil
}

// runCrossLatency is the cross-format c=1 latency scenario: the c=1
// latency scenario, the targets speaking Anthropic Messages.
func runCrossLatency(ctx context.Context, targets []*target, o *options) Scenario {
	what := fmt.Sprintf("%s; Anthropic Messages, non-streaming (%s)", crossRoute, crossRequest)
	s := latencyScenario(ctx, targets, o, crossName+", c=1 latency", o.crossLatencyDur, what)
	s.CrossFormat = crossFormat
	return s
}

// runCrossStream is the cross-format streaming scenario: the streaming
// scenario, the targets speaking Anthropic Messages.
func runCrossStream(ctx context.Context, targets []*target, o *options) Scenario {
	what := fmt.Sprintf("%s; Anthropic Messages, stream:true (%s), %d text deltas %s apart",
		crossRoute, crossRequest, o.streamChunks, o.streamGap)
	s := streamScenario(ctx, targets, o, crossName+", streaming c=1", o.crossStreamDur, what)
	s.CrossFormat = crossFormat
	return s
}

// What the cross-format scenarios' methods say of the requests and of
// where they go.
const (
	crossRequest = "POST /v1/messages with x-api-key and anthropic-version, the c=1 conversation: system prompt, three turns, max_tokens 512"
	crossRoute   = "The gateways serve " + mockModel + " from the mock as an OpenAI-format provider (request re-encoded as a chat completion, answer translated back), direct and floor call the mock's own /v1/messages"
)
