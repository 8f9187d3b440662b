package gemini

import (
	"strconv"
	"strings"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// generateResponse is a GenerateContentResponse, whole or one streamed
// chunk, decoded leniently.
type generateResponse struct {
	Candidates     []candidate `json:"candidates"`
	PromptFeedback struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata usageMetadata `json:"usageMetadata"`
	ModelVersion  string        `json:"modelVersion"`
	ResponseID    string        `json:"responseId"`
	Error         *errorObj     `json:"error"`
}

type candidate struct {
	Content struct {
		Parts []respPart `json:"parts"`
	} `json:"content"`
	FinishReason string `json:"finishReason"`
}

type respPart struct {
	// Text is raw (see canon.Unescaper): stream deltas nearly always
	// hold escapes.
	Text             sonic.NoCopyRawMessage `json:"text"`
	Thought          bool                   `json:"thought"`
	ThoughtSignature string                 `json:"thoughtSignature"`
	FunctionCall     *functionCall          `json:"functionCall"`
	InlineData       *blob                  `json:"inlineData"`
	ExecutableCode   sonic.NoCopyRawMessage `json:"executableCode"`
}

// usageMetadata is Gemini's usage: promptTokenCount includes the cached
// tokens, candidatesTokenCount excludes the thoughts.
type usageMetadata struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
}

func (u *usageMetadata) canon() canon.Usage {
	prompt := u.PromptTokenCount + u.ToolUsePromptTokenCount
	cached := min(u.CachedContentTokenCount, prompt)
	return canon.Usage{Input: prompt - cached, CacheRead: cached,
		Output: u.CandidatesTokenCount + u.ThoughtsTokenCount, Reasoning: u.ThoughtsTokenCount}
}

type errorObj struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

func (e *errorObj) canon(status int) canon.Error {
	if e.Code != 0 {
		status = e.Code
	}
	if status == 0 {
		status = statusFor(e.Status)
	}
	if status == 0 {
		status = 500
	}
	typ := e.Status
	if typ == "" {
		typ = errorStatus(status)
	}
	return canon.Error{Status: status, Type: typ, Message: e.Message}
}

// DecodeResponse decodes a non-streamed GenerateContentResponse into r,
// which it resets first. Only the first candidate is read. Function
// calls get the ids "call_0", "call_1", ... in order (Gemini has none);
// a thoughtSignature on a part that is not a thought becomes a thinking
// block with empty text before that part's block, as in DecodeRequest.
// The stop reason is tool_use when the answer holds a call. A prompt
// blocked by promptFeedback is an empty answer stopped for
// content_filter. An answer holding a part no other format can carry
// (code execution, images) is refused with a *canon.FieldError; an error
// answer is returned as a *canon.Error. Strings in r point into body.
func DecodeResponse(body []byte, r *canon.Response) error {
	*r = canon.Response{}
	var w generateResponse
	if err := canon.DecodeLenient(body, &w, ""); err != nil {
		return err
	}
	if w.Error != nil {
		e := w.Error.canon(0)
		return &e
	}
	r.ID, r.Model = w.ResponseID, w.ModelVersion
	r.Usage = w.UsageMetadata.canon()
	if len(w.Candidates) == 0 {
		r.StopReason = canon.StopEndTurn
		if w.PromptFeedback.BlockReason != "" {
			r.StopReason = canon.StopContentFilter
		}
		return nil
	}
	c := &w.Candidates[0]
	var text canon.Unescaper
	calls := 0
	r.Content = make([]canon.Block, 0, len(c.Content.Parts))
	for j := range c.Content.Parts {
		p := &c.Content.Parts[j]
		s, err := text.String(p.Text)
		if err != nil {
			return canon.Fieldf("candidates[0].content.parts["+strconv.Itoa(j)+"].text", "%v", err)
		}
		switch {
		case p.Thought:
			r.Content = append(r.Content, canon.Block{Kind: canon.BlockThinking, Text: s, Signature: p.ThoughtSignature})
			continue
		case p.ThoughtSignature != "":
			r.Content = append(r.Content, canon.Block{Kind: canon.BlockThinking, Signature: p.ThoughtSignature})
		}
		switch {
		case p.FunctionCall != nil:
			r.Content = append(r.Content, toolUse(p.FunctionCall, calls))
			calls++
		case p.InlineData != nil:
			return canon.Fieldf("candidates[0].content.parts["+strconv.Itoa(j)+"].inlineData", "generated media cannot be translated")
		case !canon.IsNull(p.ExecutableCode):
			return canon.Fieldf("candidates[0].content.parts["+strconv.Itoa(j)+"].executableCode", "code execution cannot be translated")
		case p.Text != nil && s != "":
			r.Content = append(r.Content, canon.Block{Kind: canon.BlockText, Text: s})
		}
	}
	r.StopReason = stopReason(c.FinishReason, calls > 0)
	return nil
}

