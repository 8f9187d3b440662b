package proxy

import (
	"bytes"

	"github.com/bytedance/sonic/ast"
	"github.com/valyala/fasthttp"

	"switchboard/upstream"
	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/gemini"
	"switchboard/upstream/openai"
	"switchboard/upstream/responses"
)

// wireFormat is everything the request path knows about one wire format
// (OpenAI chat completions, Anthropic Messages, OpenAI Responses,
// Gemini generateContent), one row of formats. The shared path asks the
// row of the client's format or of the target's; it does not switch on
// the format. What the row points to lives in upstream/<format>, next
// to the structs that know the field names.
type wireFormat struct {
	format upstream.Format // its index in formats
	name   string          // for error messages: "Anthropic Messages"

	// Translation through the canonical model (translate.go).
	decodeRequest  func([]byte, *canon.Request) error
	encodeRequest  func(dst []byte, r *canon.Request, maxOutput int64) ([]byte, error)
	endpoint       func(stream bool) upstream.Endpoint // where a translated request goes
	decodeResponse func([]byte, *canon.Response) error
	encodeResponse func([]byte, *canon.Response) ([]byte, error)
	decoder        func(*translation) streamDecoder
	encoder        func(*translation) streamEncoder

	// Usage: readUsage reads a whole answer's, readEventUsage a stream
	// event's and reports whether the event completes it (the cost is
	// then known). usageKey is the usage object's key, quotes included;
	// answerUsage and eventUsage its path in an answer and in the stream
	// event that carries it, where the cost is spliced in.
	readUsage      func(doc []byte, u *canon.Usage, n *ast.Node) bool
	readEventUsage func(data []byte, u *canon.Usage, n *ast.Node) bool
	usageKey       []byte
	answerUsage    []any
	eventUsage     []any

	// filter passes one event of a same-format stream on (sse.go).
	filter func(r *relay, ev, data []byte) []byte

	// Errors, written only by errors.go: a provider's error answer
	// decoded, and errors in the format's answer shape and as its
	// in-band stream event (events: how many the client was sent).
	decodeError       func([]byte, int) canon.Error
	appendError       func([]byte, *canon.Error) []byte
	appendAPIError    func([]byte, apiError) []byte
	appendStreamError func(dst []byte, events int64, e apiError) []byte
	// notJSON marks a body declared as something other than JSON:
	// errNotJSON (415), or for Google errBadRequest (400).
	notJSON error

	// forwardHeaders copies the client's headers a provider of the
	// format reads (nil: none).
	forwardHeaders func(req *fasthttp.Request, client *fasthttp.RequestHeader)

	// modelInPath: the model is in the URL, not the body (Gemini), and
	// so is the key a client may send as ?key=.
	modelInPath bool
	// openings are where a conversation's opening is, its system prompt
	// and first message, for sticky routing (sticky.go): per part, the
	// paths it may be at, the first one found taken.
	openings [][][]any
	// messagePath is the answer's message object, where url_citation
	// annotations go (web.go); nil when the format has none.
	messagePath []any
	// countField is the key of a token count answer (tokens.go).
	countField string
	// userPath is where a request names its end user (attribution.go);
	// nil when the format has no such field.
	userPath []any
}

