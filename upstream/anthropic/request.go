package anthropic

import (
	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// messagesRequest is a Messages request as clients send it. Every field
// a client may send is declared: the ones that translate, the ones
// refused when set and the hints accepted and listed in
// Request.Ignored. Anything else is an unknown field and refused by the
// strict decoder.
type messagesRequest struct {
	Model         string                 `json:"model"`
	Messages      []message              `json:"messages"`
	MaxTokens     *int64                 `json:"max_tokens"`
	System        sonic.NoCopyRawMessage `json:"system"`
	StopSequences []string               `json:"stop_sequences"`
	Stream        bool                   `json:"stream"`
	Temperature   *float64               `json:"temperature"`
	TopP          *float64               `json:"top_p"`
	TopK          *int64                 `json:"top_k"`
	Tools         sonic.NoCopyRawMessage `json:"tools"`
	ToolChoice    *toolChoice            `json:"tool_choice"`
	Thinking      *thinking              `json:"thinking"`
	OutputConfig  *outputConfig          `json:"output_config"`
	// OutputFormat is the structured-outputs beta's name for
	// output_config.format.
	OutputFormat *outputFormat       `json:"output_format"`
	CacheControl *canon.CacheControl `json:"cache_control"`
	Metadata     *struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`

	// Refused when set: server-side features another provider lacks.
	Container  sonic.NoCopyRawMessage `json:"container"`
	MCPServers sonic.NoCopyRawMessage `json:"mcp_servers"`

	// Hints: accepted, reported in Request.Ignored, never translated.
	// context_management edits (clearing old tool results) are applied
	// by Anthropic's servers; another provider gets the whole, unedited
	// context, which is what the client sent.
	ServiceTier       sonic.NoCopyRawMessage `json:"service_tier"`
	ContextManagement sonic.NoCopyRawMessage `json:"context_management"`
	InferenceGeo      sonic.NoCopyRawMessage `json:"inference_geo"`
}

type message struct {
	Role         string                 `json:"role"`
	Content      sonic.NoCopyRawMessage `json:"content"`
	CacheControl *canon.CacheControl    `json:"cache_control"`
	// OutputConfig on a turn (the per-turn control beta Claude Code
	// uses) is a hint: accepted and listed in Request.Ignored.
	OutputConfig sonic.NoCopyRawMessage `json:"output_config"`
}

// block is any content block; Type says which fields it uses.
type block struct {
	Type      string                 `json:"type"`
	Text      string                 `json:"text"`
	Source    *source                `json:"source"`
	ID        string                 `json:"id"`
	Name      string                 `json:"name"`
	Input     sonic.NoCopyRawMessage `json:"input"`
	ToolUseID string                 `json:"tool_use_id"`
	Content   sonic.NoCopyRawMessage `json:"content"`
	IsError   bool                   `json:"is_error"`
	Thinking  string                 `json:"thinking"`
	Signature string                 `json:"signature"`
	Data      string                 `json:"data"`
	Title     string                 `json:"title"`

	CacheControl *canon.CacheControl `json:"cache_control"`

	// Refused when set.
	Citations sonic.NoCopyRawMessage `json:"citations"`
	Context   sonic.NoCopyRawMessage `json:"context"`
	Caller    sonic.NoCopyRawMessage `json:"caller"`
}

type source struct {
	Type      string                 `json:"type"`
	MediaType string                 `json:"media_type"`
	Data      string                 `json:"data"`
	URL       string                 `json:"url"`
	FileID    string                 `json:"file_id"`
	Content   sonic.NoCopyRawMessage `json:"content"`
}

type tool struct {
	Type         string                 `json:"type"`
	Name         string                 `json:"name"`
	Description  string                 `json:"description"`
	InputSchema  sonic.NoCopyRawMessage `json:"input_schema"`
	Strict       *bool                  `json:"strict"`
	CacheControl *canon.CacheControl    `json:"cache_control"`
	// EagerInputStreaming is a streaming hint with no effect on content.
	EagerInputStreaming sonic.NoCopyRawMessage `json:"eager_input_streaming"`
	// DeferLoading (tool search) is a hint: another provider gets the
	// tool up front; listed in Request.Ignored.
	DeferLoading *bool `json:"defer_loading"`
	// Refused when set: programmatic calling is server-side.
	InputExamples  sonic.NoCopyRawMessage `json:"input_examples"`
	AllowedCallers sonic.NoCopyRawMessage `json:"allowed_callers"`
}

type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use"`
}

type thinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
	// Display ("summarized", "omitted") says how much thinking the
	// answer shows: a hint, listed in Request.Ignored.
	Display string `json:"display"`
}

type outputConfig struct {
	Effort string        `json:"effort"`
	Format *outputFormat `json:"format"`
}

type outputFormat struct {
	Type   string                 `json:"type"`
	Schema sonic.NoCopyRawMessage `json:"schema"`
}

