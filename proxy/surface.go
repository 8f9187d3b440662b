package proxy

import (
	"errors"
	"fmt"
	"strings"

	"switchboard/upstream"
)

// surface is one client API the gateway serves: the upstream endpoint it
// forwards to and the wire format its clients speak (errors, streams and
// usage are in that format: format.go).
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
	// usageOption: a streaming request gets stream_options.include_usage
	// spliced in, so that the provider reports the usage (OpenAI's chat
	// and completions).
	usageOption bool
}

// The surfaces.
var (
	surfaceChat        = &surface{name: "chat", endpoint: upstream.ChatCompletions, format: upstream.FormatOpenAI, chat: true, usageOption: true}
	surfaceCompletions = &surface{name: "completions", endpoint: upstream.Completions, format: upstream.FormatOpenAI, usageOption: true}
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

// otherFormatError explains why the call's targets were all left out.
func otherFormatError(s *surface, model string) error {
	return fmt.Errorf("%w: %q is served only by providers that do not speak %s, and this API is not translated", errOtherFormat, model, formatOf(s.format).name)
}
