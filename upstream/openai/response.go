package openai

import (
	"strconv"
	"time"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// chatCompletion is a non-streamed Chat Completions answer. Providers add
// fields freely; it is decoded leniently.
type chatCompletion struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int         `json:"index"`
		Message      respMessage `json:"message"`
		FinishReason string      `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
	Error *chatError `json:"error"`
}

type respMessage struct {
	// Content is a string, or text parts (Mistral, some proxies), or null.
	Content          sonic.NoCopyRawMessage `json:"content"`
	Refusal          *string                `json:"refusal"`
	ReasoningContent *string                `json:"reasoning_content"`
	Reasoning        *string                `json:"reasoning"`
	ToolCalls        []chatToolCall         `json:"tool_calls"`
}

// chatUsage is OpenAI's usage. Its details are values, not pointers: an
// absent detail counts 0 either way, and a pointer would cost an
// allocation.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
		// CacheWriteTokens is OpenRouter's count of prompt tokens written
		// to an Anthropic or Gemini cache.
		CacheWriteTokens int64 `json:"cache_write_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	// PromptCacheHitTokens is DeepSeek's name for cached_tokens.
	PromptCacheHitTokens int64 `json:"prompt_cache_hit_tokens"`
}

// canon converts u, whose prompt_tokens include the cached tokens, into
// canonical usage, whose Input excludes them.
func (u *chatUsage) canon() canon.Usage {
	c := canon.Usage{Output: u.CompletionTokens, CacheRead: u.PromptCacheHitTokens,
		CacheWrite: u.PromptTokensDetails.CacheWriteTokens, Reasoning: u.CompletionTokensDetails.ReasoningTokens}
	if n := u.PromptTokensDetails.CachedTokens; n > 0 {
		c.CacheRead = n
	}
	c.Input = max(u.PromptTokens-c.CacheRead-c.CacheWrite, 0)
	return c
}

// DecodeResponse decodes a non-streamed Chat Completions answer into r,
// which it resets first. Reasoning a provider returned as
// "reasoning_content" (DeepSeek) or "reasoning" (OpenRouter, vLLM)
// becomes a leading thinking block without signature. An answer that
// carries an "error" object instead is returned as a *canon.Error.
// Strings in r point into body.
func DecodeResponse(body []byte, r *canon.Response) error {
	*r = canon.Response{}
	var w chatCompletion
	if err := canon.DecodeLenient(body, &w, ""); err != nil {
		return err
	}
	if w.Error != nil {
		e := w.Error.canon(0)
		return &e
	}
	if len(w.Choices) != 1 {
		return canon.Fieldf("choices", "want 1 choice, got %d", len(w.Choices))
	}
	r.ID, r.Created, r.Model = w.ID, w.Created, w.Model
	ch := &w.Choices[0]
	m := &ch.Message
	r.Content = make([]canon.Block, 0, 2+len(m.ToolCalls))
	reasoning := m.ReasoningContent
	if reasoning == nil {
		reasoning = m.Reasoning
	}
	if reasoning != nil && *reasoning != "" {
		r.Content = append(r.Content, canon.Block{Kind: canon.BlockThinking, Text: *reasoning})
	}
	var err error
	if r.Content, err = appendResponseContent(r.Content, m.Content); err != nil {
		return err
	}
	if m.Refusal != nil && *m.Refusal != "" {
		r.Content = append(r.Content, canon.Block{Kind: canon.BlockRefusal, Text: *m.Refusal})
	}
	for j := range m.ToolCalls {
		tc := &m.ToolCalls[j]
		r.Content = append(r.Content, canon.Block{Kind: canon.BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: tc.Function.Arguments})
	}
	r.StopReason = stopReason(ch.FinishReason)
	if r.StopReason == canon.StopEndTurn && m.Refusal != nil && *m.Refusal != "" {
		r.StopReason = canon.StopRefusal
	}
	if w.Usage != nil {
		r.Usage = w.Usage.canon()
	}
	return nil
}