// DecodeRequest decodes a Messages request body into r, which it resets
// first. The system prompt (a string or text blocks) becomes r.System;
// "system" messages inside the conversation stay where they are. It
// refuses, with a *canon.FieldError naming the field, what no other
// format can carry (server tools, container, mcp_servers, citations,
// ...) and any unknown field. Strings in r point into body.
func DecodeRequest(body []byte, r *canon.Request) error {
	*r = canon.Request{}
	var w messagesRequest
	if err := canon.DecodeStrict(body, &w, ""); err != nil {
		return err
	}
	switch {
	case !canon.IsNull(w.Container):
		return canon.Fieldf("container", "Anthropic's code execution container cannot be translated")
	case !canon.IsNull(w.MCPServers):
		return canon.Fieldf("mcp_servers", "Anthropic's MCP connector cannot be translated")
	case len(w.Messages) == 0:
		return canon.Fieldf("messages", "want at least one message")
	}
	for _, h := range [...]struct {
		name string
		raw  []byte
	}{{"service_tier", w.ServiceTier}, {"context_management", w.ContextManagement}, {"inference_geo", w.InferenceGeo}} {
		if !canon.IsNull(h.raw) {
			r.Ignored = append(r.Ignored, h.name)
		}
	}
	r.Model = w.Model
	// Most messages hold one or two blocks.
	d := decoding{blocks: make([]canon.Block, 0, 2*len(w.Messages))}
	var err error
	if r.System, err = d.content(w.System, textOnly); err != nil {
		return canon.At(err, "system", -1)
	}
	r.Messages = make([]canon.Message, len(w.Messages))
	turnConfig := false
	for i := range w.Messages {
		if err := d.message(&w.Messages[i], &r.Messages[i]); err != nil {
			return canon.At(err, "messages", i)
		}
		turnConfig = turnConfig || !canon.IsNull(w.Messages[i].OutputConfig)
	}
	if turnConfig {
		r.Ignored = append(r.Ignored, "messages[].output_config")
	}
	if w.MaxTokens != nil {
		r.MaxTokens = *w.MaxTokens
	}
	r.Temperature, r.TopP, r.TopK = w.Temperature, w.TopP, w.TopK
	r.Stop = w.StopSequences
	r.Stream, r.IncludeUsage = w.Stream, true
	deferred := false
	if r.Tools, deferred, err = decodeTools(w.Tools); err != nil {
		return err
	}
	if deferred {
		r.Ignored = append(r.Ignored, "tools[].defer_loading")
	}
	if c := w.ToolChoice; c != nil {
		if err := decodeToolChoice(c, r); err != nil {
			return canon.At(err, "tool_choice", -1)
		}
	}
	if t := w.Thinking; t != nil {
		if t.Display != "" {
			r.Ignored = append(r.Ignored, "thinking.display")
		}
		switch t.Type {
		case "enabled":
			r.Reasoning.Mode, r.Reasoning.BudgetTokens = canon.ThinkingEnabled, t.BudgetTokens
		case "adaptive":
			r.Reasoning.Mode = canon.ThinkingAdaptive
		case "disabled":
			r.Reasoning.Mode = canon.ThinkingDisabled
		default:
			return canon.Fieldf("thinking.type", "unknown value %q", t.Type)
		}
	}
	format := w.OutputFormat
	if c := w.OutputConfig; c != nil {
		r.Reasoning.Effort = c.Effort
		if c.Format != nil {
			format = c.Format
		}
	}
	if format != nil {
		if format.Type != "json_schema" {
			return canon.Fieldf("output_config.format.type", "unknown value %q", format.Type)
		}
		strict := true // Anthropic's structured outputs always hold to the schema
		r.ResponseFormat = canon.ResponseFormat{Type: "json_schema", Schema: canon.View(canon.Trim(format.Schema)), Strict: &strict}
	}
	if w.CacheControl != nil {
		r.Cache = *w.CacheControl
	}
	if w.Metadata != nil {
		r.User = w.Metadata.UserID
	}
	return nil
}

// decoding is the memory of one request's decode. The blocks of all
// messages go into one arena, and those of tool results into another,
// rather than into a slice per message: a conversation decodes with a
// few allocations instead of two per message. Each message's Content is
// a full slice of its arena, so appending to it never overwrites the
// next message's blocks; growing an arena leaves the earlier slices on
// the old array, which stays valid.
type decoding struct {
	blocks, results  []canon.Block
	wire, resultWire []block // the wire blocks being converted, reused
}

