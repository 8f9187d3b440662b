package openai

import (
	"encoding/json"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// chatRequest is a Chat Completions request as clients send it. Every
// field a client may send is declared: the ones that translate, the ones
// refused when set (refusedFields) and the hints accepted and listed in
// Request.Ignored (ignoredFields). Anything else is an unknown field and
// refused by the strict decoder.
type chatRequest struct {
	Model               string                 `json:"model"`
	Messages            []chatMessage          `json:"messages"`
	MaxCompletionTokens *int64                 `json:"max_completion_tokens"`
	MaxTokens           *int64                 `json:"max_tokens"`
	Temperature         *float64               `json:"temperature"`
	TopP                *float64               `json:"top_p"`
	TopK                *int64                 `json:"top_k"` // vLLM, OpenRouter
	Stop                sonic.NoCopyRawMessage `json:"stop"`
	Stream              bool                   `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage       bool                   `json:"include_usage"`
		IncludeObfuscation sonic.NoCopyRawMessage `json:"include_obfuscation"`
	} `json:"stream_options"`
	Tools             []chatTool             `json:"tools"`
	ToolChoice        sonic.NoCopyRawMessage `json:"tool_choice"`
	ParallelToolCalls *bool                  `json:"parallel_tool_calls"`
	ResponseFormat    *chatResponseFormat    `json:"response_format"`
	ReasoningEffort   string                 `json:"reasoning_effort"`
	User              string                 `json:"user"`
	SafetyIdentifier  string                 `json:"safety_identifier"`

	// Refused when set to anything but their default.
	N                *int64                 `json:"n"`
	Logprobs         *bool                  `json:"logprobs"`
	TopLogprobs      *int64                 `json:"top_logprobs"`
	LogitBias        sonic.NoCopyRawMessage `json:"logit_bias"`
	Audio            sonic.NoCopyRawMessage `json:"audio"`
	Modalities       []string               `json:"modalities"`
	FrequencyPenalty *float64               `json:"frequency_penalty"`
	PresencePenalty  *float64               `json:"presence_penalty"`
	Functions        sonic.NoCopyRawMessage `json:"functions"`
	FunctionCall     sonic.NoCopyRawMessage `json:"function_call"`
	WebSearchOptions sonic.NoCopyRawMessage `json:"web_search_options"`

	// Hints: accepted, reported in Request.Ignored, never translated.
	Store                sonic.NoCopyRawMessage `json:"store"`
	Seed                 sonic.NoCopyRawMessage `json:"seed"`
	Metadata             sonic.NoCopyRawMessage `json:"metadata"`
	ServiceTier          sonic.NoCopyRawMessage `json:"service_tier"`
	PromptCacheKey       sonic.NoCopyRawMessage `json:"prompt_cache_key"`
	PromptCacheRetention sonic.NoCopyRawMessage `json:"prompt_cache_retention"`
	Prediction           sonic.NoCopyRawMessage `json:"prediction"`
	Verbosity            sonic.NoCopyRawMessage `json:"verbosity"`
}

type chatMessage struct {
	Role       string                 `json:"role"`
	Content    sonic.NoCopyRawMessage `json:"content"`
	ToolCalls  []chatToolCall         `json:"tool_calls"`
	ToolCallID string                 `json:"tool_call_id"`
	Refusal    *string                `json:"refusal"`
	// ReasoningContent is the DeepSeek convention for reasoning an
	// assistant message carried; Reasoning is OpenRouter's and vLLM's.
	ReasoningContent *string `json:"reasoning_content"`
	Reasoning        *string `json:"reasoning"`

	// Refused when set; null or empty as SDKs echo them is fine.
	Name         *string                `json:"name"`
	Audio        sonic.NoCopyRawMessage `json:"audio"`
	FunctionCall sonic.NoCopyRawMessage `json:"function_call"`
	Annotations  sonic.NoCopyRawMessage `json:"annotations"`
}

type chatToolCall struct {
	// Index numbers a call in a stream delta (a json.Number, so that it
	// may be absent and decoding it allocates nothing); clients may echo
	// it in requests.
	Index    json.Number `json:"index"`
	ID       string      `json:"id"`
	Type     string      `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	} `json:"image_url"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
		Filename string `json:"filename"`
	} `json:"file"`
	InputAudio sonic.NoCopyRawMessage `json:"input_audio"`
	// CacheControl is OpenRouter's and LiteLLM's extension for Anthropic
	// prompt caching through the OpenAI format.
	CacheControl *canon.CacheControl `json:"cache_control"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string                 `json:"name"`
		Description string                 `json:"description"`
		Parameters  sonic.NoCopyRawMessage `json:"parameters"`
		Strict      *bool                  `json:"strict"`
	} `json:"function"`
	Custom       sonic.NoCopyRawMessage `json:"custom"`
	CacheControl *canon.CacheControl    `json:"cache_control"`
}

type chatResponseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name        string                 `json:"name"`
		Description string                 `json:"description"`
		Schema      sonic.NoCopyRawMessage `json:"schema"`
		Strict      *bool                  `json:"strict"`
	} `json:"json_schema"`
}

// DecodeRequest decodes a Chat Completions request body into r, which it
// resets first. It refuses, with a *canon.FieldError naming the field,
// any field that no other format can carry (n > 1, logprobs, logit_bias,
// audio, ...) and any unknown field. Strings in r point into body.
func DecodeRequest(body []byte, r *canon.Request) error {
	*r = canon.Request{}
	var w chatRequest
	if err := canon.DecodeStrict(body, &w, ""); err != nil {
		return err
	}
	if err := refuseRequestFields(&w); err != nil {
		return err
	}
	r.Ignored = appendIgnored(r.Ignored, &w)
	if len(w.Messages) == 0 {
		return canon.Fieldf("messages", "want at least one message")
	}
	r.Model = w.Model
	r.Messages = make([]canon.Message, len(w.Messages))
	// Most messages hold one or two blocks.
	d := decoding{blocks: make([]canon.Block, 0, 2*len(w.Messages))}
	for i := range w.Messages {
		if err := d.message(&w.Messages[i], &r.Messages[i]); err != nil {
			return canon.At(err, "messages", i)
		}
	}
	if w.MaxCompletionTokens != nil {
		r.MaxTokens = *w.MaxCompletionTokens
	} else if w.MaxTokens != nil {
		r.MaxTokens = *w.MaxTokens
	}
	r.Temperature, r.TopP, r.TopK = w.Temperature, w.TopP, w.TopK
	var err error
	if r.Stop, err = decodeStop(w.Stop); err != nil {
		return err
	}
	r.Stream = w.Stream
	r.IncludeUsage = w.StreamOptions != nil && w.StreamOptions.IncludeUsage
	if len(w.Tools) > 0 {
		r.Tools = make([]canon.Tool, len(w.Tools))
		for i := range w.Tools {
			if err := decodeTool(&w.Tools[i], &r.Tools[i]); err != nil {
				return canon.At(err, "tools", i)
			}
		}
	}
	if r.ToolChoice, err = decodeToolChoice(w.ToolChoice); err != nil {
		return err
	}
	r.ParallelToolCalls = w.ParallelToolCalls
	if f := w.ResponseFormat; f != nil {
		if err := decodeResponseFormat(f, &r.ResponseFormat); err != nil {
			return err
		}
	}
	r.Reasoning.SetEffort(w.ReasoningEffort)
	r.User = w.User
	if r.User == "" {
		r.User = w.SafetyIdentifier
	}
	return nil
}

// refuseRequestFields refuses the fields that change the answer in a
// way no other format can express.
func refuseRequestFields(w *chatRequest) error {
	switch {
	case w.N != nil && *w.N != 1:
		return canon.Fieldf("n", "only 1 choice can be translated, got %d", *w.N)
	case w.Logprobs != nil && *w.Logprobs:
		return canon.Fieldf("logprobs", "log probabilities cannot be translated")
	case w.TopLogprobs != nil:
		return canon.Fieldf("top_logprobs", "log probabilities cannot be translated")
	case !canon.IsNull(w.LogitBias) && string(canon.Trim(w.LogitBias)) != "{}":
		return canon.Fieldf("logit_bias", "no equivalent in the target format")
	case !canon.IsNull(w.Audio):
		return canon.Fieldf("audio", "audio output cannot be translated")
	case len(w.Modalities) > 1 || len(w.Modalities) == 1 && w.Modalities[0] != "text":
		return canon.Fieldf("modalities", "only text output can be translated, got %q", w.Modalities)
	case w.FrequencyPenalty != nil && *w.FrequencyPenalty != 0:
		return canon.Fieldf("frequency_penalty", "no equivalent in the target format")
	case w.PresencePenalty != nil && *w.PresencePenalty != 0:
		return canon.Fieldf("presence_penalty", "no equivalent in the target format")
	case !canon.IsNull(w.Functions):
		return canon.Fieldf("functions", "deprecated; use tools")
	case !canon.IsNull(w.FunctionCall):
		return canon.Fieldf("function_call", "deprecated; use tool_choice")
	case !canon.IsNull(w.WebSearchOptions):
		return canon.Fieldf("web_search_options", "built-in web search cannot be translated")
	}
	return nil
}

