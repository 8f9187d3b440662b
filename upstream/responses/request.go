package responses

import (
	"strconv"
	"strings"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// respRequest is a Responses request as clients send it. Every field a
// client may send is declared: the ones that translate, the ones refused
// when set and the hints accepted and listed in Request.Ignored. Anything
// else is an unknown field and refused by the strict decoder.
type respRequest struct {
	Model             string                 `json:"model"`
	Input             sonic.NoCopyRawMessage `json:"input"`
	Instructions      *string                `json:"instructions"`
	Tools             []respTool             `json:"tools"`
	ToolChoice        sonic.NoCopyRawMessage `json:"tool_choice"`
	ParallelToolCalls *bool                  `json:"parallel_tool_calls"`
	MaxOutputTokens   *int64                 `json:"max_output_tokens"`
	Temperature       *float64               `json:"temperature"`
	TopP              *float64               `json:"top_p"`
	Text              *struct {
		Format    *respFormat            `json:"format"`
		Verbosity sonic.NoCopyRawMessage `json:"verbosity"`
	} `json:"text"`
	Reasoning *struct {
		Effort          string                 `json:"effort"`
		Summary         sonic.NoCopyRawMessage `json:"summary"`
		GenerateSummary sonic.NoCopyRawMessage `json:"generate_summary"`
	} `json:"reasoning"`
	Include          []string `json:"include"`
	Stream           bool     `json:"stream"`
	User             string   `json:"user"`
	SafetyIdentifier string   `json:"safety_identifier"`

	// Refused when set: they need state kept by the provider or have no
	// equivalent elsewhere.
	PreviousResponseID sonic.NoCopyRawMessage `json:"previous_response_id"`
	Conversation       sonic.NoCopyRawMessage `json:"conversation"`
	Background         *bool                  `json:"background"`
	Prompt             sonic.NoCopyRawMessage `json:"prompt"`
	TopLogprobs        sonic.NoCopyRawMessage `json:"top_logprobs"`
	MaxToolCalls       sonic.NoCopyRawMessage `json:"max_tool_calls"`

	// Hints: accepted, reported in Request.Ignored, never translated.
	Store                sonic.NoCopyRawMessage `json:"store"`
	ClientMetadata       sonic.NoCopyRawMessage `json:"client_metadata"`
	Metadata             sonic.NoCopyRawMessage `json:"metadata"`
	ServiceTier          sonic.NoCopyRawMessage `json:"service_tier"`
	PromptCacheKey       sonic.NoCopyRawMessage `json:"prompt_cache_key"`
	PromptCacheRetention sonic.NoCopyRawMessage `json:"prompt_cache_retention"`
	Truncation           sonic.NoCopyRawMessage `json:"truncation"`
	StreamOptions        sonic.NoCopyRawMessage `json:"stream_options"`
}

type respFormat struct {
	Type        string                 `json:"type"`
	Name        string                 `json:"name"`
	Description string                 `json:"description"`
	Schema      sonic.NoCopyRawMessage `json:"schema"`
	Strict      *bool                  `json:"strict"`
}

type respTool struct {
	Type        string                 `json:"type"`
	Name        string                 `json:"name"`
	Description string                 `json:"description"`
	Parameters  sonic.NoCopyRawMessage `json:"parameters"`
	Strict      *bool                  `json:"strict"`

	// Options of the tools left out for other providers (see
	// droppedTools): accepted so that they can be named.
	Tools             sonic.NoCopyRawMessage `json:"tools"`
	ExternalWebAccess sonic.NoCopyRawMessage `json:"external_web_access"`
	SearchContextSize sonic.NoCopyRawMessage `json:"search_context_size"`
	UserLocation      sonic.NoCopyRawMessage `json:"user_location"`
	Filters           sonic.NoCopyRawMessage `json:"filters"`
	Execution         sonic.NoCopyRawMessage `json:"execution"`
}

// droppedTools are the tool types another provider gets no counterpart
// of and the request is still whole without: OpenAI's hosted web search,
// and tool search and namespaces (groups of functions Codex offers for
// sub-agents). They are left out and listed in Request.Ignored, so that
// Codex can drive any model; a client that needs them keeps an OpenAI
// model.
var droppedTools = map[string]bool{
	"web_search": true, "web_search_preview": true, "tool_search": true, "namespace": true,
}

// respItem is one input item: a message (with or without "type"), a
// function_call, a function_call_output or a reasoning item.
type respItem struct {
	Type             string                 `json:"type"`
	ID               string                 `json:"id"`
	Role             string                 `json:"role"`
	Status           string                 `json:"status"`
	Content          sonic.NoCopyRawMessage `json:"content"`
	CallID           string                 `json:"call_id"`
	Name             string                 `json:"name"`
	Arguments        string                 `json:"arguments"`
	Output           sonic.NoCopyRawMessage `json:"output"`
	Summary          []respSummary          `json:"summary"`
	EncryptedContent *string                `json:"encrypted_content"`
}

type respSummary struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type respPart struct {
	Type        string                 `json:"type"`
	Text        string                 `json:"text"`
	Refusal     string                 `json:"refusal"`
	ImageURL    string                 `json:"image_url"`
	FileID      string                 `json:"file_id"`
	Detail      string                 `json:"detail"`
	FileData    string                 `json:"file_data"`
	FileURL     string                 `json:"file_url"`
	Filename    string                 `json:"filename"`
	Annotations sonic.NoCopyRawMessage `json:"annotations"`
	Logprobs    sonic.NoCopyRawMessage `json:"logprobs"`
}

// includeEncrypted is the only include value that translates: it asks
// for the reasoning's encrypted content, which this codec always keeps.
const includeEncrypted = "reasoning.encrypted_content"

// DecodeRequest decodes a Responses request body into r, which it resets
// first. It refuses, with a *canon.FieldError naming the field, what
// cannot be translated statelessly (previous_response_id, conversation,
// background, prompt), built-in tools, and any unknown field. Strings in
// r point into body.
func DecodeRequest(body []byte, r *canon.Request) error {
	*r = canon.Request{}
	var w respRequest
	if err := canon.DecodeStrict(body, &w, ""); err != nil {
		return err
	}
	if err := refuseRequestFields(&w); err != nil {
		return err
	}
	r.Ignored = appendIgnored(r.Ignored, &w)
	r.Model = w.Model
	if w.Instructions != nil && *w.Instructions != "" {
		r.System = []canon.Block{{Kind: canon.BlockText, Text: *w.Instructions}}
	}
	if err := decodeInput(w.Input, r); err != nil {
		return err
	}
	if w.MaxOutputTokens != nil {
		r.MaxTokens = *w.MaxOutputTokens
	}
	r.Temperature, r.TopP = w.Temperature, w.TopP
	r.Stream = w.Stream
	// A Responses stream always ends with the usage.
	r.IncludeUsage = w.Stream
	if len(w.Tools) > 0 {
		r.Tools = make([]canon.Tool, 0, len(w.Tools))
		for i := range w.Tools {
			wt := &w.Tools[i]
			if droppedTools[wt.Type] {
				r.Ignored = append(r.Ignored, "tools["+strconv.Itoa(i)+"] ("+wt.Type+")")
				continue
			}
			var t canon.Tool
			if err := decodeTool(wt, &t); err != nil {
				return canon.At(err, "tools", i)
			}
			r.Tools = append(r.Tools, t)
		}
	}
	var err error
	if r.ToolChoice, err = decodeToolChoice(w.ToolChoice); err != nil {
		return err
	}
	r.ParallelToolCalls = w.ParallelToolCalls
	if w.Text != nil && w.Text.Format != nil {
		f := w.Text.Format
		switch f.Type {
		case "text", "json_object":
			r.ResponseFormat.Type = f.Type
		case "json_schema":
			r.ResponseFormat = canon.ResponseFormat{Type: f.Type, Name: f.Name, Description: f.Description, Strict: f.Strict}
			if !canon.IsNull(f.Schema) {
				r.ResponseFormat.Schema = canon.View(canon.Trim(f.Schema))
			}
		default:
			return canon.Fieldf("text.format.type", "unknown value %q", f.Type)
		}
	}
	if w.Reasoning != nil {
		r.Reasoning.SetEffort(w.Reasoning.Effort)
	}
	r.User = w.User
	if r.User == "" {
		r.User = w.SafetyIdentifier
	}
	return nil
}

func refuseRequestFields(w *respRequest) error {
	switch {
	case !canon.IsNull(w.PreviousResponseID) && string(canon.Trim(w.PreviousResponseID)) != `""`:
		return canon.Fieldf("previous_response_id", "needs the provider's stored conversation; cannot be translated statelessly, send the whole input")
	case !canon.IsNull(w.Conversation):
		return canon.Fieldf("conversation", "needs the provider's stored conversation; cannot be translated statelessly")
	case w.Background != nil && *w.Background:
		return canon.Fieldf("background", "background responses cannot be translated")
	case !canon.IsNull(w.Prompt):
		return canon.Fieldf("prompt", "stored prompt templates cannot be translated")
	case !canon.IsNull(w.TopLogprobs) && string(canon.Trim(w.TopLogprobs)) != "0":
		return canon.Fieldf("top_logprobs", "log probabilities cannot be translated")
	case !canon.IsNull(w.MaxToolCalls):
		return canon.Fieldf("max_tool_calls", "no equivalent in the target format")
	}
	for i, inc := range w.Include {
		if inc != includeEncrypted {
			return canon.At(canon.Fieldf("", "only %q can be translated, got %q", includeEncrypted, inc), "include", i)
		}
	}
	return nil
}

func appendIgnored(dst []string, w *respRequest) []string {
	hints := [...]struct {
		name string
		raw  []byte
	}{
		{"store", w.Store}, {"client_metadata", w.ClientMetadata}, {"metadata", w.Metadata}, {"service_tier", w.ServiceTier},
		{"prompt_cache_key", w.PromptCacheKey}, {"prompt_cache_retention", w.PromptCacheRetention},
		{"truncation", w.Truncation}, {"stream_options", w.StreamOptions},
	}
	for _, h := range hints {
		if !canon.IsNull(h.raw) {
			dst = append(dst, h.name)
		}
	}
	if w.Text != nil && !canon.IsNull(w.Text.Verbosity) {
		dst = append(dst, "text.verbosity")
	}
	if w.Reasoning != nil {
		if !canon.IsNull(w.Reasoning.Summary) {
			dst = append(dst, "reasoning.summary")
		}
		if !canon.IsNull(w.Reasoning.GenerateSummary) {
			dst = append(dst, "reasoning.generate_summary")
		}
	}
	return dst
}

// decodeInput decodes "input": a string (one user message) or an array
// of items. Consecutive assistant-side items (assistant messages,
// function_call and reasoning items) make one assistant message, so
// that reasoning stays with the calls it led to; consecutive
// function_call_output items make one user message of tool results.
func decodeInput(raw []byte, r *canon.Request) error {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return canon.Fieldf("input", "required")
	}
	if raw[0] == '"' {
		s, err := canon.DecodeString(raw)
		if err != nil {
			return canon.Fieldf("input", "%v", err)
		}
		r.Messages = []canon.Message{{Role: canon.RoleUser, Content: []canon.Block{{Kind: canon.BlockText, Text: s}}}}
		return nil
	}
	var items []respItem
	if err := canon.DecodeStrict(raw, &items, "input"); err != nil {
		return err
	}
	if len(items) == 0 {
		return canon.Fieldf("input", "want at least one item")
	}
	r.Messages = make([]canon.Message, 0, len(items))
	blocks := make([]canon.Block, 0, 2*len(items))
	var parts []respPart
	// kind of the message being built: 0 none, 'a' assistant, 't' tool results.
	var open byte
	start := 0
	flush := func() {
		if open != 0 {
			r.Messages[len(r.Messages)-1].Content = blocks[start:len(blocks):len(blocks)]
			open = 0
		}
	}
	begin := func(k byte, role canon.Role) {
		if open == k {
			return
		}
		flush()
		open, start = k, len(blocks)
		r.Messages = append(r.Messages, canon.Message{Role: role})
	}
	for i := range items {
		it := &items[i]
		var err error
		switch it.Type {
		case "", "message":
			switch it.Role {
			case "assistant":
				begin('a', canon.RoleAssistant)
				blocks, err = decodeContent(blocks, &parts, it.Content, false, true)
			case "user", "system", "developer":
				flush()
				from := len(blocks)
				blocks, err = decodeContent(blocks, &parts, it.Content, it.Role == "user", false)
				r.Messages = append(r.Messages, canon.Message{Role: canon.Role(it.Role), Content: blocks[from:len(blocks):len(blocks)]})
			default:
				err = canon.Fieldf("role", "unknown role %q", it.Role)
			}
		case "function_call":
			begin('a', canon.RoleAssistant)
			if it.CallID == "" {
				err = canon.Fieldf("call_id", "required")
			}
			blocks = append(blocks, canon.Block{Kind: canon.BlockToolUse, ID: it.CallID, Name: it.Name, Input: it.Arguments})
		case "reasoning":
			begin('a', canon.RoleAssistant)
			b := canon.Block{Kind: canon.BlockThinking, ID: it.ID, Text: joinSummary(it.Summary)}
			if it.EncryptedContent != nil {
				b.Signature = *it.EncryptedContent
			}
			blocks = append(blocks, b)
		case "function_call_output":
			begin('t', canon.RoleUser)
			if it.CallID == "" {
				err = canon.Fieldf("call_id", "required")
				break
			}
			var content []canon.Block
			content, err = decodeOutput(&parts, it.Output)
			blocks = append(blocks, canon.Block{Kind: canon.BlockToolResult, ID: it.CallID, Content: content})
		case "item_reference":
			err = canon.Fieldf("type", "item references need the provider's stored items; cannot be translated statelessly")
		default:
			err = canon.Fieldf("type", "only message, function_call, function_call_output and reasoning items can be translated, got %q", it.Type)
		}
		if err != nil {
			return canon.At(err, "input", i)
		}
	}
	flush()
	return nil
}

