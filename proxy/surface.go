package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/bytedance/sonic/ast"
	"github.com/valyala/fasthttp"

	"switchboard/upstream"
	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
)

// surface is one client API the gateway serves: the upstream endpoint it
// forwards to and the wire format its clients speak (errors, streams and
// usage are in that format).
type surface struct {
	name     string // the metrics and log label
	endpoint upstream.Endpoint
	format   upstream.Format
	// chat: a conversation API, which reaches providers of every format
	// through translation.
	chat bool
	// counts: a token-counting API, answered locally when no provider of
	// its format serves the model.
	counts bool
}

// The surfaces.
var (
	surfaceChat        = &surface{name: "chat", endpoint: upstream.ChatCompletions, format: upstream.FormatOpenAI, chat: true}
	surfaceCompletions = &surface{name: "completions", endpoint: upstream.Completions, format: upstream.FormatOpenAI}
	surfaceEmbeddings  = &surface{name: "embeddings", endpoint: upstream.Embeddings, format: upstream.FormatOpenAI}
	surfaceMessages    = &surface{name: "messages", endpoint: upstream.Messages, format: upstream.FormatAnthropic, chat: true}
	surfaceCountTokens = &surface{name: "count_tokens", endpoint: upstream.CountTokens, format: upstream.FormatAnthropic, counts: true}
	surfaceResponses   = &surface{name: "responses", endpoint: upstream.Responses, format: upstream.FormatResponses, chat: true}
	// Codex CLI's remote compaction of a long conversation: passed to
	// Responses-format providers only.
	surfaceCompact     = &surface{name: "responses_compact", endpoint: upstream.ResponsesCompact, format: upstream.FormatResponses}
	surfaceGenerate    = &surface{name: "generate_content", endpoint: upstream.GenerateContent, format: upstream.FormatGemini, chat: true}
	surfaceStream      = &surface{name: "stream_generate_content", endpoint: upstream.StreamGenerateContent, format: upstream.FormatGemini, chat: true}
	surfaceGeminiCount = &surface{name: "gemini_count_tokens", endpoint: upstream.GeminiCountTokens, format: upstream.FormatGemini, counts: true}
)

// geminiSurface finds the Gemini method a path such as
// "/v1beta/models/gemini-2.5-pro:generateContent" calls, and the model it
// names.
func geminiSurface(path string) (*surface, string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1beta/models/")
	if !ok {
		if rest, ok = strings.CutPrefix(path, "/v1/models/"); !ok {
			return nil, "", false
		}
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return nil, "", false
	}
	switch rest[i+1:] {
	case "generateContent":
		return surfaceGenerate, rest[:i], true
	case "streamGenerateContent":
		return surfaceStream, rest[:i], true
	case "countTokens":
		return surfaceGeminiCount, rest[:i], true
	}
	return nil, "", false
}

// errOtherFormat: every target of the model speaks another wire format
// than the client, on an API that is not translated (completions,
// embeddings, token counts).
var errOtherFormat = errors.New("no provider of this model speaks this API's wire format")

// writeErrorIn answers ctx with err in the error shape of format.
func writeErrorIn(ctx *fasthttp.RequestCtx, format upstream.Format, err error) {
	if format == upstream.FormatOpenAI || format == upstream.FormatResponses {
		writeError(ctx, err)
		return
	}
	e := toAPIError(err)
	ctx.Response.Reset()
	ctx.SetStatusCode(e.status)
	ctx.SetContentType("application/json")
	ce := canon.Error{Status: e.status, Message: e.message}
	ctx.Response.SetBodyRaw(codecs[format].appendError(nil, &ce))
}

// appendAnthropicError appends e in Anthropic's error shape,
// {"type":"error","error":{"type":...,"message":...}}, the type chosen
// from the status.
func appendAnthropicError(dst []byte, e apiError) []byte {
	return anthropic.AppendError(dst, &canon.Error{Status: e.status, Message: e.message})
}

// appendAnthropicStreamError appends err as Anthropic's in-band stream
// error event, for failures after the stream started.
func appendAnthropicStreamError(dst []byte, err error) []byte {
	dst = append(dst, "event: error\ndata: "...)
	dst = appendAnthropicError(dst, toAPIError(err))
	return append(dst, "\n\n"...)
}

var (
	messageStartType      = []byte(`"message_start"`)
	messageStartUsagePath = []any{"message", "usage"}
)

// readAnthropicUsage reads the usage of an Anthropic Messages answer
// into u: a whole message, or the message_start and message_delta stream
// events (the first carries the prompt's counts, the second the output's,
// cumulative). It reports whether doc completed the usage (a message or a
// message_delta), so that the call's cost can be known. n is search
// scratch space.
func readAnthropicUsage(doc []byte, u *usage, n *ast.Node) bool {
	path, final := answerUsagePaths[upstream.FormatAnthropic], true
	if bytes.Contains(doc, messageStartType) {
		path, final = messageStartUsagePath, false
	}
	obj, ok := usageObject(doc, usageKey, path, n)
	if !ok {
		return false
	}
	// Anthropic's input_tokens leaves out the tokens read from and written
	// to the cache; the gateway's prompt count includes them.
	input := intAt(obj, n, "input_tokens")
	cacheRead := intAt(obj, n, "cache_read_input_tokens")
	cacheWrite := intAt(obj, n, "cache_creation_input_tokens")
	if input+cacheRead+cacheWrite > 0 || !final {
		u.prompt, u.cached, u.cacheWrite = input+cacheRead+cacheWrite, cacheRead, cacheWrite
	}
	u.completion = intAt(obj, n, "output_tokens")
	if final {
		u.seen = true
	}
	return final
}

// anthropicFilter is the relay's filter for Anthropic streams: it keeps
// the usage and adds the cost to the message_delta event's usage. The
// events pass otherwise unchanged.
func (r *relay) anthropicFilter(ev, data []byte) []byte {
	if !bytes.Contains(data, usageKey) {
		return ev
	}
	if readAnthropicUsage(data, &r.c.usage, &r.c.fields.node) {
		return r.withCost(ev, data)
	}
	return ev
}

// responsesFilter is the relay's filter for OpenAI Responses streams:
// it keeps the usage of the event that ends the response
// (response.completed, .incomplete or .failed) and adds the cost to it.
func (r *relay) responsesFilter(ev, data []byte) []byte {
	if readResponsesUsage(data, eventUsagePaths[upstream.FormatResponses], &r.c.usage, &r.c.fields.node) {
		return r.withCost(ev, data)
	}
	return ev
}

var finishReasonKey = []byte(`"finishReason"`)

// geminiFilter is the relay's filter for Gemini streams: every chunk may
// carry the usage so far; the cost goes into the last one's, the chunk
// with the finishReason.
func (r *relay) geminiFilter(ev, data []byte) []byte {
	if readGeminiUsage(data, &r.c.usage, &r.c.fields.node) && bytes.Contains(data, finishReasonKey) {
		return r.withCost(ev, data)
	}
	return ev
}

// setAnthropicHeaders forwards the client's anthropic-version (or the
// default) and anthropic-beta to an Anthropic-format provider.
func setAnthropicHeaders(req *fasthttp.Request, client *fasthttp.RequestHeader) {
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

// otherFormatError explains why the call's targets were all left out.
func otherFormatError(s *surface, model string) error {
	return fmt.Errorf("%w: %q is served only by providers that do not speak %s, and this API is not translated", errOtherFormat, model, codecs[s.format].name)
}