// appendIgnored appends the names of the hint fields w carries.
func appendIgnored(dst []string, w *chatRequest) []string {
	hints := [...]struct {
		name string
		raw  []byte
	}{
		{"store", w.Store}, {"seed", w.Seed}, {"metadata", w.Metadata},
		{"service_tier", w.ServiceTier}, {"prompt_cache_key", w.PromptCacheKey},
		{"prompt_cache_retention", w.PromptCacheRetention}, {"prediction", w.Prediction},
		{"verbosity", w.Verbosity},
	}
	for _, h := range hints {
		if !canon.IsNull(h.raw) {
			dst = append(dst, h.name)
		}
	}
	if o := w.StreamOptions; o != nil && !canon.IsNull(o.IncludeObfuscation) {
		dst = append(dst, "stream_options.include_obfuscation")
	}
	return dst
}

// decoding is the memory of one request's decode. The blocks of all
// messages go into one arena, and those of tool results into another,
// rather than into a slice per message: a conversation decodes with a
// few allocations instead of two per message. Each message's Content is
// a full slice of its arena, so appending to it never overwrites the
// next message's blocks; growing an arena leaves the earlier slices on
// the old array, which stays valid.
type decoding struct {
	blocks, results []canon.Block
	parts           []chatPart // the wire parts being converted, reused
}

// message decodes one message; errors name fields relative to it.
func (d *decoding) message(w *chatMessage, m *canon.Message) error {
	switch {
	case w.Name != nil && *w.Name != "":
		return canon.Fieldf("name", "participant names cannot be translated")
	case !canon.IsNull(w.Audio):
		return canon.Fieldf("audio", "audio cannot be translated")
	case !canon.IsNull(w.FunctionCall):
		return canon.Fieldf("function_call", "deprecated; use tool_calls")
	case !canon.IsNull(w.Annotations) && string(canon.Trim(w.Annotations)) != "[]":
		return canon.Fieldf("annotations", "annotations cannot be translated")
	case w.Role != "assistant" && (len(w.ToolCalls) > 0 || !isEmpty(w.Refusal) || !isEmpty(w.ReasoningContent) || !isEmpty(w.Reasoning)):
		return canon.Fieldf("role", "tool_calls, refusal and reasoning belong to assistant messages, got role %q", w.Role)
	}
	start := len(d.blocks)
	var err error
	switch w.Role {
	case "system", "developer":
		m.Role = canon.Role(w.Role)
		err = d.content(&d.blocks, w.Content, false)
	case "user":
		m.Role = canon.RoleUser
		err = d.content(&d.blocks, w.Content, true)
	case "assistant":
		m.Role = canon.RoleAssistant
		err = d.assistant(w)
	case "tool":
		m.Role = canon.RoleUser
		if w.ToolCallID == "" {
			return canon.Fieldf("tool_call_id", "required in a tool message")
		}
		from := len(d.results)
		if err = d.content(&d.results, w.Content, false); err == nil {
			d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockToolResult, ID: w.ToolCallID,
				Content: d.results[from:len(d.results):len(d.results)]})
		}
	case "function":
		return canon.Fieldf("role", `"function" is deprecated; use "tool"`)
	default:
		return canon.Fieldf("role", "unknown role %q", w.Role)
	}
	m.Content = d.blocks[start:len(d.blocks):len(d.blocks)]
	return err
}

func isEmpty(s *string) bool { return s == nil || *s == "" }

// assistant appends an assistant message's blocks: its reasoning, its
// content, its refusal, its tool calls.
func (d *decoding) assistant(w *chatMessage) error {
	reasoning := w.ReasoningContent
	if reasoning == nil {
		reasoning = w.Reasoning
	}
	if reasoning != nil && *reasoning != "" {
		d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockThinking, Text: *reasoning})
	}
	if err := d.content(&d.blocks, w.Content, false); err != nil {
		return err
	}
	if w.Refusal != nil && *w.Refusal != "" {
		d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockRefusal, Text: *w.Refusal})
	}
	for j := range w.ToolCalls {
		tc := &w.ToolCalls[j]
		if tc.Type != "" && tc.Type != "function" {
			return canon.At(canon.Fieldf("type", "only function calls can be translated, got %q", tc.Type), "tool_calls", j)
		}
		d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: tc.Function.Arguments})
	}
	return nil
}