// summarySep joins the parts of a reasoning summary into one thinking
// text.
const summarySep = "\n\n"

func joinSummary(s []respSummary) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0].Text
	}
	var b strings.Builder
	for i := range s {
		if i > 0 {
			b.WriteString(summarySep)
		}
		b.WriteString(s[i].Text)
	}
	return b.String()
}

// decodeContent appends the blocks of a message's content, a string or
// an array of parts. Images and files are allowed where media is true.
func decodeContent(dst []canon.Block, parts *[]respPart, raw []byte, media, assistant bool) ([]canon.Block, error) {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return dst, canon.Fieldf("content", "required")
	}
	if raw[0] == '"' {
		s, err := canon.DecodeString(raw)
		if err != nil {
			return dst, canon.Fieldf("content", "%v", err)
		}
		return append(dst, canon.Block{Kind: canon.BlockText, Text: s}), nil
	}
	clear((*parts)[:cap(*parts)])
	*parts = (*parts)[:0]
	if err := canon.DecodeStrict(raw, parts, "content"); err != nil {
		return dst, err
	}
	for j := range *parts {
		b, err := decodePart(&(*parts)[j], media, assistant)
		if err != nil {
			return dst, canon.At(err, "content", j)
		}
		dst = append(dst, b)
	}
	return dst, nil
}

