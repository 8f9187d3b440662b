package canon

// Request is a chat call in canonical form.
type Request struct {
	// Model is the model name as the client sent it; the caller replaces
	// it with the upstream model id before encoding.
	Model string
	// System is the top-level system prompt: text blocks, which may carry
	// cache markers. System messages inside the conversation are Messages
	// with RoleSystem or RoleDeveloper.
	System []Block
	// Messages is the conversation in order, as the client structured it.
	Messages []Message
	// Tools are the functions the model may call.
	Tools []Tool
	// ToolChoice says whether and which tool the model must call; the zero
	// value leaves it to the provider's default (auto when there are tools).
	ToolChoice ToolChoice
	// ParallelToolCalls, when set, allows or forbids several tool calls in
	// one answer.
	ParallelToolCalls *bool
	// MaxTokens caps the answer's tokens, reasoning included; 0 is unset.
	MaxTokens int64
	// Temperature, TopP and TopK are the sampling parameters, nil when
	// unset.
	Temperature *float64
	TopP        *float64
	TopK        *int64
	// Stop lists the stop sequences.
	Stop []string
	// Stream asks for a streamed answer.
	Stream bool
	// IncludeUsage asks for usage at the end of a stream (always true for
	// formats that always report it).
	IncludeUsage bool
	// ResponseFormat constrains the answer to JSON; the zero value is
	// free text.
	ResponseFormat ResponseFormat
	// Reasoning configures extended thinking / reasoning effort.
	Reasoning Reasoning
	// User identifies the end user to the provider (OpenAI "user" or
	// "safety_identifier", Anthropic "metadata.user_id").
	User string
	// Cache is a request-wide cache marker (Anthropic's automatic prompt
	// caching); the zero value is none.
	Cache CacheControl
	// Ignored lists, in order, the fields the decoder accepted although
	// no other format can carry them, because they change nothing in the
	// answer ("store", "seed", "service_tier", ...), and those an encoder
	// left out because its provider refuses them in this request (see
	// Ignore). The caller may report them; they are never sent upstream
	// in a translated request.
	Ignored []string
}

// Ignore adds field to Ignored, once: for an encoder that leaves out a
// field the provider refuses in this request.
func (r *Request) Ignore(field string) {
	for _, f := range r.Ignored {
		if f == field {
			return
		}
	}
	r.Ignored = append(r.Ignored, field)
}

// LeadingSystem returns how many of r.Messages, counting from the first,
// are system or developer messages. Formats with a top-level system
// prompt (Anthropic, Gemini) put them there, after r.System.
func (r *Request) LeadingSystem() int {
	n := 0
	for n < len(r.Messages) && r.Messages[n].Role.IsSystem() {
		n++
	}
	return n
}

// Role is who speaks a message.
type Role string

// The roles. RoleSystem and RoleDeveloper inside Messages are system
// instructions given in the middle of the conversation (the top-level
// prompt is Request.System); RoleDeveloper is OpenAI's newer name for
// system and is kept only so that it round-trips.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleSystem    Role = "system"
	RoleDeveloper Role = "developer"
)

// IsSystem reports whether r is RoleSystem or RoleDeveloper.
func (r Role) IsSystem() bool { return r == RoleSystem || r == RoleDeveloper }

// Message is one turn of the conversation. Tool results are blocks of a
// RoleUser message (BlockToolResult); tool calls are blocks of a
// RoleAssistant message (BlockToolUse).
type Message struct {
	Role    Role
	Content []Block
	// Cache is a marker on the whole message (Anthropic system messages
	// inside the conversation carry one); the zero value is none.
	Cache CacheControl
}

// BlockKind is the type of a content block.
type BlockKind uint8

// The kinds of content block. Which fields of Block a kind uses is said
// on each field.
const (
	BlockText BlockKind = iota + 1
	// BlockImage is an image, inline (MediaType + Data), by URL, or by
	// FileID.
	BlockImage
	// BlockFile is a document (PDF, plain text), inline (MediaType +
	// Data, or MediaType "text/plain" + Text), by URL, or by FileID.
	BlockFile
	// BlockToolUse is a tool call made by the model: ID, Name, Input.
	BlockToolUse
	// BlockToolResult is the result of a tool call: ID (the call's id),
	// Content, IsError.
	BlockToolResult
	// BlockThinking is the model's reasoning: Text, and Signature, the
	// provider's opaque proof that must come back byte for byte.
	BlockThinking
	// BlockRedactedThinking is reasoning the provider encrypted: Data,
	// opaque, sent back byte for byte.
	BlockRedactedThinking
	// BlockRefusal is the model's refusal text (OpenAI's "refusal").
	BlockRefusal
)

var blockKindNames = [...]string{
	BlockText:             "text",
	BlockImage:            "image",
	BlockFile:             "file",
	BlockToolUse:          "tool_use",
	BlockToolResult:       "tool_result",
	BlockThinking:         "thinking",
	BlockRedactedThinking: "redacted_thinking",
	BlockRefusal:          "refusal",
}

// String returns the kind's lower-case name, or "unknown".
func (k BlockKind) String() string {
	if int(k) < len(blockKindNames) && blockKindNames[k] != "" {
		return blockKindNames[k]
	}
	return "unknown"
}