// appendResponseContent appends the text of an answer's content: a
// string, text parts, or null.
func appendResponseContent(dst []canon.Block, raw []byte) ([]canon.Block, error) {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return dst, nil
	}
	if raw[0] == '"' {
		var s string
		if err := canon.DecodeLenient(raw, &s, "choices[0].message.content"); err != nil {
			return nil, err
		}
		if s == "" {
			return dst, nil
		}
		return append(dst, canon.Block{Kind: canon.BlockText, Text: s}), nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := canon.DecodeLenient(raw, &parts, "choices[0].message.content"); err != nil {
		return nil, err
	}
	for _, p := range parts {
		if p.Type == "text" && p.Text != "" {
			dst = append(dst, canon.Block{Kind: canon.BlockText, Text: p.Text})
		}
	}
	return dst, nil
}

// stopReason maps an OpenAI finish_reason to a canonical stop reason.
// OpenAI says "stop" both for a natural end and a stop sequence, and
// strips the sequence, so "stop" is end_turn. Unknown reasons (DeepSeek's
// "insufficient_system_resource", ...) are end_turn too.
func stopReason(finish string) canon.StopReason {
	switch finish {
	case "length":
		return canon.StopMaxTokens
	case "tool_calls", "function_call":
		return canon.StopToolUse
	case "content_filter":
		return canon.StopContentFilter
	}
	return canon.StopEndTurn
}

// finishReason maps a canonical stop reason to an OpenAI finish_reason.
func finishReason(s canon.StopReason) string {
	switch s {
	case canon.StopMaxTokens, canon.StopContextLimit:
		return "length"
	case canon.StopToolUse:
		return "tool_calls"
	case canon.StopRefusal, canon.StopContentFilter:
		return "content_filter"
	}
	return "stop"
}