func (d *decoding) message(w *message, m *canon.Message) error {
	allow := anyBlock
	switch w.Role {
	case "user":
		m.Role = canon.RoleUser
	case "assistant":
		m.Role = canon.RoleAssistant
	case "system":
		m.Role, allow = canon.RoleSystem, textOnly
	default:
		return canon.Fieldf("role", "unknown role %q", w.Role)
	}
	if w.CacheControl != nil {
		m.Cache = *w.CacheControl
	}
	var err error
	m.Content, err = d.content(w.Content, allow)
	return err
}

// allowed says which blocks a content may hold.
type allowed uint8

const (
	anyBlock allowed = iota
	textOnly
	resultContent // a tool result's: text, images, documents
)

// content returns the blocks of a content (a string, an array of blocks,
// or null); errors name fields relative to it.
func (d *decoding) content(raw []byte, allow allowed) ([]canon.Block, error) {
	raw = canon.Trim(raw)
	if canon.IsNull(raw) {
		return nil, nil
	}
	arena, wire := &d.blocks, &d.wire
	if allow == resultContent {
		arena, wire = &d.results, &d.resultWire
	}
	start := len(*arena)
	if raw[0] == '"' {
		s, err := canon.DecodeString(raw)
		if err != nil {
			return nil, canon.Fieldf("content", "%v", err)
		}
		*arena = append(*arena, canon.Block{Kind: canon.BlockText, Text: s})
		return (*arena)[start:len(*arena):len(*arena)], nil
	}
	// sonic decodes into the elements of a reused slice without
	// clearing the fields a block leaves out: clear them first.
	clear((*wire)[:cap(*wire)])
	*wire = (*wire)[:0]
	if err := canon.DecodeStrict(raw, wire, "content"); err != nil {
		return nil, betterTypeError(raw, err, "content", allow)
	}
	for j := range *wire {
		b, err := d.block(&(*wire)[j], allow)
		if err != nil {
			return nil, canon.At(err, "content", j)
		}
		*arena = append(*arena, b)
	}
	return (*arena)[start:len(*arena):len(*arena)], nil
}

// betterTypeError explains a failed strict decode of an array of typed
// objects (blocks or tools) by the first element whose type cannot be
// translated, when there is one: a server tool or a server tool's result
// block fails on its own fields first, which would hide the real reason.
func betterTypeError(raw []byte, err error, name string, allow allowed) error {
	var types []struct {
		Type string `json:"type"`
	}
	if canon.DecodeLenient(raw, &types, name) != nil {
		return err
	}
	for j, t := range types {
		if !knownType(t.Type, name, allow) {
			reason := "%q cannot be translated"
			if name == "tools" {
				reason = "%q is a tool only Anthropic provides; it cannot be translated"
			}
			return canon.At(canon.Fieldf("type", reason, t.Type), name, j)
		}
	}
	return err
}

func knownType(typ, name string, allow allowed) bool {
	if name == "tools" {
		return typ == "" || typ == "custom"
	}
	switch typ {
	case "text":
		return true
	case "image", "document":
		return allow != textOnly
	case "tool_use", "tool_result", "thinking", "redacted_thinking":
		return allow == anyBlock
	}
	return false
}

// block decodes one block; errors name fields relative to it.
func (d *decoding) block(w *block, allow allowed) (canon.Block, error) {
	b := canon.Block{}
	if w.CacheControl != nil {
		b.Cache = *w.CacheControl
	}
	switch {
	case !canon.IsNull(w.Citations) && string(canon.Trim(w.Citations)) != "[]":
		return b, canon.Fieldf("citations", "citations cannot be translated")
	case !canon.IsNull(w.Context):
		return b, canon.Fieldf("context", "document context cannot be translated")
	case !canon.IsNull(w.Caller):
		return b, canon.Fieldf("caller", "programmatic tool calling cannot be translated")
	case !knownType(w.Type, "content", allow):
		if allow == textOnly {
			return b, canon.Fieldf("type", "want text here, got %q", w.Type)
		}
		return b, canon.Fieldf("type", "%q cannot be translated", w.Type)
	}
	switch w.Type {
	case "text":
		b.Kind, b.Text = canon.BlockText, w.Text
	case "image", "document":
		b.Kind, b.Filename = canon.BlockImage, w.Title
		if w.Type == "document" {
			b.Kind = canon.BlockFile
		}
		if err := decodeSource(w.Source, &b); err != nil {
			return b, canon.At(err, "source", -1)
		}
	case "tool_use":
		b.Kind, b.ID, b.Name = canon.BlockToolUse, w.ID, w.Name
		b.Input = canon.View(canon.Trim(w.Input))
		if b.Input == "" {
			b.Input = "{}"
		}
	case "tool_result":
		b.Kind, b.ID, b.IsError = canon.BlockToolResult, w.ToolUseID, w.IsError
		var err error
		if b.Content, err = d.content(w.Content, resultContent); err != nil {
			return b, err
		}
	case "thinking":
		b.Kind, b.Text, b.Signature = canon.BlockThinking, w.Thinking, w.Signature
	case "redacted_thinking":
		b.Kind, b.Data = canon.BlockRedactedThinking, w.Data
	}
	return b, nil
}