// toolUse returns the tool-use block of the n-th function call of an
// answer.
func toolUse(f *functionCall, n int) canon.Block {
	id := f.ID
	if id == "" {
		id = "call_" + strconv.Itoa(n)
	}
	input := canon.View(canon.Trim(f.Args))
	if canon.IsNull(canon.Trim(f.Args)) {
		input = "{}"
	}
	return canon.Block{Kind: canon.BlockToolUse, ID: id, Name: f.Name, Input: input}
}

// stopReason maps a Gemini finishReason to a canonical one: STOP is
// tool_use when the answer holds a function call; the safety reasons
// (SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII,
// IMAGE_SAFETY, LANGUAGE) are content_filter; anything else is
// end_turn.
func stopReason(s string, calls bool) canon.StopReason {
	switch s {
	case "MAX_TOKENS":
		return canon.StopMaxTokens
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE":
		return canon.StopContentFilter
	}
	if calls {
		return canon.StopToolUse
	}
	return canon.StopEndTurn
}

// finishReason maps a canonical stop reason to Gemini's finishReason.
func finishReason(s canon.StopReason) string {
	switch s {
	case canon.StopMaxTokens, canon.StopContextLimit:
		return "MAX_TOKENS"
	case canon.StopContentFilter, canon.StopRefusal:
		return "SAFETY"
	}
	return "STOP"
}