// Block is one piece of content. It is a flat struct rather than an
// interface so that a conversation decodes into one slice per message
// without an allocation per block; Kind says which fields are used.
type Block struct {
	Kind BlockKind
	// Text is the text of BlockText, BlockThinking and BlockRefusal, and
	// of a plain-text BlockFile.
	Text string
	// MediaType is the MIME type of inline image or file data
	// ("image/png", "application/pdf").
	MediaType string
	// Data is base64 of an inline image or file, as sent (never decoded);
	// for BlockRedactedThinking the provider's opaque data.
	Data string
	// URL is the address of an image or file given by URL.
	URL string
	// FileID refers to an image or file uploaded to the provider.
	FileID string
	// Filename names a file (OpenAI "filename", Anthropic document
	// "title").
	Filename string
	// Detail is OpenAI's image detail hint ("low", "high", "auto").
	Detail string
	// ID is the call id of BlockToolUse and BlockToolResult.
	ID string
	// Name is the tool name of BlockToolUse.
	Name string
	// Input is the JSON text of a tool call's arguments. From Anthropic
	// it is an object; from OpenAI it is whatever the model produced.
	Input string
	// Content is the result of BlockToolResult: text, image and file
	// blocks.
	Content []Block
	// IsError marks a BlockToolResult that reports a failure.
	IsError bool
	// Signature is a BlockThinking's signature, kept byte for byte; empty
	// when the provider gave none (reasoning_content from an
	// OpenAI-compatible provider).
	Signature string
	// Cache is the block's cache marker; the zero value is none.
	Cache CacheControl
}

// AppendSchemaFields appends a json_schema format's members to dst
// (after AppendKey's comma rule): name ("response" when unnamed),
// description, schema and strict, as OpenAI's response_format.json_schema
// and Responses' text.format both spell them.
func (f *ResponseFormat) AppendSchemaFields(dst []byte) []byte {
	name := f.Name
	if name == "" {
		name = "response"
	}
	dst = AppendStringField(dst, "name", name)
	if f.Description != "" {
		dst = AppendStringField(dst, "description", f.Description)
	}
	if f.Schema != "" {
		dst = AppendRawField(dst, "schema", f.Schema)
	}
	if f.Strict != nil {
		dst = AppendBoolField(dst, "strict", *f.Strict)
	}
	return dst
}

// CacheControl is a prompt-cache breakpoint (Anthropic "cache_control").
// It decodes from its wire form directly.
type CacheControl struct {
	// Type is "ephemeral"; empty means no marker.
	Type string `json:"type"`
	// TTL is "5m" or "1h"; empty is the provider's default.
	TTL string `json:"ttl"`
}

// AppendCacheControl appends `"cache_control":{...}` for c to dst, or
// nothing when c is the zero value (see AppendKey).
func AppendCacheControl(dst []byte, c CacheControl) []byte {
	if c.Type == "" {
		return dst
	}
	dst = append(AppendKey(dst, "cache_control"), '{')
	dst = AppendStringField(dst, "type", c.Type)
	if c.TTL != "" {
		dst = AppendStringField(dst, "ttl", c.TTL)
	}
	return append(dst, '}')
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Schema is the JSON text of the arguments' JSON Schema; empty when
	// the client gave none.
	Schema string
	// Strict asks the provider to enforce the schema, nil when unset.
	Strict *bool
	// Cache is the tool's cache marker.
	Cache CacheControl
}

// ToolChoiceMode says whether the model must call a tool.
type ToolChoiceMode uint8

// The tool choice modes. ToolChoiceAny is OpenAI "required".
const (
	ToolChoiceUnset ToolChoiceMode = iota
	ToolChoiceAuto
	ToolChoiceNone
	ToolChoiceAny
	// ToolChoiceTool forces the tool named in ToolChoice.Name.
	ToolChoiceTool
)

// ToolChoice is the request's tool choice.
type ToolChoice struct {
	Mode ToolChoiceMode
	Name string
}

// ResponseFormat constrains the answer's text.
type ResponseFormat struct {
	// Type is "", "text", "json_object" or "json_schema".
	Type string
	// Name, Description, Schema (JSON text) and Strict describe a
	// json_schema format.
	Name        string
	Description string
	Schema      string
	Strict      *bool
}

// ThinkingMode is the request's extended-thinking switch.
type ThinkingMode uint8

// The thinking modes. ThinkingUnset leaves it to the provider.
const (
	ThinkingUnset ThinkingMode = iota
	// ThinkingEnabled thinks with a budget: Reasoning.BudgetTokens, or
	// one derived from Reasoning.Effort when that is 0.
	ThinkingEnabled
	// ThinkingAdaptive lets the model decide how much to think.
	ThinkingAdaptive
	// ThinkingDisabled turns thinking off.
	ThinkingDisabled
)

// Reasoning configures how much the model reasons before answering.
type Reasoning struct {
	Mode ThinkingMode
	// BudgetTokens is the thinking budget; 0 is unset.
	BudgetTokens int64
	// Effort is a level as the client named it: "none", "minimal",
	// "low", "medium", "high", "xhigh" or "max"; empty is unset.
	Effort string
}

// SetEffort applies an OpenAI reasoning effort (reasoning_effort,
// reasoning.effort): reasoning enabled at that effort, or disabled for
// "none". An empty effort changes nothing.
func (r *Reasoning) SetEffort(e string) {
	if e == "" {
		return
	}
	r.Effort, r.Mode = e, ThinkingEnabled
	if e == "none" {
		r.Mode = ThinkingDisabled
	}
}

// OpenAIEffort returns the OpenAI reasoning effort for r: its effort as
// named (Anthropic's "max" is OpenAI's "xhigh"), or one derived from a
// thinking budget's share of maxTokens; "" to leave it to the provider
// (thinking adaptive, disabled or unset).
func (r *Reasoning) OpenAIEffort(maxTokens int64) string {
	switch {
	case r.Effort == "max":
		return "xhigh"
	case r.Effort != "":
		return r.Effort
	case r.Mode == ThinkingEnabled && r.BudgetTokens > 0:
		return EffortForBudget(r.BudgetTokens, maxTokens)
	}
	return ""
}