// content appends the blocks of a message's content (a string, an array
// of parts, or null) to arena. Images and files are allowed where media
// is true (user messages).
func (d *decoding) content(arena *[]canon.Block, raw []byte, media bool) error {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return nil
	}
	if raw[0] == '"' {
		s, err := canon.DecodeString(raw)
		if err != nil {
			return canon.Fieldf("content", "%v", err)
		}
		*arena = append(*arena, canon.Block{Kind: canon.BlockText, Text: s})
		return nil
	}
	// sonic decodes into the elements of a reused slice without
	// clearing the fields a part leaves out: clear them first.
	clear(d.parts[:cap(d.parts)])
	d.parts = d.parts[:0]
	if err := canon.DecodeStrict(raw, &d.parts, "content"); err != nil {
		return err
	}
	for j := range d.parts {
		b, err := decodePart(&d.parts[j], media)
		if err != nil {
			return canon.At(err, "content", j)
		}
		*arena = append(*arena, b)
	}
	return nil
}

// decodePart decodes one content part; errors name fields relative to it.
func decodePart(p *chatPart, media bool) (canon.Block, error) {
	b := canon.Block{}
	if p.CacheControl != nil {
		b.Cache = *p.CacheControl
	}
	switch p.Type {
	case "text":
		b.Kind, b.Text = canon.BlockText, p.Text
	case "refusal":
		b.Kind, b.Text = canon.BlockRefusal, p.Refusal
	case "image_url":
		if !media {
			return b, canon.Fieldf("type", "images are allowed in user messages only")
		}
		if p.ImageURL == nil {
			return b, canon.Fieldf("image_url", "required")
		}
		b.Kind, b.Detail = canon.BlockImage, p.ImageURL.Detail
		if err := canon.DecodeURL(&b, p.ImageURL.URL, "image_url.url"); err != nil {
			return b, err
		}
	case "file":
		if !media {
			return b, canon.Fieldf("type", "files are allowed in user messages only")
		}
		if p.File == nil {
			return b, canon.Fieldf("file", "required")
		}
		b.Kind, b.FileID, b.Filename = canon.BlockFile, p.File.FileID, p.File.Filename
		if p.File.FileData != "" {
			if err := canon.DecodeURL(&b, p.File.FileData, "file.file_data"); err != nil {
				return b, err
			}
			if b.URL != "" {
				return b, canon.Fieldf("file.file_data", "want a base64 data: URL")
			}
		}
	case "input_audio":
		return b, canon.Fieldf("type", "audio input cannot be translated")
	default:
		return b, canon.Fieldf("type", "unknown content part type %q", p.Type)
	}
	return b, nil
}

func decodeStop(raw []byte) ([]string, error) {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := canon.DecodeStrict(raw, &s, "stop"); err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var stop []string
	if err := canon.DecodeStrict(raw, &stop, "stop"); err != nil {
		return nil, err
	}
	return stop, nil
}

func decodeTool(w *chatTool, t *canon.Tool) error {
	if w.Type != "function" {
		return canon.Fieldf("type", "only function tools can be translated, got %q", w.Type)
	}
	if w.Function == nil || w.Function.Name == "" {
		return canon.Fieldf("function.name", "required")
	}
	f := w.Function
	t.Name, t.Description, t.Strict = f.Name, f.Description, f.Strict
	if !canon.IsNull(f.Parameters) {
		t.Schema = canon.View(canon.Trim(f.Parameters))
	}
	if w.CacheControl != nil {
		t.Cache = *w.CacheControl
	}
	return nil
}