func decodePart(p *respPart, media, assistant bool) (canon.Block, error) {
	var b canon.Block
	switch p.Type {
	case "input_text", "output_text":
		if !canon.IsNull(p.Annotations) && string(canon.Trim(p.Annotations)) != "[]" {
			return b, canon.Fieldf("annotations", "annotations cannot be translated")
		}
		b.Kind, b.Text = canon.BlockText, p.Text
	case "refusal":
		if !assistant {
			return b, canon.Fieldf("type", "refusals belong to assistant messages")
		}
		b.Kind, b.Text = canon.BlockRefusal, p.Refusal
	case "input_image":
		if !media {
			return b, canon.Fieldf("type", "images are allowed in user messages and tool outputs only")
		}
		b.Kind, b.Detail, b.FileID = canon.BlockImage, p.Detail, p.FileID
		if p.FileID == "" {
			if err := canon.DecodeURL(&b, p.ImageURL, "image_url"); err != nil {
				return b, err
			}
		}
	case "input_file":
		if !media {
			return b, canon.Fieldf("type", "files are allowed in user messages and tool outputs only")
		}
		b.Kind, b.FileID, b.Filename, b.URL = canon.BlockFile, p.FileID, p.Filename, p.FileURL
		if p.FileData != "" {
			if err := canon.DecodeURL(&b, p.FileData, "file_data"); err != nil {
				return b, err
			}
			if b.URL != "" {
				return b, canon.Fieldf("file_data", "want a base64 data: URL")
			}
		}
		if b.FileID == "" && b.URL == "" && b.Data == "" {
			return b, canon.Fieldf("file_data", "required")
		}
	case "input_audio":
		return b, canon.Fieldf("type", "audio input cannot be translated")
	default:
		return b, canon.Fieldf("type", "unknown content part type %q", p.Type)
	}
	return b, nil
}