// EncodeResponse appends r as a non-streamed Chat Completions answer to
// dst. The text blocks become "content", concatenated (OpenAI has one
// text per message); thinking becomes "reasoning_content", the
// DeepSeek/OpenRouter convention that OpenAI-compatible clients display,
// without its signature, which OpenAI clients cannot send back; refusal
// blocks become "refusal"; tool-use blocks "tool_calls". With r.Created
// 0 the current time is used.
func EncodeResponse(dst []byte, r *canon.Response) []byte {
	dst = append(dst, '{')
	dst = canon.AppendStringField(dst, "id", r.ID)
	dst = append(dst, `,"object":"chat.completion"`...)
	dst = canon.AppendIntField(dst, "created", created(r.Created))
	dst = canon.AppendStringField(dst, "model", r.Model)
	dst = append(dst, `,"choices":[{"index":0,"message":{"role":"assistant"`...)
	var texts, refusals, thinking, calls int
	for j := range r.Content {
		switch r.Content[j].Kind {
		case canon.BlockText:
			texts++
		case canon.BlockRefusal:
			refusals++
		case canon.BlockThinking:
			thinking++
		case canon.BlockToolUse:
			calls++
		}
	}
	dst = canon.AppendKey(dst, "content")
	if texts > 0 {
		dst = appendJoined(dst, r.Content, canon.BlockText)
	} else {
		dst = append(dst, "null"...)
	}
	dst = canon.AppendKey(dst, "refusal")
	if refusals > 0 {
		dst = appendJoined(dst, r.Content, canon.BlockRefusal)
	} else {
		dst = append(dst, "null"...)
	}
	if thinking > 0 {
		dst = appendJoined(canon.AppendKey(dst, "reasoning_content"), r.Content, canon.BlockThinking)
	}
	if calls > 0 {
		dst = append(canon.AppendKey(dst, "tool_calls"), '[')
		for j := range r.Content {
			if b := &r.Content[j]; b.Kind == canon.BlockToolUse {
				dst = appendToolCall(canon.AppendElem(dst), -1, b.ID, b.Name, b.Input)
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `},"logprobs":null`...)
	dst = canon.AppendStringField(dst, "finish_reason", finishReason(r.StopReason))
	dst = append(dst, '}', ']')
	dst = appendUsage(canon.AppendKey(dst, "usage"), &r.Usage)
	return append(dst, '}')
}

// appendToolCall appends a tool call: with index i when i >= 0 (a stream
// delta), with id and name when they are non-empty, with arguments when
// args is non-empty or the call is whole (i < 0).
func appendToolCall(dst []byte, i int, id, name, args string) []byte {
	dst = append(dst, '{')
	if i >= 0 {
		dst = canon.AppendIntField(dst, "index", int64(i))
	}
	if id != "" {
		dst = canon.AppendStringField(dst, "id", id)
		dst = append(dst, `,"type":"function"`...)
	}
	dst = append(canon.AppendKey(dst, "function"), '{')
	if name != "" {
		dst = canon.AppendStringField(dst, "name", name)
	}
	if i < 0 && args == "" {
		args = "{}"
	}
	if args != "" || id != "" {
		dst = canon.AppendStringField(dst, "arguments", args)
	}
	return append(dst, '}', '}')
}

// appendUsage appends u as an OpenAI usage object: prompt_tokens include
// the cached tokens; cache writes go in OpenRouter's cache_write_tokens
// when there are any.
func appendUsage(dst []byte, u *canon.Usage) []byte {
	dst = append(dst, '{')
	dst = canon.AppendIntField(dst, "prompt_tokens", u.Prompt())
	dst = canon.AppendIntField(dst, "completion_tokens", u.Output)
	dst = canon.AppendIntField(dst, "total_tokens", u.Prompt()+u.Output)
	dst = append(canon.AppendKey(dst, "prompt_tokens_details"), '{')
	dst = canon.AppendIntField(dst, "cached_tokens", u.CacheRead)
	if u.CacheWrite > 0 {
		dst = canon.AppendIntField(dst, "cache_write_tokens", u.CacheWrite)
	}
	dst = append(dst, '}')
	dst = append(canon.AppendKey(dst, "completion_tokens_details"), '{')
	dst = canon.AppendIntField(dst, "reasoning_tokens", u.Reasoning)
	return append(dst, '}', '}')
}

// created returns t, or the current Unix time when t is 0.
func created(t int64) int64 {
	if t != 0 {
		return t
	}
	return time.Now().Unix()
}

// chatError is OpenAI's error object, in an error body or a stream chunk.
type chatError struct {
	Message string                 `json:"message"`
	Type    string                 `json:"type"`
	Code    sonic.NoCopyRawMessage `json:"code"`
}

// canon converts e into a canonical error; the status is status when
// known (an HTTP answer), else guessed from the code and type (an error
// inside a stream).
func (e *chatError) canon(status int) canon.Error {
	if status == 0 {
		status = statusFor(e.Type, canon.View(canon.Trim(e.Code)))
	}
	return canon.Error{Status: status, Type: e.Type, Message: e.Message}
}

// statusFor guesses the HTTP status of an error from its OpenAI type or
// code (a JSON string or number).
func statusFor(typ, code string) int {
	if n, err := strconv.Atoi(code); err == nil && n >= 400 && n < 600 {
		return n
	}
	switch typ {
	case "invalid_request_error":
		return 400
	case "authentication_error":
		return 401
	case "permission_error":
		return 403
	case "not_found_error":
		return 404
	case "rate_limit_error", "insufficient_quota":
		return 429
	}
	switch code {
	case `"rate_limit_exceeded"`, `"insufficient_quota"`:
		return 429
	case `"context_length_exceeded"`, `"invalid_api_key"`:
		return 400
	}
	return 500
}

// DecodeError decodes an OpenAI error body ({"error":{...}}) answered
// with status. A body that is not one still gives an error with the
// status and a generic message.
func DecodeError(body []byte, status int) canon.Error {
	var w struct {
		Error *chatError `json:"error"`
	}
	if canon.DecodeLenient(body, &w, "") != nil || w.Error == nil {
		return canon.Error{Status: status, Type: ErrorType(status), Message: "provider answered status " + strconv.Itoa(status)}
	}
	return w.Error.canon(status)
}

// AppendError appends e as an OpenAI error object:
// {"error":{"message":...,"type":...,"param":null,"code":null}}.
func AppendError(dst []byte, e *canon.Error) []byte {
	dst = append(dst, `{"error":{`...)
	dst = canon.AppendStringField(dst, "message", e.Message)
	typ := e.Type
	if !openAIErrorTypes[typ] {
		typ = ErrorType(e.Status)
	}
	dst = canon.AppendStringField(dst, "type", typ)
	return append(dst, `,"param":null,"code":null}}`...)
}

var openAIErrorTypes = map[string]bool{
	"invalid_request_error": true, "authentication_error": true, "permission_error": true,
	"not_found_error": true, "rate_limit_error": true, "insufficient_quota": true,
	"server_error": true,
}

// ErrorType names an error status as OpenAI's APIs (chat completions
// and Responses) do.
func ErrorType(status int) string {
	switch status {
	case 400, 413, 422:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "insufficient_quota"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 429:
		return "rate_limit_error"
	}
	return "server_error"
}
