package responses

import (
	"strconv"
	"time"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// respObject is a Response object, as answered or as carried by the
// stream's response.* events.
type respObject struct {
	ID                string           `json:"id"`
	CreatedAt         int64            `json:"created_at"`
	Status            string           `json:"status"`
	Model             string           `json:"model"`
	Output            []respOutputItem `json:"output"`
	Usage             *respUsage       `json:"usage"`
	Error             *respError       `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
}

type respOutputItem struct {
	Type             string        `json:"type"`
	ID               string        `json:"id"`
	Role             string        `json:"role"`
	Content          []respOutPart `json:"content"`
	CallID           string        `json:"call_id"`
	Name             string        `json:"name"`
	Arguments        string        `json:"arguments"`
	Summary          []respSummary `json:"summary"`
	EncryptedContent *string       `json:"encrypted_content"`
}

type respOutPart struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Refusal string `json:"refusal"`
}

type respUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// canon converts u: input_tokens include the cached ones, canon's Input
// does not.
func (u *respUsage) canon() canon.Usage {
	cached := min(u.InputTokensDetails.CachedTokens, u.InputTokens)
	return canon.Usage{Input: u.InputTokens - cached, CacheRead: cached, Output: u.OutputTokens, Reasoning: u.OutputTokensDetails.ReasoningTokens}
}

type respError struct {
	Code    sonic.NoCopyRawMessage `json:"code"`
	Message string                 `json:"message"`
	Type    string                 `json:"type"`
}

// DecodeResponse decodes a Response object into r, which it resets
// first. Message items become text and refusal blocks, function_call
// items tool-use blocks (call_id is the id), reasoning items thinking
// blocks (summary parts joined by a blank line as the text, the item id
// as ID, encrypted_content as Signature, byte for byte). Strings in r
// point into body.
func DecodeResponse(body []byte, r *canon.Response) error {
	*r = canon.Response{}
	var w respObject
	if err := canon.DecodeLenient(body, &w, ""); err != nil {
		return err
	}
	return fromObject(&w, r)
}

func fromObject(w *respObject, r *canon.Response) error {
	r.ID, r.Model, r.Created = w.ID, w.Model, w.CreatedAt
	calls := false
	for i := range w.Output {
		it := &w.Output[i]
		switch it.Type {
		case "message":
			for j := range it.Content {
				p := &it.Content[j]
				switch p.Type {
				case "output_text":
					r.Content = append(r.Content, canon.Block{Kind: canon.BlockText, Text: p.Text})
				case "refusal":
					r.Content = append(r.Content, canon.Block{Kind: canon.BlockRefusal, Text: p.Refusal})
				}
			}
		case "function_call":
			calls = true
			r.Content = append(r.Content, canon.Block{Kind: canon.BlockToolUse, ID: it.CallID, Name: it.Name, Input: it.Arguments})
		case "reasoning":
			b := canon.Block{Kind: canon.BlockThinking, ID: it.ID, Text: joinSummary(it.Summary)}
			if it.EncryptedContent != nil {
				b.Signature = *it.EncryptedContent
			}
			r.Content = append(r.Content, b)
		default:
			return canon.At(canon.Fieldf("type", "output item %q cannot be translated", it.Type), "output", i)
		}
	}
	r.StopReason = stopReason(w, calls)
	if w.Usage != nil {
		r.Usage = w.Usage.canon()
	}
	return nil
}

// stopReason maps a Response's status: completed is end_turn (tool_use
// when it holds calls), incomplete for max_output_tokens is max_tokens,
// for content_filter content_filter.
func stopReason(w *respObject, calls bool) canon.StopReason {
	if w.Status == "incomplete" && w.IncompleteDetails != nil {
		switch w.IncompleteDetails.Reason {
		case "max_output_tokens":
			return canon.StopMaxTokens
		case "content_filter":
			return canon.StopContentFilter
		}
	}
	if calls {
		return canon.StopToolUse
	}
	return canon.StopEndTurn
}

// status returns a Response's status and incomplete reason for s.
func status(s canon.StopReason) (string, string) {
	switch s {
	case canon.StopMaxTokens, canon.StopContextLimit:
		return "incomplete", "max_output_tokens"
	case canon.StopContentFilter:
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// EncodeResponse appends r as a Response object to dst. Consecutive
// text and refusal blocks make one message item; item ids derive from
// the response id. It fails only on a block an answer cannot hold.
func EncodeResponse(dst []byte, r *canon.Response) ([]byte, error) {
	start := len(dst)
	st, reason := status(r.StopReason)
	dst = appendObjectHead(dst, r.ID, r.Model, created(r.Created), st)
	dst = append(dst, `,"output":[`...)
	for i := 0; i < len(r.Content); {
		b := &r.Content[i]
		dst = canon.AppendElem(dst)
		switch b.Kind {
		case canon.BlockThinking:
			id := b.ID
			if id == "" {
				id = itemID("rs_", r.ID, i)
			}
			dst = appendReasoningItem(dst, id, b.Text, b.Signature)
		case canon.BlockToolUse:
			dst = appendFunctionCall(dst, itemID("fc_", r.ID, i), b.ID, b.Name, b.Input, "completed")
		case canon.BlockText, canon.BlockRefusal:
			dst = append(dst, `{"type":"message"`...)
			dst = canon.AppendStringField(dst, "id", itemID("msg_", r.ID, i))
			dst = append(dst, `,"status":"completed","role":"assistant","content":[`...)
			for ; i < len(r.Content) && (r.Content[i].Kind == canon.BlockText || r.Content[i].Kind == canon.BlockRefusal); i++ {
				dst = appendOutputPart(canon.AppendElem(dst), &r.Content[i])
			}
			dst = append(dst, ']', '}')
			continue
		default:
			return dst[:start], canon.At(canon.Fieldf("type", "an answer cannot hold %s", b.Kind), "content", i)
		}
		i++
	}
	dst = append(dst, ']')
	return appendObjectTail(dst, reason, &r.Usage, true), nil
}

// appendObjectHead writes a Response object up to its status.
func appendObjectHead(dst []byte, id, model string, createdAt int64, st string) []byte {
	dst = append(dst, `{"id":`...)
	if id == "" {
		id = "resp_switchboard"
	}
	dst = canon.AppendString(dst, id)
	dst = append(dst, `,"object":"response"`...)
	dst = canon.AppendIntField(dst, "created_at", createdAt)
	dst = canon.AppendStringField(dst, "status", st)
	return canon.AppendStringField(dst, "model", model)
}

// appendObjectTail writes what follows "output": incomplete_details,
// usage (null unless withUsage) and the closing brace.
func appendObjectTail(dst []byte, reason string, u *canon.Usage, withUsage bool) []byte {
	dst = canon.AppendKey(dst, "incomplete_details")
	if reason != "" {
		dst = append(canon.AppendStringField(append(dst, '{'), "reason", reason), '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = canon.AppendKey(dst, "usage")
	if !withUsage {
		return append(dst, "null}"...)
	}
	return append(appendUsage(dst, u), '}')
}

func appendUsage(dst []byte, u *canon.Usage) []byte {
	in := u.Prompt()
	dst = canon.AppendIntField(append(dst, '{'), "input_tokens", in)
	dst = append(canon.AppendKey(dst, "input_tokens_details"), '{')
	dst = append(canon.AppendIntField(dst, "cached_tokens", u.CacheRead), '}')
	dst = canon.AppendIntField(dst, "output_tokens", u.Output)
	dst = append(canon.AppendKey(dst, "output_tokens_details"), '{')
	dst = append(canon.AppendIntField(dst, "reasoning_tokens", u.Reasoning), '}')
	dst = canon.AppendIntField(dst, "total_tokens", in+u.Output)
	return append(dst, '}')
}

// itemID makes an output item's id from the response's: prefix, the
// response id without its "resp_", the item's index.
func itemID(prefix, respID string, i int) string {
	if len(respID) > 5 && respID[:5] == "resp_" {
		respID = respID[5:]
	}
	return prefix + respID + "_" + strconv.Itoa(i)
}

func created(t int64) int64 {
	if t != 0 {
		return t
	}
	return time.Now().Unix()
}

// DecodeError decodes an OpenAI error body ({"error":{...}}) answered
// with status. A body that is not one still gives an error with the
// status and a generic message.
func DecodeError(body []byte, status int) canon.Error {
	var w struct {
		Error *respError `json:"error"`
	}
	if canon.DecodeLenient(body, &w, "") != nil || w.Error == nil {
		return canon.Error{Status: status, Type: openai.ErrorType(status), Message: "provider answered status " + strconv.Itoa(status)}
	}
	return w.Error.canon(status)
}

func (e *respError) canon(status int) canon.Error {
	typ := e.Type
	code := canon.View(canon.Trim(e.Code))
	if typ == "" && len(code) > 1 && code[0] == '"' {
		typ = code[1 : len(code)-1]
	}
	if status == 0 {
		status = statusFor(typ, code)
	}
	return canon.Error{Status: status, Type: typ, Message: e.Message}
}

func statusFor(typ, code string) int {
	if n, err := strconv.Atoi(code); err == nil && n >= 400 && n < 600 {
		return n
	}
	switch typ {
	case "invalid_request_error", "invalid_prompt", "context_length_exceeded":
		return 400
	case "authentication_error", "invalid_api_key":
		return 401
	case "permission_error":
		return 403
	case "not_found_error":
		return 404
	case "rate_limit_error", "rate_limit_exceeded", "insufficient_quota":
		return 429
	case "server_is_overloaded", "slow_down":
		return 503
	}
	return 500
}

// AppendError appends e as an OpenAI error body:
// {"error":{"message":...,"type":...,"param":null,"code":null}}.
func AppendError(dst []byte, e *canon.Error) []byte {
	dst = append(dst, `{"error":{`...)
	dst = canon.AppendStringField(dst, "message", e.Message)
	dst = canon.AppendStringField(dst, "type", wireErrorType(e))
	return append(dst, `,"param":null,"code":null}}`...)
}

func wireErrorType(e *canon.Error) string {
	if openAIErrorTypes[e.Type] {
		return e.Type
	}
	return openai.ErrorType(e.Status)
}

var openAIErrorTypes = map[string]bool{
	"invalid_request_error": true, "authentication_error": true, "permission_error": true,
	"not_found_error": true, "rate_limit_error": true, "insufficient_quota": true,
	"server_error": true,
}