// EncodeResponse appends r as a GenerateContentResponse to dst: one
// candidate whose parts are r's blocks (thinking as thought parts,
// tool uses as functionCall parts, call ids dropped), finishReason,
// usageMetadata, modelVersion and responseId. On error (arguments that
// are not a JSON object) dst is returned unchanged.
func EncodeResponse(dst []byte, r *canon.Response) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `{"candidates":[{"content":{"parts":[`...)
	sig := ""
	for j := range r.Content {
		b := &r.Content[j]
		switch b.Kind {
		case canon.BlockThinking:
			if b.Text == "" && b.Signature != "" && j+1 < len(r.Content) && r.Content[j+1].Kind != canon.BlockThinking {
				sig = b.Signature
				continue
			}
			dst = appendTextPart(canon.AppendElem(dst), b.Text, true, b.Signature)
			continue
		case canon.BlockRedactedThinking:
			continue
		case canon.BlockText, canon.BlockRefusal:
			dst = append(canon.AppendElem(dst), '{')
			dst = canon.AppendStringField(dst, "text", b.Text)
		case canon.BlockToolUse:
			var err error
			if dst, err = appendCall(append(canon.AppendElem(dst), '{'), b.Name, b.Input); err != nil {
				return dst[:start], canon.At(err, "content", j)
			}
		default:
			return dst[:start], canon.Fieldf("content["+strconv.Itoa(j)+"]", "a %s block cannot be sent to Gemini", b.Kind)
		}
		if sig != "" {
			dst = canon.AppendStringField(dst, "thoughtSignature", sig)
			sig = ""
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"role":"model"}`...)
	dst = canon.AppendStringField(dst, "finishReason", finishReason(r.StopReason))
	dst = append(dst, `,"index":0}]`...)
	dst = appendUsage(canon.AppendKey(dst, "usageMetadata"), &r.Usage)
	dst = canon.AppendStringField(dst, "modelVersion", r.Model)
	dst = canon.AppendStringField(dst, "responseId", r.ID)
	return append(dst, '}'), nil
}

// appendCall appends the "functionCall" member of a part.
func appendCall(dst []byte, name, args string) ([]byte, error) {
	if strings.TrimSpace(args) == "" {
		args = "{}"
	}
	if !canon.IsObject(args) {
		return dst, canon.Fieldf("input", "Gemini wants the arguments as a JSON object")
	}
	dst = append(canon.AppendKey(dst, "functionCall"), '{')
	dst = canon.AppendStringField(dst, "name", name)
	return append(canon.AppendRawField(dst, "args", args), '}'), nil
}

// appendUsage appends a UsageMetadata object: the prompt counts cached
// tokens (reads and writes), the candidates exclude the thoughts.
func appendUsage(dst []byte, u *canon.Usage) []byte {
	dst = append(dst, '{')
	dst = canon.AppendIntField(dst, "promptTokenCount", u.Prompt())
	dst = canon.AppendIntField(dst, "candidatesTokenCount", u.Output-u.Reasoning)
	dst = canon.AppendIntField(dst, "totalTokenCount", u.Prompt()+u.Output)
	if u.CacheRead > 0 {
		dst = canon.AppendIntField(dst, "cachedContentTokenCount", u.CacheRead)
	}
	if u.Reasoning > 0 {
		dst = canon.AppendIntField(dst, "thoughtsTokenCount", u.Reasoning)
	}
	return append(dst, '}')
}

// DecodeError decodes a Google error body ({"error":{"code":N,
// "message":...,"status":"INVALID_ARGUMENT"}}, or an array holding one,
// as streamGenerateContent without alt=sse answers) answered with
// status. Type is the Google status name. A body that is not one still
// gives an error with the status and a generic message.
func DecodeError(body []byte, status int) canon.Error {
	body = canon.Trim(body)
	if len(body) > 1 && body[0] == '[' && body[len(body)-1] == ']' {
		body = body[1 : len(body)-1]
	}
	var w struct {
		Error *errorObj `json:"error"`
	}
	if canon.DecodeLenient(body, &w, "") != nil || w.Error == nil {
		return canon.Error{Status: status, Type: errorStatus(status), Message: "provider answered status " + strconv.Itoa(status)}
	}
	e := w.Error.canon(status)
	e.Status = status
	return e
}

// AppendError appends e as a Google error object:
// {"error":{"code":N,"message":...,"status":...}}. A type that is not a
// Google status name is replaced by the one for e.Status, and the code is
// that status's HTTP code (an Anthropic 529 is 503 UNAVAILABLE).
func AppendError(dst []byte, e *canon.Error) []byte {
	typ := e.Type
	code := statusFor(typ)
	if code == 0 {
		typ = errorStatus(e.Status)
		code = statusFor(typ)
	}
	dst = append(dst, `{"error":{`...)
	dst = canon.AppendIntField(dst, "code", int64(code))
	dst = canon.AppendStringField(dst, "message", e.Message)
	dst = canon.AppendStringField(dst, "status", typ)
	return append(dst, '}', '}')
}

// errorStatuses are Google's status names and their HTTP codes.
var errorStatuses = [...]struct {
	status string
	code   int
}{
	{"INVALID_ARGUMENT", 400},
	{"FAILED_PRECONDITION", 400},
	{"OUT_OF_RANGE", 400},
	{"UNAUTHENTICATED", 401},
	{"PERMISSION_DENIED", 403},
	{"NOT_FOUND", 404},
	{"ABORTED", 409},
	{"ALREADY_EXISTS", 409},
	{"RESOURCE_EXHAUSTED", 429},
	{"CANCELLED", 499},
	{"INTERNAL", 500},
	{"UNKNOWN", 500},
	{"DATA_LOSS", 500},
	{"UNIMPLEMENTED", 501},
	{"UNAVAILABLE", 503},
	{"DEADLINE_EXCEEDED", 504},
}

// statusFor returns the HTTP code of a Google status name, 0 for a name
// that is not Google's.
func statusFor(name string) int {
	for _, e := range errorStatuses {
		if e.status == name {
			return e.code
		}
	}
	return 0
}

// errorStatus returns the Google status name for an HTTP status.
func errorStatus(status int) string {
	switch status {
	case 402, 413, 422:
		return "INVALID_ARGUMENT"
	case 529:
		return "UNAVAILABLE"
	}
	for _, e := range errorStatuses {
		if e.code == status {
			return e.status
		}
	}
	if status >= 400 && status < 500 {
		return "INVALID_ARGUMENT"
	}
	return "INTERNAL"
}
