package anthropic

import (
	"encoding/json"
	"strconv"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// messageResponse is a non-streamed Messages answer, decoded leniently.
type messageResponse struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Model        string      `json:"model"`
	Content      []respBlock `json:"content"`
	StopReason   string      `json:"stop_reason"`
	StopSequence string      `json:"stop_sequence"`
	Usage        usage       `json:"usage"`
	Error        *errorObj   `json:"error"`
}

type respBlock struct {
	Type      string                 `json:"type"`
	Text      string                 `json:"text"`
	ID        string                 `json:"id"`
	Name      string                 `json:"name"`
	Input     sonic.NoCopyRawMessage `json:"input"`
	Thinking  string                 `json:"thinking"`
	Signature string                 `json:"signature"`
	Data      string                 `json:"data"`
}

// usage is Anthropic's usage. A message_delta carries only what
// changed, so an absent field must differ from a 0: the fields are
// json.Number, "" when absent, rather than pointers, which would cost an
// allocation each.
type usage struct {
	InputTokens              json.Number `json:"input_tokens"`
	OutputTokens             json.Number `json:"output_tokens"`
	CacheCreationInputTokens json.Number `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     json.Number `json:"cache_read_input_tokens"`
}

// update sets the fields of c that u carries; a count that is not a
// whole number counts as absent.
func (u *usage) update(c *canon.Usage) {
	for _, f := range [...]struct {
		src json.Number
		dst *int64
	}{
		{u.InputTokens, &c.Input}, {u.OutputTokens, &c.Output},
		{u.CacheCreationInputTokens, &c.CacheWrite}, {u.CacheReadInputTokens, &c.CacheRead},
	} {
		if f.src == "" {
			continue // absent; ParseInt would allocate its error
		}
		if n, err := strconv.ParseInt(string(f.src), 10, 64); err == nil {
			*f.dst = n
		}
	}
}

type errorObj struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// canon converts e, found without an HTTP status (in a stream, or a 200
// answer), into a canonical error with the status its type stands for.
func (e *errorObj) canon() canon.Error {
	status := statusFor(e.Type)
	if status == 0 {
		status = 500
	}
	return canon.Error{Status: status, Type: e.Type, Message: e.Message}
}

// DecodeResponse decodes a non-streamed Messages answer into r, which it
// resets first. An answer holding a block no other format can carry
// (server tool use, web search results) is refused with a
// *canon.FieldError; an error answer is returned as a *canon.Error.
// Strings in r point into body.
func DecodeResponse(body []byte, r *canon.Response) error {
	*r = canon.Response{}
	var w messageResponse
	if err := canon.DecodeLenient(body, &w, ""); err != nil {
		return err
	}
	if w.Type == "error" && w.Error != nil {
		e := w.Error.canon()
		return &e
	}
	r.ID, r.Model, r.StopSequence = w.ID, w.Model, w.StopSequence
	r.StopReason = stopReason(w.StopReason)
	w.Usage.update(&r.Usage)
	r.Content = make([]canon.Block, 0, len(w.Content))
	for j := range w.Content {
		b := &w.Content[j]
		switch b.Type {
		case "text":
			r.Content = append(r.Content, canon.Block{Kind: canon.BlockText, Text: b.Text})
		case "thinking":
			r.Content = append(r.Content, canon.Block{Kind: canon.BlockThinking, Text: b.Thinking, Signature: b.Signature})
		case "redacted_thinking":
			r.Content = append(r.Content, canon.Block{Kind: canon.BlockRedactedThinking, Data: b.Data})
		case "tool_use":
			input := canon.View(canon.Trim(b.Input))
			if input == "" {
				input = "{}"
			}
			r.Content = append(r.Content, canon.Block{Kind: canon.BlockToolUse, ID: b.ID, Name: b.Name, Input: input})
		default:
			return canon.At(canon.Fieldf("type", "%q cannot be translated", b.Type), "content", j)
		}
	}
	return nil
}

// stopReason maps an Anthropic stop_reason to a canonical one: the names
// are the same; an unknown one is end_turn.
func stopReason(s string) canon.StopReason {
	switch r := canon.StopReason(s); r {
	case canon.StopMaxTokens, canon.StopSequence, canon.StopToolUse, canon.StopPauseTurn,
		canon.StopRefusal, canon.StopContextLimit:
		return r
	}
	return canon.StopEndTurn
}

// wireStopReason maps a canonical stop reason to Anthropic's: OpenAI's
// content_filter is a refusal.
func wireStopReason(s canon.StopReason) string {
	switch s {
	case "":
		return string(canon.StopEndTurn)
	case canon.StopContentFilter:
		return string(canon.StopRefusal)
	}
	return string(s)
}

// EncodeResponse appends r as a non-streamed Messages answer to dst.
// Refusal blocks become text and make an end_turn a "refusal"; thinking
// without a signature (from an OpenAI-compatible model) keeps an empty
// one. A tool call whose arguments are not a JSON object (a model's
// malformed output) cannot be represented: EncodeResponse fails with a
// *canon.FieldError and dst unchanged.
func EncodeResponse(dst []byte, r *canon.Response) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '{')
	dst = canon.AppendStringField(dst, "id", r.ID)
	dst = append(dst, `,"type":"message","role":"assistant"`...)
	dst = canon.AppendStringField(dst, "model", r.Model)
	dst = append(canon.AppendKey(dst, "content"), '[')
	stop := r.StopReason
	for j := range r.Content {
		b := &r.Content[j]
		switch b.Kind {
		case canon.BlockText, canon.BlockRefusal:
			if b.Text == "" {
				continue
			}
			if b.Kind == canon.BlockRefusal && (stop == canon.StopEndTurn || stop == "") {
				stop = canon.StopRefusal
			}
			dst = appendText(canon.AppendElem(dst), b.Text, "", "", canon.CacheControl{})
		case canon.BlockThinking:
			dst = append(canon.AppendElem(dst), `{"type":"thinking"`...)
			dst = canon.AppendStringField(dst, "thinking", b.Text)
			dst = append(canon.AppendStringField(dst, "signature", b.Signature), '}')
		case canon.BlockRedactedThinking:
			dst = append(canon.AppendElem(dst), `{"type":"redacted_thinking"`...)
			dst = append(canon.AppendStringField(dst, "data", b.Data), '}')
		case canon.BlockToolUse:
			var err error
			if dst, err = appendBlock(canon.AppendElem(dst), b); err != nil {
				return dst[:start], canon.At(err, "content", j)
			}
		default:
			return dst[:start], canon.At(canon.Fieldf("type", "an answer cannot hold %s", b.Kind), "content", j)
		}
	}
	dst = append(dst, ']')
	dst = canon.AppendStringField(dst, "stop_reason", wireStopReason(stop))
	dst = appendStopSequence(dst, r.StopSequence)
	dst = appendUsage(canon.AppendKey(dst, "usage"), &r.Usage)
	return append(dst, '}'), nil
}

func appendStopSequence(dst []byte, s string) []byte {
	if s == "" {
		return append(canon.AppendKey(dst, "stop_sequence"), "null"...)
	}
	return canon.AppendStringField(dst, "stop_sequence", s)
}

// appendUsage appends u as Anthropic usage: input_tokens exclude the
// cache reads and writes, which have their own fields.
func appendUsage(dst []byte, u *canon.Usage) []byte {
	dst = append(dst, '{')
	dst = canon.AppendIntField(dst, "input_tokens", u.Input)
	dst = canon.AppendIntField(dst, "cache_creation_input_tokens", u.CacheWrite)
	dst = canon.AppendIntField(dst, "cache_read_input_tokens", u.CacheRead)
	dst = canon.AppendIntField(dst, "output_tokens", u.Output)
	return append(dst, '}')
}

// DecodeError decodes an Anthropic error body
// ({"type":"error","error":{...}}) answered with status. A body that is
// not one still gives an error with the status and a generic message.
func DecodeError(body []byte, status int) canon.Error {
	var w struct {
		Error *errorObj `json:"error"`
	}
	if canon.DecodeLenient(body, &w, "") != nil || w.Error == nil {
		return canon.Error{Status: status, Type: errorType(status), Message: "provider answered status " + strconv.Itoa(status)}
	}
	return canon.Error{Status: status, Type: w.Error.Type, Message: w.Error.Message}
}

// AppendError appends e as an Anthropic error object:
// {"type":"error","error":{"type":...,"message":...}}. A type that is not
// Anthropic's is replaced by the one for e.Status.
func AppendError(dst []byte, e *canon.Error) []byte {
	typ := e.Type
	if statusFor(typ) == 0 {
		typ = errorType(e.Status)
	}
	dst = append(dst, `{"type":"error","error":{`...)
	dst = canon.AppendStringField(dst, "type", typ)
	dst = canon.AppendStringField(dst, "message", e.Message)
	return append(dst, '}', '}')
}

// errorTypes are Anthropic's error types and their statuses.
var errorTypes = [...]struct {
	typ    string
	status int
}{
	{"invalid_request_error", 400},
	{"authentication_error", 401},
	{"billing_error", 402},
	{"permission_error", 403},
	{"not_found_error", 404},
	{"request_too_large", 413},
	{"rate_limit_error", 429},
	{"api_error", 500},
	{"timeout_error", 504},
	{"overloaded_error", 529},
}

// statusFor returns the status of an Anthropic error type, 0 for a type
// that is not Anthropic's.
func statusFor(typ string) int {
	for _, e := range errorTypes {
		if e.typ == typ {
			return e.status
		}
	}
	return 0
}

// errorType returns the Anthropic error type for an HTTP status.
func errorType(status int) string {
	switch status {
	case 422:
		return "invalid_request_error"
	case 503:
		return "overloaded_error"
	}
	for _, e := range errorTypes {
		if e.status == status {
			return e.typ
		}
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}