func decodeSource(s *source, b *canon.Block) error {
	if s == nil {
		return canon.Fieldf("", "required")
	}
	switch s.Type {
	case "base64":
		b.MediaType, b.Data = s.MediaType, s.Data
	case "url":
		b.URL = s.URL
	case "file":
		b.FileID = s.FileID
	case "text":
		if b.Kind != canon.BlockFile {
			return canon.Fieldf("type", `"text" is a document source`)
		}
		b.MediaType, b.Text = "text/plain", s.Data
	default:
		return canon.Fieldf("type", "%q cannot be translated", s.Type)
	}
	return nil
}

func decodeTools(raw []byte) (ts []canon.Tool, deferred bool, err error) {
	if canon.IsNull(canon.Trim(raw)) {
		return nil, false, nil
	}
	var ws []tool
	if err := canon.DecodeStrict(raw, &ws, "tools"); err != nil {
		return nil, false, betterTypeError(raw, err, "tools", anyBlock)
	}
	ts = make([]canon.Tool, len(ws))
	for i := range ws {
		w, t := &ws[i], &ts[i]
		deferred = deferred || w.DeferLoading != nil && *w.DeferLoading
		switch {
		case !knownType(w.Type, "tools", anyBlock):
			err = canon.Fieldf("type", "%q is a tool only Anthropic provides; it cannot be translated", w.Type)
		case w.Name == "":
			err = canon.Fieldf("name", "required")
		case !canon.IsNull(w.InputExamples) && string(canon.Trim(w.InputExamples)) != "[]":
			err = canon.Fieldf("input_examples", "tool input examples cannot be translated")
		case !canon.IsNull(w.AllowedCallers):
			err = canon.Fieldf("allowed_callers", "programmatic tool calling cannot be translated")
		}
		if err != nil {
			return nil, false, canon.At(err, "tools", i)
		}
		t.Name, t.Description, t.Strict = w.Name, w.Description, w.Strict
		if !canon.IsNull(w.InputSchema) {
			t.Schema = canon.View(canon.Trim(w.InputSchema))
		}
		if w.CacheControl != nil {
			t.Cache = *w.CacheControl
		}
	}
	return ts, deferred, nil
}

func decodeToolChoice(c *toolChoice, r *canon.Request) error {
	switch c.Type {
	case "auto":
		r.ToolChoice.Mode = canon.ToolChoiceAuto
	case "any":
		r.ToolChoice.Mode = canon.ToolChoiceAny
	case "none":
		r.ToolChoice.Mode = canon.ToolChoiceNone
	case "tool":
		if c.Name == "" {
			return canon.Fieldf("name", "required for type tool")
		}
		r.ToolChoice = canon.ToolChoice{Mode: canon.ToolChoiceTool, Name: c.Name}
	default:
		return canon.Fieldf("type", "unknown value %q", c.Type)
	}
	if p := c.DisableParallelToolUse; p != nil {
		parallel := !*p
		r.ParallelToolCalls = &parallel
	}
	return nil
}

// EncodeOptions adapts an encoded request to the Anthropic model it goes
// to.
type EncodeOptions struct {
	// DefaultMaxTokens is the max_tokens of a request that has none
	// (Anthropic requires it; OpenAI does not): typically the model's
	// output limit from the catalog. 0 refuses such a request with an
	// error naming max_tokens.
	DefaultMaxTokens int64
	// SystemMessages keeps system messages that come after the first
	// turn as "system" messages in place (Claude Opus 4.8 and later
	// accept them). Default false: each becomes a text block of the user
	// turn it joins, wrapped in <system> tags, which every model accepts;
	// hoisting them into the top-level system instead would move them
	// and break the prompt cache at every new one.
	SystemMessages bool
}