func decodeToolChoice(raw []byte) (canon.ToolChoice, error) {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return canon.ToolChoice{}, nil
	}
	if raw[0] == '"' {
		var s string
		if err := canon.DecodeStrict(raw, &s, "tool_choice"); err != nil {
			return canon.ToolChoice{}, err
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
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools sonic.NoCopyRawMessage `json:"allowed_tools"`
		Custom       sonic.NoCopyRawMessage `json:"custom"`
	}
	if err := canon.DecodeStrict(raw, &w, "tool_choice"); err != nil {
		return canon.ToolChoice{}, err
	}
	if w.Type != "function" {
		return canon.ToolChoice{}, canon.Fieldf("tool_choice.type", "only a function can be forced, got %q", w.Type)
	}
	if w.Function.Name == "" {
		return canon.ToolChoice{}, canon.Fieldf("tool_choice.function.name", "required")
	}
	return canon.ToolChoice{Mode: canon.ToolChoiceTool, Name: w.Function.Name}, nil
}

func decodeResponseFormat(w *chatResponseFormat, f *canon.ResponseFormat) error {
	switch w.Type {
	case "text", "json_object":
		f.Type = w.Type
	case "json_schema":
		s := w.JSONSchema
		if s == nil {
			return canon.Fieldf("response_format.json_schema", "required for type json_schema")
		}
		f.Type, f.Name, f.Description, f.Strict = w.Type, s.Name, s.Description, s.Strict
		if !canon.IsNull(s.Schema) {
			f.Schema = canon.View(canon.Trim(s.Schema))
		}
	default:
		return canon.Fieldf("response_format.type", "unknown value %q", w.Type)
	}
	return nil
}

// EncodeOptions adapts an encoded request to what an OpenAI-compatible
// provider accepts. The zero value suits api.openai.com.
type EncodeOptions struct {
	// ReasoningContent sends the thinking blocks of earlier assistant
	// turns back as "reasoning_content" (DeepSeek, vLLM and OpenRouter
	// accept it; DeepSeek requires it in tool loops). Default false: they
	// are dropped, as OpenAI's own models keep their reasoning themselves
	// and reject the field.
	ReasoningContent bool
	// CacheControl sends cache markers as "cache_control" on content
	// parts and tools (OpenRouter's and LiteLLM's extension, which they
	// pass to Anthropic and Gemini models). Default false: markers are
	// dropped.
	CacheControl bool
	// TopK sends top_k (vLLM, OpenRouter and most OpenAI-compatible hosts
	// accept it). Default false: a request with top_k is refused.
	TopK bool
	// LegacyMaxTokens sends the cap as "max_tokens" rather than
	// "max_completion_tokens", for hosts that know only the old name.
	LegacyMaxTokens bool
}