// decodeOutput decodes a function_call_output's output: a string or an
// array of input parts.
func decodeOutput(parts *[]respPart, raw []byte) ([]canon.Block, error) {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return nil, canon.Fieldf("output", "required")
	}
	if raw[0] == '"' {
		s, err := canon.DecodeString(raw)
		if err != nil {
			return nil, canon.Fieldf("output", "%v", err)
		}
		return []canon.Block{{Kind: canon.BlockText, Text: s}}, nil
	}
	out, err := decodeContent(nil, parts, raw, true, false)
	if err != nil {
		return nil, canon.At(err, "output", -1)
	}
	return out, nil
}

func decodeTool(w *respTool, t *canon.Tool) error {
	if w.Type != "function" {
		return canon.Fieldf("type", "only function tools can be translated, got %q", w.Type)
	}
	if w.Name == "" {
		return canon.Fieldf("name", "required")
	}
	t.Name, t.Description, t.Strict = w.Name, w.Description, w.Strict
	if !canon.IsNull(w.Parameters) {
		t.Schema = canon.View(canon.Trim(w.Parameters))
	}
	return nil
}

func decodeToolChoice(raw []byte) (canon.ToolChoice, error) {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return canon.ToolChoice{}, nil
	}
	if raw[0] == '"' {
		s, err := canon.DecodeString(raw)
		if err != nil {
			return canon.ToolChoice{}, canon.Fieldf("tool_choice", "%v", err)
		}
		switch s {
		case "auto":
			return canon.ToolChoice{Mode: canon.ToolChoiceAuto}, nil
		case "none":
			return canon.ToolChoice{Mode: canon.ToolChoiceNone}, nil
		case "required":
			return canon.ToolChoice{Mode: canon.ToolChoiceAny}, nil
		}
		return canon.ToolChoice{}, canon.Fieldf("tool_choice", "unknown value %q", s)
	}
	var w struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := canon.DecodeStrict(raw, &w, "tool_choice"); err != nil {
		return canon.ToolChoice{}, err
	}
	if w.Type != "function" || w.Name == "" {
		return canon.ToolChoice{}, canon.Fieldf("tool_choice.type", "only a named function can be forced, got %q", w.Type)
	}
	return canon.ToolChoice{Mode: canon.ToolChoiceTool, Name: w.Name}, nil
}