// EncodeRequest appends r as a Messages request body to dst:
//
//   - r.System and the system messages that open the conversation become
//     the top-level system; later ones are placed as SystemMessages says.
//   - Consecutive messages of the same role merge into one turn (OpenAI's
//     tool messages and the user text after them become one user turn,
//     tool results first, as Anthropic requires).
//   - Blocks Anthropic rejects are left out: empty text, and thinking
//     without a signature (reasoning_content from an OpenAI-compatible
//     model, which no Anthropic model could verify).
//   - Enabled thinking is switched off for a request whose open tool
//     loop lacks the thinking block Anthropic demands (a client that did
//     not send the reasoning back); asking for it would be refused.
//   - An OpenAI reasoning effort becomes a thinking budget (see
//     canon.BudgetForEffort); json_schema output becomes
//     output_config.format.
//
// On error dst is returned unchanged with a *canon.FieldError naming
// what cannot be sent.
func EncodeRequest(dst []byte, r *canon.Request, o EncodeOptions) ([]byte, error) {
	start := len(dst)
	dst, err := appendRequest(dst, r, o)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func appendRequest(dst []byte, r *canon.Request, o EncodeOptions) ([]byte, error) {
	maxTokens := r.MaxTokens
	if maxTokens <= 0 {
		maxTokens = o.DefaultMaxTokens
	}
	if maxTokens <= 0 {
		return dst, canon.Fieldf("max_tokens", "required by Anthropic and no default is configured for model %q", r.Model)
	}
	if t := r.Temperature; t != nil && (*t < 0 || *t > 1) {
		return dst, canon.Fieldf("temperature", "Anthropic accepts 0 to 1, got %g", *t)
	}
	var err error
	dst = append(dst, '{')
	dst = canon.AppendStringField(dst, "model", r.Model)
	dst = canon.AppendIntField(dst, "max_tokens", maxTokens)
	lead := r.LeadingSystem()
	if dst, err = appendSystem(dst, r, lead); err != nil {
		return dst, err
	}
	if dst, err = appendMessages(dst, r.Messages, lead, o); err != nil {
		return dst, err
	}
	if len(r.Tools) > 0 {
		dst = append(canon.AppendKey(dst, "tools"), '[')
		for i := range r.Tools {
			dst = appendTool(canon.AppendElem(dst), &r.Tools[i])
		}
		dst = append(dst, ']')
	}
	dst = appendToolChoice(dst, r)
	// Anthropic refuses sampling changes with thinking on (temperature
	// other than 1, top_k, top_p under 0.95): they are left out, and said
	// so, rather than the thinking (Gemini CLI sends temperature 0 with
	// dynamic thinking).
	thinking := thinkingOn(r)
	switch t := r.Temperature; {
	case t == nil:
	case thinking && *t != 1:
		r.Ignore("temperature (with thinking)")
	default:
		dst = canon.AppendFloatField(dst, "temperature", *t)
	}
	switch p := r.TopP; {
	case p == nil:
	case thinking && *p < 0.95:
		r.Ignore("top_p (with thinking)")
	default:
		dst = canon.AppendFloatField(dst, "top_p", *p)
	}
	switch k := r.TopK; {
	case k == nil:
	case thinking:
		r.Ignore("top_k (with thinking)")
	default:
		dst = canon.AppendIntField(dst, "top_k", *k)
	}
	if len(r.Stop) > 0 {
		dst = append(canon.AppendKey(dst, "stop_sequences"), '[')
		for _, s := range r.Stop {
			dst = canon.AppendString(canon.AppendElem(dst), s)
		}
		dst = append(dst, ']')
	}
	if r.Stream {
		dst = canon.AppendBoolField(dst, "stream", true)
	}
	if r.User != "" {
		dst = append(canon.AppendKey(dst, "metadata"), '{')
		dst = append(canon.AppendStringField(dst, "user_id", r.User), '}')
	}
	if dst, err = appendReasoning(dst, r, maxTokens); err != nil {
		return dst, err
	}
	dst = canon.AppendCacheControl(dst, r.Cache)
	return append(dst, '}'), nil
}

// appendSystem appends the top-level system: r.System, then the blocks
// of the first lead messages (system messages that open the
// conversation).
func appendSystem(dst []byte, r *canon.Request, lead int) ([]byte, error) {
	n := len(r.System)
	for i := range lead {
		n += len(r.Messages[i].Content)
	}
	if n == 0 {
		return dst, nil
	}
	dst = append(canon.AppendKey(dst, "system"), '[')
	var err error
	if dst, err = appendSystemBlocks(dst, r.System); err != nil {
		return dst, canon.At(err, "system", -1)
	}
	for i := range lead {
		if dst, err = appendSystemBlocks(dst, r.Messages[i].Content); err != nil {
			return dst, canon.At(err, "messages", i)
		}
	}
	return append(dst, ']'), nil
}

func appendSystemBlocks(dst []byte, blocks []canon.Block) ([]byte, error) {
	for j := range blocks {
		b := &blocks[j]
		if b.Kind != canon.BlockText {
			return dst, canon.At(canon.Fieldf("type", "a system prompt holds text only, got %s", b.Kind), "content", j)
		}
		if b.Text != "" {
			dst = appendText(canon.AppendElem(dst), b.Text, "", "", b.Cache)
		}
	}
	return dst, nil
}

// appendText appends a text block whose text is before + text + after,
// text escaped; before and after must need no escaping.
func appendText(dst []byte, text, before, after string, c canon.CacheControl) []byte {
	dst = append(dst, `{"type":"text","text":"`...)
	dst = append(dst, before...)
	dst = canon.AppendEscaped(dst, text)
	dst = append(dst, after...)
	dst = append(dst, '"')
	dst = canon.AppendCacheControl(dst, c)
	return append(dst, '}')
}

// appendMessages appends "messages": the messages from lead on, each
// run of the same role merged into one turn, system messages placed as
// o.SystemMessages says, and messages left with nothing to send
// skipped.
func appendMessages(dst []byte, msgs []canon.Message, lead int, o EncodeOptions) ([]byte, error) {
	dst = append(canon.AppendKey(dst, "messages"), '[')
	var turn canon.Role // role of the open turn, "" when none is open
	var turnCache canon.CacheControl
	var err error
	for i := lead; i < len(msgs); i++ {
		m := &msgs[i]
		role, wrap := m.Role, false
		if role.IsSystem() {
			role, wrap = canon.RoleSystem, true
			if !o.SystemMessages {
				role = canon.RoleUser
			}
		}
		if !sendable(m.Content) {
			continue
		}
		if role != turn {
			if turn != "" {
				dst = closeTurn(dst, turnCache)
			}
			turn, turnCache = role, canon.CacheControl{}
			dst = append(canon.AppendElem(dst), `{"role":`...)
			dst = canon.AppendString(dst, string(role))
			dst = append(dst, `,"content":[`...)
		}
		if role == canon.RoleSystem && m.Cache.Type != "" {
			turnCache = m.Cache
		}
		if wrap && role == canon.RoleUser {
			dst, err = appendWrappedSystem(dst, m.Content)
		} else {
			dst, err = appendBlocks(dst, m.Content, m.Role)
		}
		if err != nil {
			return dst, canon.At(err, "messages", i)
		}
	}
	if turn != "" {
		dst = closeTurn(dst, turnCache)
	}
	return append(dst, ']'), nil
}

func closeTurn(dst []byte, c canon.CacheControl) []byte {
	dst = append(dst, ']')
	dst = canon.AppendCacheControl(dst, c)
	return append(dst, '}')
}

// sendable reports whether any of blocks will be sent.
func sendable(blocks []canon.Block) bool {
	for j := range blocks {
		if !skipped(&blocks[j]) {
			return true
		}
	}
	return false
}

// skipped reports whether b is left out: Anthropic rejects empty text
// blocks and thinking blocks without a signature.
func skipped(b *canon.Block) bool {
	switch b.Kind {
	case canon.BlockText, canon.BlockRefusal:
		return b.Text == ""
	case canon.BlockThinking:
		return b.Signature == ""
	}
	return false
}

// appendWrappedSystem appends the text of a system message given in the
// middle of the conversation as user text wrapped in <system> tags.
func appendWrappedSystem(dst []byte, blocks []canon.Block) ([]byte, error) {
	for j := range blocks {
		b := &blocks[j]
		if b.Kind != canon.BlockText {
			return dst, canon.At(canon.Fieldf("type", "a system message holds text only, got %s", b.Kind), "content", j)
		}
		if b.Text != "" {
			dst = appendText(canon.AppendElem(dst), b.Text, `<system>\n`, `\n</system>`, b.Cache)
		}
	}
	return dst, nil
}

// appendBlocks appends the blocks of a message of role to the open turn.
func appendBlocks(dst []byte, blocks []canon.Block, role canon.Role) ([]byte, error) {
	var err error
	for j := range blocks {
		b := &blocks[j]
		if skipped(b) {
			continue
		}
		if !allowedIn(b.Kind, role) {
			return dst, canon.At(canon.Fieldf("type", "a %s message cannot hold %s", role, b.Kind), "content", j)
		}
		if dst, err = appendBlock(canon.AppendElem(dst), b); err != nil {
			return dst, canon.At(err, "content", j)
		}
	}
	return dst, nil
}

func allowedIn(k canon.BlockKind, role canon.Role) bool {
	switch k {
	case canon.BlockText:
		return true
	case canon.BlockImage, canon.BlockFile, canon.BlockToolResult:
		return role == canon.RoleUser
	case canon.BlockToolUse, canon.BlockThinking, canon.BlockRedactedThinking, canon.BlockRefusal:
		return role == canon.RoleAssistant
	}
	return false
}

func appendBlock(dst []byte, b *canon.Block) ([]byte, error) {
	switch b.Kind {
	case canon.BlockText, canon.BlockRefusal:
		return appendText(dst, b.Text, "", "", b.Cache), nil
	case canon.BlockImage, canon.BlockFile:
		return appendMedia(dst, b), nil
	case canon.BlockToolUse:
		input := b.Input
		if input == "" {
			input = "{}"
		}
		if !canon.IsObject(input) {
			return dst, canon.Fieldf("input", "tool call arguments must be a JSON object, got %.40q", input)
		}
		dst = append(dst, `{"type":"tool_use"`...)
		dst = canon.AppendStringField(dst, "id", b.ID)
		dst = canon.AppendStringField(dst, "name", b.Name)
		dst = canon.AppendRawField(dst, "input", input)
	case canon.BlockToolResult:
		dst = append(dst, `{"type":"tool_result"`...)
		dst = canon.AppendStringField(dst, "tool_use_id", b.ID)
		if sendable(b.Content) {
			dst = append(canon.AppendKey(dst, "content"), '[')
			for j := range b.Content {
				c := &b.Content[j]
				switch {
				case skipped(c):
				case c.Kind == canon.BlockText:
					dst = appendText(canon.AppendElem(dst), c.Text, "", "", c.Cache)
				case c.Kind == canon.BlockImage || c.Kind == canon.BlockFile:
					dst = appendMedia(canon.AppendElem(dst), c)
				default:
					return dst, canon.At(canon.Fieldf("type", "a tool result cannot hold %s", c.Kind), "content", j)
				}
			}
			dst = append(dst, ']')
		}
		if b.IsError {
			dst = canon.AppendBoolField(dst, "is_error", true)
		}
	case canon.BlockThinking:
		dst = append(dst, `{"type":"thinking"`...)
		dst = canon.AppendStringField(dst, "thinking", b.Text)
		dst = canon.AppendStringField(dst, "signature", b.Signature)
	case canon.BlockRedactedThinking:
		dst = append(dst, `{"type":"redacted_thinking"`...)
		dst = canon.AppendStringField(dst, "data", b.Data)
	default:
		return dst, canon.Fieldf("type", "unknown block kind %s", b.Kind)
	}
	dst = canon.AppendCacheControl(dst, b.Cache)
	return append(dst, '}'), nil
}

// appendMedia appends an image or document block.
func appendMedia(dst []byte, b *canon.Block) []byte {
	if b.Kind == canon.BlockImage {
		dst = append(dst, `{"type":"image","source":{`...)
	} else {
		dst = append(dst, `{"type":"document","source":{`...)
	}
	switch {
	case b.FileID != "":
		dst = append(dst, `"type":"file"`...)
		dst = canon.AppendStringField(dst, "file_id", b.FileID)
	case b.URL != "":
		dst = append(dst, `"type":"url"`...)
		dst = canon.AppendStringField(dst, "url", b.URL)
	case b.Kind == canon.BlockFile && b.Data == "" && b.MediaType == "text/plain":
		dst = append(dst, `"type":"text","media_type":"text/plain"`...)
		dst = canon.AppendStringField(dst, "data", b.Text)
	default:
		dst = append(dst, `"type":"base64"`...)
		dst = canon.AppendStringField(dst, "media_type", b.MediaType)
		dst = canon.AppendStringField(dst, "data", b.Data)
	}
	dst = append(dst, '}')
	if b.Kind == canon.BlockFile && b.Filename != "" {
		dst = canon.AppendStringField(dst, "title", b.Filename)
	}
	dst = canon.AppendCacheControl(dst, b.Cache)
	return append(dst, '}')
}

// emptySchema is the input_schema of a tool declared without parameters:
// Anthropic requires one.
const emptySchema = `{"type":"object","properties":{}}`

func appendTool(dst []byte, t *canon.Tool) []byte {
	dst = append(dst, '{')
	dst = canon.AppendStringField(dst, "name", t.Name)
	if t.Description != "" {
		dst = canon.AppendStringField(dst, "description", t.Description)
	}
	schema := t.Schema
	if schema == "" {
		schema = emptySchema
	}
	dst = canon.AppendRawField(dst, "input_schema", schema)
	if t.Strict != nil {
		dst = canon.AppendBoolField(dst, "strict", *t.Strict)
	}
	dst = canon.AppendCacheControl(dst, t.Cache)
	return append(dst, '}')
}

// appendToolChoice appends tool_choice; parallel_tool_calls joins it as
// disable_parallel_tool_use (with "auto" when no choice was made).
func appendToolChoice(dst []byte, r *canon.Request) []byte {
	c := r.ToolChoice
	if c.Mode == canon.ToolChoiceUnset {
		if r.ParallelToolCalls == nil || len(r.Tools) == 0 {
			return dst
		}
		c.Mode = canon.ToolChoiceAuto
	}
	dst = append(canon.AppendKey(dst, "tool_choice"), '{')
	switch c.Mode {
	case canon.ToolChoiceAuto:
		dst = canon.AppendStringField(dst, "type", "auto")
	case canon.ToolChoiceAny:
		dst = canon.AppendStringField(dst, "type", "any")
	case canon.ToolChoiceNone:
		return append(canon.AppendStringField(dst, "type", "none"), '}')
	case canon.ToolChoiceTool:
		dst = canon.AppendStringField(dst, "type", "tool")
		dst = canon.AppendStringField(dst, "name", c.Name)
	}
	if p := r.ParallelToolCalls; p != nil {
		dst = canon.AppendBoolField(dst, "disable_parallel_tool_use", !*p)
	}
	return append(dst, '}')
}

// anthropicEfforts are the effort levels output_config.effort accepts.
var anthropicEfforts = map[string]bool{"low": true, "medium": true, "high": true, "xhigh": true, "max": true}

// appendReasoning appends thinking and output_config (effort, format).
func appendReasoning(dst []byte, r *canon.Request, maxTokens int64) ([]byte, error) {
	re := &r.Reasoning
	effort, mode, budget := re.Effort, re.Mode, re.BudgetTokens
	if (mode == canon.ThinkingEnabled || mode == canon.ThinkingAdaptive) && forcesTool(r) {
		r.Ignore("reasoning (with a forced tool_choice)")
		mode = canon.ThinkingUnset
	}
	if mode == canon.ThinkingEnabled && budget == 0 {
		// An OpenAI reasoning effort: it becomes the budget, not
		// output_config.effort, which older models refuse.
		if budget = canon.BudgetForEffort(effort, maxTokens); budget == 0 {
			return dst, canon.Fieldf("reasoning_effort", "Anthropic thinking needs max_tokens above %d, got %d", canon.MinThinkingBudget, maxTokens)
		}
		effort = ""
	}
	if mode == canon.ThinkingEnabled && !thinkingReplayed(r.Messages) {
		mode = canon.ThinkingUnset
	}
	switch mode {
	case canon.ThinkingEnabled:
		dst = append(canon.AppendKey(dst, "thinking"), `{"type":"enabled"`...)
		dst = append(canon.AppendIntField(dst, "budget_tokens", budget), '}')
	case canon.ThinkingAdaptive:
		dst = append(canon.AppendKey(dst, "thinking"), `{"type":"adaptive"}`...)
	case canon.ThinkingDisabled:
		dst = append(canon.AppendKey(dst, "thinking"), `{"type":"disabled"}`...)
	}
	f := &r.ResponseFormat
	switch f.Type {
	case "", "text":
		if !anthropicEfforts[effort] {
			return dst, nil
		}
	case "json_schema":
		if f.Schema == "" {
			return dst, canon.Fieldf("response_format.json_schema.schema", "required by Anthropic structured outputs")
		}
	default:
		return dst, canon.Fieldf("response_format.type", "%q has no Anthropic equivalent; use json_schema", f.Type)
	}
	dst = append(canon.AppendKey(dst, "output_config"), '{')
	if anthropicEfforts[effort] {
		dst = canon.AppendStringField(dst, "effort", effort)
	}
	if f.Type == "json_schema" {
		dst = append(canon.AppendKey(dst, "format"), `{"type":"json_schema"`...)
		dst = append(canon.AppendRawField(dst, "schema", f.Schema), '}')
	}
	return append(dst, '}'), nil
}

// thinkingReplayed reports whether a request may ask for enabled
// thinking: Anthropic refuses it when the conversation ends in an open
// tool loop (a user turn of tool results) whose assistant turn does not
// begin with a thinking block. With thinking enabled every assistant
// turn began with one, so its absence means the client dropped it, as
// OpenAI clients do. (Adaptive thinking may have skipped it: such
// requests are left as they are.)
// thinkingOn reports whether appendReasoning turns thinking on.
func thinkingOn(r *canon.Request) bool {
	if forcesTool(r) {
		return false
	}
	switch r.Reasoning.Mode {
	case canon.ThinkingAdaptive:
		return true
	case canon.ThinkingEnabled:
		return thinkingReplayed(r.Messages)
	}
	return false
}

// forcesTool reports whether the request forces a tool call, which
// Anthropic refuses with thinking on: the thinking gives way.
func forcesTool(r *canon.Request) bool {
	m := r.ToolChoice.Mode
	return m == canon.ToolChoiceAny || m == canon.ToolChoiceTool
}

func thinkingReplayed(msgs []canon.Message) bool {
	last := len(msgs) - 1
	for last >= 0 && msgs[last].Role.IsSystem() {
		last--
	}
	if last < 0 || msgs[last].Role != canon.RoleUser || !hasKind(msgs[last].Content, canon.BlockToolResult) {
		return true
	}
	// The tool results may span several user messages (OpenAI tool
	// messages); find the assistant turn before them.
	i := last
	for i >= 0 && msgs[i].Role != canon.RoleAssistant {
		i--
	}
	if i < 0 {
		return true
	}
	for j := range msgs[i].Content {
		b := &msgs[i].Content[j]
		if skipped(b) {
			continue
		}
		return b.Kind == canon.BlockThinking || b.Kind == canon.BlockRedactedThinking
	}
	return false
}

func hasKind(blocks []canon.Block, k canon.BlockKind) bool {
	for j := range blocks {
		if blocks[j].Kind == k {
			return true
		}
	}
	return false
}