// EncodeRequest appends r as a Chat Completions request body to dst.
// r.System becomes a leading system message; system messages inside the
// conversation stay where they are (OpenAI accepts them anywhere); a
// user message's tool results become tool messages, in order. On error
// dst is returned unchanged with a *canon.FieldError naming what cannot
// be sent.
func EncodeRequest(dst []byte, r *canon.Request, o EncodeOptions) ([]byte, error) {
	start := len(dst)
	dst, err := appendRequest(dst, r, o)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func appendRequest(dst []byte, r *canon.Request, o EncodeOptions) ([]byte, error) {
	var err error
	dst = append(dst, '{')
	dst = canon.AppendStringField(dst, "model", r.Model)
	dst = append(canon.AppendKey(dst, "messages"), '[')
	if len(r.System) > 0 {
		if dst, err = appendTextMessage(dst, "system", r.System, o); err != nil {
			return dst, canon.At(err, "system", -1)
		}
	}
	for i := range r.Messages {
		if dst, err = appendMessage(dst, &r.Messages[i], o); err != nil {
			return dst, canon.At(err, "messages", i)
		}
	}
	dst = append(dst, ']')
	if len(r.Tools) > 0 {
		dst = append(canon.AppendKey(dst, "tools"), '[')
		for i := range r.Tools {
			dst = appendTool(canon.AppendElem(dst), &r.Tools[i], o)
		}
		dst = append(dst, ']')
	}
	dst = appendToolChoice(dst, r.ToolChoice)
	if r.ParallelToolCalls != nil {
		dst = canon.AppendBoolField(dst, "parallel_tool_calls", *r.ParallelToolCalls)
	}
	if r.MaxTokens > 0 {
		name := "max_completion_tokens"
		if o.LegacyMaxTokens {
			name = "max_tokens"
		}
		dst = canon.AppendIntField(dst, name, r.MaxTokens)
	}
	if r.Temperature != nil {
		dst = canon.AppendFloatField(dst, "temperature", *r.Temperature)
	}
	if r.TopP != nil {
		dst = canon.AppendFloatField(dst, "top_p", *r.TopP)
	}
	if r.TopK != nil {
		if !o.TopK {
			return dst, canon.Fieldf("top_k", "OpenAI Chat Completions has no top_k")
		}
		dst = canon.AppendIntField(dst, "top_k", *r.TopK)
	}
	if len(r.Stop) > 0 {
		dst = append(canon.AppendKey(dst, "stop"), '[')
		for _, s := range r.Stop {
			dst = canon.AppendString(canon.AppendElem(dst), s)
		}
		dst = append(dst, ']')
	}
	if r.Stream {
		dst = canon.AppendBoolField(dst, "stream", true)
		if r.IncludeUsage {
			dst = append(canon.AppendKey(dst, "stream_options"), `{"include_usage":true}`...)
		}
	}
	if dst, err = appendResponseFormat(dst, &r.ResponseFormat); err != nil {
		return dst, err
	}
	if e := r.Reasoning.OpenAIEffort(r.MaxTokens); e != "" {
		dst = canon.AppendStringField(dst, "reasoning_effort", e)
	}
	if r.User != "" {
		dst = canon.AppendStringField(dst, "user", r.User)
	}
	if o.CacheControl {
		dst = canon.AppendCacheControl(dst, r.Cache)
	}
	return append(dst, '}'), nil
}

func appendMessage(dst []byte, m *canon.Message, o EncodeOptions) ([]byte, error) {
	switch m.Role {
	case canon.RoleSystem, canon.RoleDeveloper:
		return appendTextMessage(dst, string(m.Role), m.Content, o)
	case canon.RoleUser:
		return appendUser(dst, m.Content, o)
	case canon.RoleAssistant:
		return appendAssistant(dst, m.Content, o)
	}
	return dst, canon.Fieldf("role", "unknown role %q", m.Role)
}

// appendTextMessage appends a message whose content must be text: a
// system prompt or a tool result's text.
func appendTextMessage(dst []byte, role string, blocks []canon.Block, o EncodeOptions) ([]byte, error) {
	dst = append(canon.AppendElem(dst), '{')
	dst = canon.AppendStringField(dst, "role", role)
	dst, err := appendTextContent(dst, blocks, o)
	return append(dst, '}'), err
}

// appendTextContent appends "content" for text blocks: a string when
// there is one block without a marker to keep, else text parts.
func appendTextContent(dst []byte, blocks []canon.Block, o EncodeOptions) ([]byte, error) {
	dst = canon.AppendKey(dst, "content")
	if len(blocks) == 1 && blocks[0].Kind == canon.BlockText && (!o.CacheControl || blocks[0].Cache.Type == "") {
		return canon.AppendString(dst, blocks[0].Text), nil
	}
	dst = append(dst, '[')
	for j := range blocks {
		b := &blocks[j]
		if b.Kind != canon.BlockText {
			return dst, canon.At(canon.Fieldf("type", "want text, got %s", b.Kind), "content", j)
		}
		dst = appendTextPart(canon.AppendElem(dst), b, o)
	}
	return append(dst, ']'), nil
}

func appendTextPart(dst []byte, b *canon.Block, o EncodeOptions) []byte {
	dst = append(dst, `{"type":"text"`...)
	dst = canon.AppendStringField(dst, "text", b.Text)
	if o.CacheControl {
		dst = canon.AppendCacheControl(dst, b.Cache)
	}
	return append(dst, '}')
}

// appendUser appends a user message's blocks: each run of tool results
// as tool messages, each run of other blocks as a user message. A tool
// message holds text only, so the images and files of a run's results
// follow it in a user message of their own.
func appendUser(dst []byte, blocks []canon.Block, o EncodeOptions) ([]byte, error) {
	var err error
	for i := 0; i < len(blocks); {
		j := i
		if blocks[i].Kind != canon.BlockToolResult {
			for j < len(blocks) && blocks[j].Kind != canon.BlockToolResult {
				j++
			}
			dst = append(canon.AppendElem(dst), `{"role":"user"`...)
			dst = canon.AppendKey(dst, "content")
			if b := &blocks[i]; j == i+1 && b.Kind == canon.BlockText && (!o.CacheControl || b.Cache.Type == "") {
				// One text: a string, which every OpenAI-compatible host
				// takes (some take no content arrays).
				dst = append(canon.AppendString(dst, b.Text), '}')
				i = j
				continue
			}
			dst = append(dst, '[')
			for k := i; k < j; k++ {
				if dst, err = appendUserPart(canon.AppendElem(dst), &blocks[k], o); err != nil {
					return dst, canon.At(err, "content", k)
				}
			}
			dst = append(dst, ']', '}')
			i = j
			continue
		}
		media := false
		for ; j < len(blocks) && blocks[j].Kind == canon.BlockToolResult; j++ {
			if dst, media, err = appendToolMessage(dst, &blocks[j], o, media); err != nil {
				return dst, canon.At(err, "content", j)
			}
		}
		if media {
			dst = append(canon.AppendElem(dst), `{"role":"user","content":[`...)
			for k := i; k < j; k++ {
				for l := range blocks[k].Content {
					if b := &blocks[k].Content[l]; b.Kind != canon.BlockText {
						if dst, err = appendUserPart(canon.AppendElem(dst), b, o); err != nil {
							return dst, canon.At(canon.At(err, "content", l), "content", k)
						}
					}
				}
			}
			dst = append(dst, ']', '}')
		}
		i = j
	}
	return dst, nil
}

// appendToolMessage appends a tool message with the text of result b and
// reports, or'ed into media, whether b holds images or files too.
func appendToolMessage(dst []byte, b *canon.Block, o EncodeOptions, media bool) ([]byte, bool, error) {
	dst = append(canon.AppendElem(dst), `{"role":"tool"`...)
	dst = canon.AppendStringField(dst, "tool_call_id", b.ID)
	texts, text := 0, -1
	for j := range b.Content {
		switch b.Content[j].Kind {
		case canon.BlockText:
			texts, text = texts+1, j
		case canon.BlockImage, canon.BlockFile:
			media = true
		default:
			return dst, media, canon.At(canon.Fieldf("type", "a tool result cannot hold %s", b.Content[j].Kind), "content", j)
		}
	}
	dst = canon.AppendKey(dst, "content")
	switch {
	case texts == 0:
		dst = append(dst, `""`...)
	case texts == 1 && (!o.CacheControl || b.Content[text].Cache.Type == ""):
		dst = canon.AppendString(dst, b.Content[text].Text)
	default:
		dst = append(dst, '[')
		for j := range b.Content {
			if c := &b.Content[j]; c.Kind == canon.BlockText {
				dst = appendTextPart(canon.AppendElem(dst), c, o)
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), media, nil
}

// appendUserPart appends one content part of a user message.
func appendUserPart(dst []byte, b *canon.Block, o EncodeOptions) ([]byte, error) {
	switch b.Kind {
	case canon.BlockText:
		return appendTextPart(dst, b, o), nil
	case canon.BlockImage:
		if b.FileID != "" {
			return dst, canon.Fieldf("source", "images by file id cannot be translated")
		}
		dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
		dst = canon.AppendURL(dst, b)
		if b.Detail != "" {
			dst = canon.AppendStringField(dst, "detail", b.Detail)
		}
		dst = append(dst, '}')
	case canon.BlockFile:
		switch {
		case b.MediaType == "text/plain" && b.Data == "":
			// A plain-text document is its text.
			return appendTextPart(dst, &canon.Block{Kind: canon.BlockText, Text: b.Text, Cache: b.Cache}, o), nil
		case b.URL != "":
			return dst, canon.Fieldf("source", "documents by URL cannot be translated")
		}
		dst = append(dst, `{"type":"file","file":{`...)
		if b.FileID != "" {
			dst = canon.AppendStringField(dst, "file_id", b.FileID)
		} else {
			dst = canon.AppendURL(canon.AppendKey(dst, "file_data"), b)
		}
		if b.Filename != "" {
			dst = canon.AppendStringField(dst, "filename", b.Filename)
		}
		dst = append(dst, '}')
	default:
		return dst, canon.Fieldf("type", "a user message cannot hold %s", b.Kind)
	}
	if o.CacheControl {
		dst = canon.AppendCacheControl(dst, b.Cache)
	}
	return append(dst, '}'), nil
}

func appendAssistant(dst []byte, blocks []canon.Block, o EncodeOptions) ([]byte, error) {
	dst = append(canon.AppendElem(dst), `{"role":"assistant"`...)
	var texts, refusals, thinking, calls int
	for j := range blocks {
		switch blocks[j].Kind {
		case canon.BlockText:
			texts++
		case canon.BlockRefusal:
			refusals++
		case canon.BlockThinking:
			thinking++
		case canon.BlockToolUse:
			calls++
		case canon.BlockRedactedThinking:
			// Opaque to any provider but the one that made it.
		default:
			return dst, canon.At(canon.Fieldf("type", "an assistant message cannot hold %s", blocks[j].Kind), "content", j)
		}
	}
	dst = canon.AppendKey(dst, "content")
	switch {
	case texts == 0:
		dst = append(dst, "null"...)
	case texts == 1 && (!o.CacheControl || !hasCache(blocks)):
		for j := range blocks {
			if blocks[j].Kind == canon.BlockText {
				dst = canon.AppendString(dst, blocks[j].Text)
			}
		}
	default:
		dst = append(dst, '[')
		for j := range blocks {
			if b := &blocks[j]; b.Kind == canon.BlockText {
				dst = appendTextPart(canon.AppendElem(dst), b, o)
			}
		}
		dst = append(dst, ']')
	}
	if refusals > 0 {
		dst = appendJoined(canon.AppendKey(dst, "refusal"), blocks, canon.BlockRefusal)
	}
	if thinking > 0 && o.ReasoningContent {
		dst = appendJoined(canon.AppendKey(dst, "reasoning_content"), blocks, canon.BlockThinking)
	}
	if calls > 0 {
		dst = append(canon.AppendKey(dst, "tool_calls"), '[')
		for j := range blocks {
			if b := &blocks[j]; b.Kind == canon.BlockToolUse {
				dst = append(canon.AppendElem(dst), '{')
				dst = canon.AppendStringField(dst, "id", b.ID)
				dst = append(dst, `,"type":"function","function":{`...)
				dst = canon.AppendStringField(dst, "name", b.Name)
				args := b.Input
				if args == "" {
					args = "{}"
				}
				dst = canon.AppendStringField(dst, "arguments", args)
				dst = append(dst, '}', '}')
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

func hasCache(blocks []canon.Block) bool {
	for j := range blocks {
		if blocks[j].Cache.Type != "" {
			return true
		}
	}
	return false
}

// appendJoined appends, as one JSON string, the text of the blocks of
// kind k, concatenated.
func appendJoined(dst []byte, blocks []canon.Block, k canon.BlockKind) []byte {
	dst = append(dst, '"')
	for j := range blocks {
		if blocks[j].Kind == k {
			dst = canon.AppendEscaped(dst, blocks[j].Text)
		}
	}
	return append(dst, '"')
}

func appendTool(dst []byte, t *canon.Tool, o EncodeOptions) []byte {
	dst = append(dst, `{"type":"function","function":{`...)
	dst = canon.AppendStringField(dst, "name", t.Name)
	if t.Description != "" {
		dst = canon.AppendStringField(dst, "description", t.Description)
	}
	if t.Schema != "" {
		dst = canon.AppendRawField(dst, "parameters", t.Schema)
	}
	if t.Strict != nil {
		dst = canon.AppendBoolField(dst, "strict", *t.Strict)
	}
	dst = append(dst, '}')
	if o.CacheControl {
		dst = canon.AppendCacheControl(dst, t.Cache)
	}
	return append(dst, '}')
}

func appendToolChoice(dst []byte, c canon.ToolChoice) []byte {
	switch c.Mode {
	case canon.ToolChoiceAuto:
		return canon.AppendStringField(dst, "tool_choice", "auto")
	case canon.ToolChoiceNone:
		return canon.AppendStringField(dst, "tool_choice", "none")
	case canon.ToolChoiceAny:
		return canon.AppendStringField(dst, "tool_choice", "required")
	case canon.ToolChoiceTool:
		dst = append(canon.AppendKey(dst, "tool_choice"), `{"type":"function","function":{`...)
		dst = canon.AppendStringField(dst, "name", c.Name)
		return append(dst, '}', '}')
	}
	return dst
}

func appendResponseFormat(dst []byte, f *canon.ResponseFormat) ([]byte, error) {
	switch f.Type {
	case "":
		return dst, nil
	case "text", "json_object":
		dst = append(canon.AppendKey(dst, "response_format"), '{')
		dst = canon.AppendStringField(dst, "type", f.Type)
		return append(dst, '}'), nil
	case "json_schema":
		dst = append(canon.AppendKey(dst, "response_format"), `{"type":"json_schema","json_schema":{`...)
		return append(f.AppendSchemaFields(dst), '}', '}'), nil
	}
	return dst, canon.Fieldf("response_format.type", "unknown value %q", f.Type)
}