// formats holds each wire format's row, by upstream.Format.
var formats = [...]wireFormat{
	upstream.FormatOpenAI: {
		format:         upstream.FormatOpenAI,
		name:           "OpenAI chat completions",
		decodeRequest:  openai.DecodeRequest,
		encodeRequest:  encodeOpenAIRequest,
		endpoint:       func(bool) upstream.Endpoint { return upstream.ChatCompletions },
		decodeResponse: openai.DecodeResponse,
		encodeResponse: func(dst []byte, r *canon.Response) ([]byte, error) { return openai.EncodeResponse(dst, r), nil },
		decoder:        func(tr *translation) streamDecoder { return &tr.oaDec },
		encoder:        func(tr *translation) streamEncoder { return &tr.oaEnc },

		readUsage:      openai.ReadUsage,
		readEventUsage: openai.ReadUsage,
		usageKey:       openai.UsageKey,
		answerUsage:    openai.UsagePath,
		eventUsage:     openai.UsagePath,

		filter: (*relay).openAIFilter,

		decodeError:       openai.DecodeError,
		appendError:       openai.AppendError,
		appendAPIError:    appendOpenAIError,
		appendStreamError: appendOpenAIStreamError,
		notJSON:           errNotJSON,

		openings:    [][][]any{{{"messages", 0}}, {{"messages", 1}}},
		messagePath: []any{"choices", 0, "message"},
		countField:  "input_tokens",
		userPath:    []any{"user"},
	},
	upstream.FormatAnthropic: {
		format:         upstream.FormatAnthropic,
		name:           "Anthropic Messages",
		decodeRequest:  anthropic.DecodeRequest,
		encodeRequest:  encodeAnthropicRequest,
		endpoint:       func(bool) upstream.Endpoint { return upstream.Messages },
		decodeResponse: anthropic.DecodeResponse,
		encodeResponse: anthropic.EncodeResponse,
		decoder:        func(tr *translation) streamDecoder { return &tr.anDec },
		encoder:        func(tr *translation) streamEncoder { return &tr.anEnc },

		readUsage:      anthropic.ReadUsage,
		readEventUsage: anthropic.ReadUsage,
		usageKey:       anthropic.UsageKey,
		answerUsage:    anthropic.UsagePath,
		eventUsage:     anthropic.UsagePath,

		filter: (*relay).anthropicFilter,

		decodeError:       anthropic.DecodeError,
		appendError:       anthropic.AppendError,
		appendAPIError:    func(dst []byte, e apiError) []byte { return anthropic.AppendError(dst, e.canon()) },
		appendStreamError: appendAnthropicStreamError,
		notJSON:           errNotJSON,

		forwardHeaders: forwardAnthropicHeaders,
		openings:       [][][]any{{{"system"}}, {{"messages", 0}}},
		countField:     "input_tokens",
		userPath:       []any{"metadata", "user_id"},
	},
	upstream.FormatResponses: {
		format:         upstream.FormatResponses,
		name:           "OpenAI Responses",
		decodeRequest:  responses.DecodeRequest,
		encodeRequest:  encodeResponsesRequest,
		endpoint:       func(bool) upstream.Endpoint { return upstream.Responses },
		decodeResponse: responses.DecodeResponse,
		encodeResponse: responses.EncodeResponse,
		decoder:        func(tr *translation) streamDecoder { return &tr.rsDec },
		encoder:        func(tr *translation) streamEncoder { return &tr.rsEnc },

		readUsage:      responses.ReadUsage,
		readEventUsage: responses.ReadEventUsage,
		usageKey:       responses.UsageKey,
		answerUsage:    responses.UsagePath,
		eventUsage:     responses.EventUsagePath,

		filter: (*relay).usageFilter,

		decodeError:    responses.DecodeError,
		appendError:    responses.AppendError,
		appendAPIError: appendOpenAIError,
		appendStreamError: func(dst []byte, events int64, e apiError) []byte {
			return responses.AppendStreamError(dst, events, e.canon())
		},
		notJSON: errNotJSON,

		// A Responses input is a list whose first item opens it, or a
		// plain string that is the whole opening.
		openings:   [][][]any{{{"instructions"}}, {{"input", 0}, {"input"}}},
		countField: "input_tokens",
		userPath:   []any{"user"},
	},
	upstream.FormatGemini: {
		format:         upstream.FormatGemini,
		name:           "Gemini generateContent",
		decodeRequest:  gemini.DecodeRequest,
		encodeRequest:  encodeGeminiRequest,
		endpoint:       geminiEndpoint,
		decodeResponse: gemini.DecodeResponse,
		encodeResponse: gemini.EncodeResponse,
		decoder:        func(tr *translation) streamDecoder { return &tr.gmDec },
		encoder:        func(tr *translation) streamEncoder { return &tr.gmEnc },

		readUsage:      gemini.ReadUsage,
		readEventUsage: readGeminiEventUsage,
		usageKey:       gemini.UsageKey,
		answerUsage:    gemini.UsagePath,
		eventUsage:     gemini.UsagePath,

		filter: (*relay).usageFilter,

		decodeError:    gemini.DecodeError,
		appendError:    gemini.AppendError,
		appendAPIError: func(dst []byte, e apiError) []byte { return gemini.AppendError(dst, e.canon()) },
		appendStreamError: func(dst []byte, _ int64, e apiError) []byte {
			return append(gemini.AppendError(append(dst, "data: "...), e.canon()), "\r\n\r\n"...)
		},
		notJSON: errBadRequest,

		modelInPath: true,
		openings:    [][][]any{{{"systemInstruction"}}, {{"contents", 0}}},
		countField:  "totalTokens",
	},
}

// index is f's index in formats, a bit in translation.used.
func (f *wireFormat) index() uint { return uint(f.format) }

// formatOf is the row of wire format f.
func formatOf(f upstream.Format) *wireFormat { return &formats[f] }

// encodeOpenAIRequest asks for the usage whatever the client asked: the
// gateway needs it to bill.
func encodeOpenAIRequest(dst []byte, r *canon.Request, _ int64) ([]byte, error) {
	r.IncludeUsage = true
	return openai.EncodeRequest(dst, r, openai.EncodeOptions{})
}

// encodeAnthropicRequest gives a request without max_tokens, which
// Anthropic requires, the model's output limit.
func encodeAnthropicRequest(dst []byte, r *canon.Request, maxOutput int64) ([]byte, error) {
	return anthropic.EncodeRequest(dst, r, anthropic.EncodeOptions{DefaultMaxTokens: maxOutput})
}

func encodeResponsesRequest(dst []byte, r *canon.Request, _ int64) ([]byte, error) {
	return responses.EncodeRequest(dst, r, responses.EncodeOptions{})
}

func encodeGeminiRequest(dst []byte, r *canon.Request, _ int64) ([]byte, error) {
	return gemini.EncodeRequest(dst, r, gemini.EncodeOptions{})
}

// geminiEndpoint: Gemini streams from a method of its own.
func geminiEndpoint(stream bool) upstream.Endpoint {
	if stream {
		return upstream.StreamGenerateContent
	}
	return upstream.GenerateContent
}

var finishReasonKey = []byte(`"finishReason"`)

// readGeminiEventUsage: every chunk of a Gemini stream may carry the
// usage so far; the chunk with the finishReason completes it.
func readGeminiEventUsage(data []byte, u *canon.Usage, n *ast.Node) bool {
	return gemini.ReadUsage(data, u, n) && bytes.Contains(data, finishReasonKey)
}

// forwardAnthropicHeaders forwards the client's anthropic-version (or
// the default) and anthropic-beta to an Anthropic-format provider.
func forwardAnthropicHeaders(req *fasthttp.Request, client *fasthttp.RequestHeader) {
	v := client.Peek("anthropic-version")
	if len(v) == 0 {
		req.Header.Set("anthropic-version", upstream.AnthropicVersion)
	} else {
		req.Header.SetBytesV("anthropic-version", v)
	}
	if b := client.Peek("anthropic-beta"); len(b) > 0 {
		req.Header.SetBytesV("anthropic-beta", b)
	}
}
