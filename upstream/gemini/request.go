package gemini

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/bytedance/sonic"

	"switchboard/upstream/canon"
)

// generateRequest is a GenerateContentRequest as clients send it. Fields
// not declared are refused by the strict decoder.
type generateRequest struct {
	// Model is accepted for clients that repeat the path's model in the
	// body; the path's model wins (see DecodeRequest).
	Model             string                   `json:"model"`
	Contents          []content                `json:"contents"`
	SystemInstruction *content                 `json:"systemInstruction"`
	Tools             []sonic.NoCopyRawMessage `json:"tools"`
	ToolConfig        *struct {
		FunctionCallingConfig *struct {
			Mode                 string   `json:"mode"`
			AllowedFunctionNames []string `json:"allowedFunctionNames"`
		} `json:"functionCallingConfig"`
	} `json:"toolConfig"`
	GenerationConfig *generationConfig `json:"generationConfig"`

	// Refused when set: a server-side cache another provider lacks.
	CachedContent sonic.NoCopyRawMessage `json:"cachedContent"`

	// Hints: accepted, reported in Request.Ignored, never translated.
	SafetySettings sonic.NoCopyRawMessage `json:"safetySettings"`
	Labels         sonic.NoCopyRawMessage `json:"labels"`
}

type content struct {
	Role  string `json:"role"`
	Parts []part `json:"parts"`
}

type part struct {
	Text             *string       `json:"text"`
	Thought          bool          `json:"thought"`
	ThoughtSignature string        `json:"thoughtSignature"`
	InlineData       *blob         `json:"inlineData"`
	FileData         *fileData     `json:"fileData"`
	FunctionCall     *functionCall `json:"functionCall"`
	FunctionResponse *struct {
		ID       string                 `json:"id"`
		Name     string                 `json:"name"`
		Response sonic.NoCopyRawMessage `json:"response"`
	} `json:"functionResponse"`
	// Refused when set: server-side code execution and video clipping.
	ExecutableCode      sonic.NoCopyRawMessage `json:"executableCode"`
	CodeExecutionResult sonic.NoCopyRawMessage `json:"codeExecutionResult"`
	VideoMetadata       sonic.NoCopyRawMessage `json:"videoMetadata"`
}

type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type fileData struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

type functionCall struct {
	ID   string                 `json:"id"`
	Name string                 `json:"name"`
	Args sonic.NoCopyRawMessage `json:"args"`
}

type functionDeclaration struct {
	Name                 string                 `json:"name"`
	Description          string                 `json:"description"`
	Parameters           sonic.NoCopyRawMessage `json:"parameters"`
	ParametersJSONSchema sonic.NoCopyRawMessage `json:"parametersJsonSchema"`
	// Refused when set.
	Response           sonic.NoCopyRawMessage `json:"response"`
	ResponseJSONSchema sonic.NoCopyRawMessage `json:"responseJsonSchema"`
	Behavior           sonic.NoCopyRawMessage `json:"behavior"`
}

type generationConfig struct {
	MaxOutputTokens    *int64                 `json:"maxOutputTokens"`
	Temperature        *float64               `json:"temperature"`
	TopP               *float64               `json:"topP"`
	TopK               *int64                 `json:"topK"`
	StopSequences      []string               `json:"stopSequences"`
	CandidateCount     *int64                 `json:"candidateCount"`
	ResponseMimeType   string                 `json:"responseMimeType"`
	ResponseSchema     sonic.NoCopyRawMessage `json:"responseSchema"`
	ResponseJSONSchema sonic.NoCopyRawMessage `json:"responseJsonSchema"`
	ThinkingConfig     *struct {
		ThinkingBudget  *int64 `json:"thinkingBudget"`
		ThinkingLevel   string `json:"thinkingLevel"`
		IncludeThoughts *bool  `json:"includeThoughts"`
	} `json:"thinkingConfig"`
	// Hint: reported in Request.Ignored.
	Seed sonic.NoCopyRawMessage `json:"seed"`
	// Refused when set: no canonical equivalent.
	PresencePenalty    sonic.NoCopyRawMessage `json:"presencePenalty"`
	FrequencyPenalty   sonic.NoCopyRawMessage `json:"frequencyPenalty"`
	ResponseLogprobs   sonic.NoCopyRawMessage `json:"responseLogprobs"`
	Logprobs           sonic.NoCopyRawMessage `json:"logprobs"`
	ResponseModalities sonic.NoCopyRawMessage `json:"responseModalities"`
	SpeechConfig       sonic.NoCopyRawMessage `json:"speechConfig"`
	MediaResolution    sonic.NoCopyRawMessage `json:"mediaResolution"`
}

// DecodeRequest decodes a GenerateContentRequest body into r, which it
// resets first. The model is not in a Gemini body but in the URL path
// (/v1beta/models/{model}:generateContent): the caller sets r.Model from
// the path, and r.Stream from the method (streamGenerateContent); a
// "model" member in the body, which some clients send, is kept in
// r.Model only for the caller to overwrite.
//
// Gemini has no tool call ids: each functionCall gets "call_<n>", n
// counting the calls of the request from 0 (or the part's own "id" when
// the client sent one), and each functionResponse takes the id of the
// oldest unanswered call of the same name. A thoughtSignature on a part
// that is not a thought becomes a thinking block with empty text and
// that signature, placed just before the part's block. It refuses, with
// a *canon.FieldError naming the field, what no other format can carry
// (built-in tools, code execution, cachedContent, penalties, several
// candidates, ...) and any unknown field. Strings in r point into body.
func DecodeRequest(body []byte, r *canon.Request) error {
	*r = canon.Request{}
	var w generateRequest
	if err := canon.DecodeStrict(body, &w, ""); err != nil {
		return err
	}
	switch {
	case !canon.IsNull(w.CachedContent):
		return canon.Fieldf("cachedContent", "Gemini's cached contents cannot be translated")
	case len(w.Contents) == 0:
		return canon.Fieldf("contents", "want at least one content")
	}
	if !canon.IsNull(w.SafetySettings) {
		r.Ignored = append(r.Ignored, "safetySettings")
	}
	if !canon.IsNull(w.Labels) {
		r.Ignored = append(r.Ignored, "labels")
	}
	r.Model = w.Model
	r.IncludeUsage = true
	d := decoding{blocks: make([]canon.Block, 0, 2*len(w.Contents))}
	if s := w.SystemInstruction; s != nil {
		for i := range s.Parts {
			p := &s.Parts[i]
			if p.Text == nil || p.Thought || p.InlineData != nil || p.FileData != nil || p.FunctionCall != nil || p.FunctionResponse != nil {
				return canon.Fieldf("systemInstruction.parts["+strconv.Itoa(i)+"]", "want a text part")
			}
			r.System = append(r.System, canon.Block{Kind: canon.BlockText, Text: *p.Text})
		}
	}
	r.Messages = make([]canon.Message, len(w.Contents))
	for i := range w.Contents {
		if err := d.content(&w.Contents[i], &r.Messages[i]); err != nil {
			return canon.At(err, "contents", i)
		}
	}
	for i, raw := range w.Tools {
		if err := decodeTool(raw, r, "tools["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	if c := w.ToolConfig; c != nil && c.FunctionCallingConfig != nil {
		f := c.FunctionCallingConfig
		switch f.Mode {
		case "", "MODE_UNSPECIFIED", "AUTO":
			r.ToolChoice.Mode = canon.ToolChoiceAuto
		case "ANY":
			r.ToolChoice.Mode = canon.ToolChoiceAny
		case "NONE":
			r.ToolChoice.Mode = canon.ToolChoiceNone
		default:
			return canon.Fieldf("toolConfig.functionCallingConfig.mode", "unknown value %q", f.Mode)
		}
		switch {
		case len(f.AllowedFunctionNames) == 1 && r.ToolChoice.Mode == canon.ToolChoiceAny:
			r.ToolChoice = canon.ToolChoice{Mode: canon.ToolChoiceTool, Name: f.AllowedFunctionNames[0]}
		case len(f.AllowedFunctionNames) > 0:
			return canon.Fieldf("toolConfig.functionCallingConfig.allowedFunctionNames", "only one name with mode ANY can be translated")
		}
	}
	if g := w.GenerationConfig; g != nil {
		if err := decodeGenerationConfig(g, r); err != nil {
			return canon.At(err, "generationConfig", -1)
		}
	}
	return nil
}

// decoding is the memory of one request's decode (see package anthropic).
type decoding struct {
	blocks  []canon.Block
	calls   int
	pending []pendingCall // calls not yet answered, oldest first
}

type pendingCall struct{ name, id string }

func (d *decoding) callID(id string) string {
	if id == "" {
		id = "call_" + strconv.Itoa(d.calls)
	}
	d.calls++
	return id
}

// resultID returns the id of the oldest unanswered call named name.
func (d *decoding) resultID(name, id string) string {
	for i, c := range d.pending {
		if c.name == name && (id == "" || c.id == id) {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			return c.id
		}
	}
	if id != "" {
		return id
	}
	return d.callID("")
}

func (d *decoding) content(w *content, m *canon.Message) error {
	switch w.Role {
	case "", "user", "function":
		m.Role = canon.RoleUser
	case "model":
		m.Role = canon.RoleAssistant
	default:
		return canon.Fieldf("role", "unknown role %q", w.Role)
	}
	start := len(d.blocks)
	for i := range w.Parts {
		if err := d.part(&w.Parts[i], m.Role); err != nil {
			return canon.At(err, "parts", i)
		}
	}
	m.Content = d.blocks[start:len(d.blocks):len(d.blocks)]
	return nil
}

func (d *decoding) part(p *part, role canon.Role) error {
	switch {
	case !canon.IsNull(p.ExecutableCode):
		return canon.Fieldf("executableCode", "Gemini's code execution cannot be translated")
	case !canon.IsNull(p.CodeExecutionResult):
		return canon.Fieldf("codeExecutionResult", "Gemini's code execution cannot be translated")
	case !canon.IsNull(p.VideoMetadata):
		return canon.Fieldf("videoMetadata", "video clipping cannot be translated")
	}
	if p.Thought {
		if p.Text == nil {
			return canon.Fieldf("thought", "want a text part")
		}
		d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockThinking, Text: *p.Text, Signature: p.ThoughtSignature})
		return nil
	}
	if p.ThoughtSignature != "" {
		d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockThinking, Signature: p.ThoughtSignature})
	}
	switch {
	case p.Text != nil:
		d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockText, Text: *p.Text})
	case p.InlineData != nil:
		b := canon.Block{Kind: mediaKind(p.InlineData.MimeType), MediaType: p.InlineData.MimeType, Data: p.InlineData.Data}
		d.blocks = append(d.blocks, b)
	case p.FileData != nil:
		b := canon.Block{Kind: mediaKind(p.FileData.MimeType), MediaType: p.FileData.MimeType, URL: p.FileData.FileURI}
		d.blocks = append(d.blocks, b)
	case p.FunctionCall != nil:
		if role != canon.RoleAssistant {
			return canon.Fieldf("functionCall", "a function call must be in a model content")
		}
		args := canon.Trim(p.FunctionCall.Args)
		input := "{}"
		if !canon.IsNull(args) {
			input = canon.View(args)
		}
		id := d.callID(p.FunctionCall.ID)
		d.pending = append(d.pending, pendingCall{p.FunctionCall.Name, id})
		d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockToolUse, ID: id, Name: p.FunctionCall.Name, Input: input})
	case p.FunctionResponse != nil:
		f := p.FunctionResponse
		if role != canon.RoleUser {
			return canon.Fieldf("functionResponse", "a function response must be in a user content")
		}
		resp := canon.Trim(f.Response)
		text := "{}"
		if !canon.IsNull(resp) {
			text = canon.View(resp)
		}
		d.blocks = append(d.blocks, canon.Block{Kind: canon.BlockToolResult, ID: d.resultID(f.Name, f.ID),
			Content: []canon.Block{{Kind: canon.BlockText, Text: text}}})
	case p.ThoughtSignature != "":
		// A signature alone, already kept.
	default:
		return canon.Fieldf("", "empty part")
	}
	return nil
}

func mediaKind(mime string) canon.BlockKind {
	if strings.HasPrefix(mime, "image/") {
		return canon.BlockImage
	}
	return canon.BlockFile
}

func decodeTool(raw []byte, r *canon.Request, at string) error {
	var w struct {
		FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
	}
	if err := canon.DecodeStrict(raw, &w, at); err != nil {
		return err
	}
	for i := range w.FunctionDeclarations {
		f := &w.FunctionDeclarations[i]
		field := at + ".functionDeclarations[" + strconv.Itoa(i) + "]"
		switch {
		case !canon.IsNull(f.Response), !canon.IsNull(f.ResponseJSONSchema):
			return canon.Fieldf(field+".response", "a function's response schema cannot be translated")
		case !canon.IsNull(f.Behavior):
			return canon.Fieldf(field+".behavior", "non-blocking functions cannot be translated")
		case f.Name == "":
			return canon.Fieldf(field+".name", "want a name")
		}
		schema := canon.Trim(f.ParametersJSONSchema)
		if canon.IsNull(schema) {
			schema = canon.Trim(f.Parameters)
		}
		t := canon.Tool{Name: f.Name, Description: f.Description}
		if !canon.IsNull(schema) {
			t.Schema = canon.View(schema)
		}
		r.Tools = append(r.Tools, t)
	}
	return nil
}

func decodeGenerationConfig(g *generationConfig, r *canon.Request) error {
	for _, f := range [...]struct {
		name string
		raw  []byte
	}{{"presencePenalty", g.PresencePenalty}, {"frequencyPenalty", g.FrequencyPenalty}, {"responseLogprobs", g.ResponseLogprobs},
		{"logprobs", g.Logprobs}, {"responseModalities", g.ResponseModalities}, {"speechConfig", g.SpeechConfig}, {"mediaResolution", g.MediaResolution}} {
		if !canon.IsNull(f.raw) {
			return canon.Fieldf(f.name, "no translation")
		}
	}
	if g.CandidateCount != nil && *g.CandidateCount != 1 {
		return canon.Fieldf("candidateCount", "only one candidate can be translated, got %d", *g.CandidateCount)
	}
	if !canon.IsNull(g.Seed) {
		r.Ignored = append(r.Ignored, "generationConfig.seed")
	}
	if g.MaxOutputTokens != nil {
		r.MaxTokens = *g.MaxOutputTokens
	}
	r.Temperature, r.TopP, r.TopK = g.Temperature, g.TopP, g.TopK
	r.Stop = g.StopSequences
	schema := canon.Trim(g.ResponseJSONSchema)
	if canon.IsNull(schema) {
		schema = canon.Trim(g.ResponseSchema)
	}
	switch g.ResponseMimeType {
	case "":
		if !canon.IsNull(schema) {
			return canon.Fieldf("responseMimeType", "a response schema needs application/json")
		}
	case "text/plain":
		r.ResponseFormat.Type = "text"
	case "application/json":
		r.ResponseFormat.Type = "json_object"
		if !canon.IsNull(schema) {
			r.ResponseFormat = canon.ResponseFormat{Type: "json_schema", Name: "response", Schema: canon.View(schema)}
		}
	default:
		return canon.Fieldf("responseMimeType", "unknown value %q", g.ResponseMimeType)
	}
	if t := g.ThinkingConfig; t != nil {
		if b := t.ThinkingBudget; b != nil {
			switch {
			case *b == -1:
				r.Reasoning.Mode = canon.ThinkingAdaptive
			case *b == 0:
				r.Reasoning.Mode = canon.ThinkingDisabled
			case *b > 0:
				r.Reasoning.Mode, r.Reasoning.BudgetTokens = canon.ThinkingEnabled, *b
			default:
				return canon.Fieldf("thinkingConfig.thinkingBudget", "invalid value %d", *b)
			}
		}
		switch strings.ToLower(t.ThinkingLevel) {
		case "":
		case "minimal", "low", "medium", "high":
			r.Reasoning.Effort = strings.ToLower(t.ThinkingLevel)
		default:
			return canon.Fieldf("thinkingConfig.thinkingLevel", "unknown value %q", t.ThinkingLevel)
		}
		if t.IncludeThoughts != nil && *t.IncludeThoughts && r.Reasoning.Mode == canon.ThinkingUnset {
			r.Reasoning.Mode = canon.ThinkingAdaptive
		}
	}
	return nil
}

// EncodeOptions adapts an encoded request to the Gemini model it goes
// to. It has no fields yet; it is there so that the three codecs are
// called alike.
type EncodeOptions struct{}

// EncodeRequest appends r as a GenerateContentRequest body to dst. The
// model and streaming go in the URL, not the body; r.User, cache markers
// and ParallelToolCalls have no Gemini field and are left out.
//
//   - r.System and the system messages that open the conversation become
//     systemInstruction; later ones become <system>-tagged text of the
//     user turn they join. Consecutive messages of one role merge.
//   - Tool results become functionResponse parts named after the call
//     they answer (found by id among the request's tool uses); a result
//     that is one JSON object is the response as is, other text is
//     {"output": text} ({"error": text} when IsError).
//   - Thinking blocks without a signature, and redacted thinking, are
//     left out; a thinking block with empty text lends its signature to
//     the part that follows it.
//   - Reasoning: enabled is thinkingBudget N, adaptive -1, disabled 0,
//     an effort without budget its share of max tokens; thinking
//     enabled or adaptive asks for includeThoughts.
//
// On error dst is returned unchanged with a *canon.FieldError.
func EncodeRequest(dst []byte, r *canon.Request, o EncodeOptions) ([]byte, error) {
	start := len(dst)
	dst, err := appendRequest(dst, r)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func appendRequest(dst []byte, r *canon.Request) ([]byte, error) {
	lead := r.LeadingSystem()
	dst = append(dst, `{"contents":[`...)
	last := canon.Role("")
	open := false
	start := 0 // where the open content starts, its comma included
	var err error
	for i := lead; i < len(r.Messages); i++ {
		m := &r.Messages[i]
		if !sendable(m.Content) {
			continue // so that the turns around it merge
		}
		role := m.Role
		if role.IsSystem() {
			role = canon.RoleUser
		}
		if !open || role != last {
			if open {
				dst = closeContent(dst, start)
			}
			start = len(dst)
			dst = canon.AppendElem(dst)
			wire := "user"
			if role == canon.RoleAssistant {
				wire = "model"
			}
			dst = append(dst, `{"role":"`...)
			dst = append(dst, wire...)
			dst = append(dst, `","parts":[`...)
			open, last = true, role
		}
		if m.Role.IsSystem() {
			for j := range m.Content {
				b := &m.Content[j]
				if b.Kind != canon.BlockText {
					return dst, canon.Fieldf("messages["+strconv.Itoa(i)+"].content["+strconv.Itoa(j)+"]", "a system message holds text only")
				}
				dst = appendTextPart(canon.AppendElem(dst), "<system>\n"+b.Text+"\n</system>", false, "")
			}
			continue
		}
		if dst, err = appendParts(dst, r, m.Content); err != nil {
			return dst, canon.At(err, "messages", i)
		}
	}
	if open {
		dst = closeContent(dst, start)
	}
	dst = append(dst, ']')
	if len(r.System) > 0 || lead > 0 {
		dst = append(canon.AppendKey(dst, "systemInstruction"), `{"parts":[`...)
		for _, b := range r.System {
			dst = appendTextPart(canon.AppendElem(dst), b.Text, false, "")
		}
		for i := range lead {
			for _, b := range r.Messages[i].Content {
				if b.Kind != canon.BlockText {
					return dst, canon.Fieldf("messages["+strconv.Itoa(i)+"]", "a system message holds text only")
				}
				dst = appendTextPart(canon.AppendElem(dst), b.Text, false, "")
			}
		}
		dst = append(dst, "]}"...)
	}
	if len(r.Tools) > 0 {
		dst = append(canon.AppendKey(dst, "tools"), `[{"functionDeclarations":[`...)
		for i := range r.Tools {
			t := &r.Tools[i]
			dst = append(canon.AppendElem(dst), '{')
			dst = canon.AppendStringField(dst, "name", t.Name)
			if t.Description != "" {
				dst = canon.AppendStringField(dst, "description", t.Description)
			}
			if t.Schema != "" {
				dst = canon.AppendRawField(dst, "parametersJsonSchema", t.Schema)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, "]}]"...)
	}
	if c := r.ToolChoice; c.Mode != canon.ToolChoiceUnset {
		mode := "AUTO"
		switch c.Mode {
		case canon.ToolChoiceNone:
			mode = "NONE"
		case canon.ToolChoiceAny, canon.ToolChoiceTool:
			mode = "ANY"
		}
		dst = append(canon.AppendKey(dst, "toolConfig"), `{"functionCallingConfig":{`...)
		dst = canon.AppendStringField(dst, "mode", mode)
		if c.Mode == canon.ToolChoiceTool {
			dst = append(canon.AppendKey(dst, "allowedFunctionNames"), '[')
			dst = append(canon.AppendString(dst, c.Name), ']')
		}
		dst = append(dst, "}}"...)
	}
	return appendGenerationConfig(dst, r)
}

// sendable reports whether blocks hold a part Gemini is sent.
func sendable(blocks []canon.Block) bool {
	for i := range blocks {
		switch b := &blocks[i]; b.Kind {
		case canon.BlockRedactedThinking:
		case canon.BlockThinking:
			if b.Signature != "" {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// closeContent closes the content that starts at start, or removes it
// when it has no part (a turn of unsigned thinking only): Gemini refuses
// a content without parts.
func closeContent(dst []byte, start int) []byte {
	if dst[len(dst)-1] == '[' {
		return dst[:start]
	}
	return append(dst, "]}"...)
}

func appendGenerationConfig(dst []byte, r *canon.Request) ([]byte, error) {
	dst = append(canon.AppendKey(dst, "generationConfig"), '{')
	if r.MaxTokens > 0 {
		dst = canon.AppendIntField(dst, "maxOutputTokens", r.MaxTokens)
	}
	if r.Temperature != nil {
		if *r.Temperature > 2 {
			return dst, canon.Fieldf("temperature", "Gemini's range is 0 to 2, got %g", *r.Temperature)
		}
		dst = canon.AppendFloatField(dst, "temperature", *r.Temperature)
	}
	if r.TopP != nil {
		dst = canon.AppendFloatField(dst, "topP", *r.TopP)
	}
	if r.TopK != nil {
		dst = canon.AppendIntField(dst, "topK", *r.TopK)
	}
	if len(r.Stop) > 0 {
		dst = append(canon.AppendKey(dst, "stopSequences"), '[')
		for _, s := range r.Stop {
			dst = canon.AppendString(canon.AppendElem(dst), s)
		}
		dst = append(dst, ']')
	}
	switch f := &r.ResponseFormat; f.Type {
	case "", "text":
		if f.Type == "text" {
			dst = canon.AppendStringField(dst, "responseMimeType", "text/plain")
		}
	case "json_object":
		dst = canon.AppendStringField(dst, "responseMimeType", "application/json")
	case "json_schema":
		dst = canon.AppendStringField(dst, "responseMimeType", "application/json")
		if f.Schema != "" {
			dst = canon.AppendRawField(dst, "responseJsonSchema", f.Schema)
		}
	default:
		return dst, canon.Fieldf("response_format.type", "unknown value %q", f.Type)
	}
	rs := &r.Reasoning
	budget, set := int64(0), true
	switch rs.Mode {
	case canon.ThinkingEnabled:
		budget = rs.BudgetTokens
		if budget == 0 {
			budget = canon.BudgetForEffort(rs.Effort, r.MaxTokens)
		}
		if budget == 0 {
			budget = -1
		}
	case canon.ThinkingAdaptive:
		budget = -1
	case canon.ThinkingDisabled:
	default:
		set = false
		switch rs.Effort {
		case "":
		case "none":
			set = true
		default:
			if budget = canon.BudgetForEffort(rs.Effort, r.MaxTokens); budget == 0 {
				budget = -1
			}
			set = true
		}
	}
	if set {
		dst = append(canon.AppendKey(dst, "thinkingConfig"), '{')
		dst = canon.AppendIntField(dst, "thinkingBudget", budget)
		if budget != 0 {
			dst = canon.AppendBoolField(dst, "includeThoughts", true)
		}
		dst = append(dst, '}')
	}
	if dst[len(dst)-1] == '{' {
		// An empty generationConfig: drop it.
		dst = dst[:len(dst)-len(`,"generationConfig":{`)]
		return append(dst, '}'), nil
	}
	return append(dst, "}}"...), nil
}

func appendTextPart(dst []byte, text string, thought bool, sig string) []byte {
	dst = append(dst, '{')
	dst = canon.AppendStringField(dst, "text", text)
	if thought {
		dst = canon.AppendBoolField(dst, "thought", true)
	}
	if sig != "" {
		dst = canon.AppendStringField(dst, "thoughtSignature", sig)
	}
	return append(dst, '}')
}

// appendParts appends the parts of one message's blocks.
func appendParts(dst []byte, r *canon.Request, blocks []canon.Block) ([]byte, error) {
	sig := "" // a signature waiting for the next part
	for j := range blocks {
		b := &blocks[j]
		switch b.Kind {
		case canon.BlockThinking:
			if b.Signature == "" {
				continue
			}
			if b.Text == "" && j+1 < len(blocks) && blocks[j+1].Kind != canon.BlockThinking {
				sig = b.Signature
				continue
			}
			dst = appendTextPart(canon.AppendElem(dst), b.Text, true, b.Signature)
			continue
		case canon.BlockRedactedThinking:
			continue
		}
		dst = append(canon.AppendElem(dst), '{')
		switch b.Kind {
		case canon.BlockText, canon.BlockRefusal:
			dst = canon.AppendStringField(dst, "text", b.Text)
		case canon.BlockImage, canon.BlockFile:
			var err error
			if dst, err = appendMedia(dst, b); err != nil {
				return dst, canon.At(err, "content", j)
			}
		case canon.BlockToolUse:
			dst = append(canon.AppendKey(dst, "functionCall"), '{')
			dst = canon.AppendStringField(dst, "name", b.Name)
			args := b.Input
			if strings.TrimSpace(args) == "" {
				args = "{}"
			}
			if !canon.IsObject(args) {
				return dst, canon.Fieldf("content["+strconv.Itoa(j)+"].input", "Gemini wants the arguments as a JSON object")
			}
			dst = append(canon.AppendRawField(dst, "args", args), '}')
		case canon.BlockToolResult:
			name := callName(r, b.ID)
			if name == "" {
				return dst, canon.Fieldf("content["+strconv.Itoa(j)+"].tool_use_id", "no tool call with id %q to name the function response", b.ID)
			}
			dst = append(canon.AppendKey(dst, "functionResponse"), '{')
			dst = canon.AppendStringField(dst, "name", name)
			var err error
			if dst, err = appendResult(canon.AppendKey(dst, "response"), b); err != nil {
				return dst, canon.At(err, "content", j)
			}
			dst = append(dst, '}')
		default:
			return dst, canon.Fieldf("content["+strconv.Itoa(j)+"]", "a %s block cannot be sent to Gemini", b.Kind)
		}
		if sig != "" {
			dst = canon.AppendStringField(dst, "thoughtSignature", sig)
			sig = ""
		}
		dst = append(dst, '}')
	}
	return dst, nil
}

func appendMedia(dst []byte, b *canon.Block) ([]byte, error) {
	switch {
	case b.Data != "":
		dst = append(canon.AppendKey(dst, "inlineData"), '{')
		dst = canon.AppendStringField(dst, "mimeType", b.MediaType)
		dst = canon.AppendStringField(dst, "data", b.Data)
	case b.Text != "":
		mt := b.MediaType
		if mt == "" {
			mt = "text/plain"
		}
		dst = append(canon.AppendKey(dst, "inlineData"), '{')
		dst = canon.AppendStringField(dst, "mimeType", mt)
		dst = append(canon.AppendKey(dst, "data"), '"')
		dst = base64.StdEncoding.AppendEncode(dst, []byte(b.Text))
		dst = append(dst, '"')
	case b.URL != "":
		dst = append(canon.AppendKey(dst, "fileData"), '{')
		if b.MediaType != "" {
			dst = canon.AppendStringField(dst, "mimeType", b.MediaType)
		}
		dst = canon.AppendStringField(dst, "fileUri", b.URL)
	default:
		return dst, canon.Fieldf("", "a file by id cannot be sent to Gemini")
	}
	return append(dst, '}'), nil
}

// appendResult appends the response object of a tool result.
func appendResult(dst []byte, b *canon.Block) ([]byte, error) {
	if len(b.Content) == 1 && b.Content[0].Kind == canon.BlockText && !b.IsError && canon.IsObject(b.Content[0].Text) {
		return append(dst, strings.TrimSpace(b.Content[0].Text)...), nil
	}
	key := "output"
	if b.IsError {
		key = "error"
	}
	dst = append(canon.AppendKey(append(dst, '{'), key), '"')
	for i := range b.Content {
		c := &b.Content[i]
		if c.Kind != canon.BlockText {
			return dst, canon.Fieldf("content["+strconv.Itoa(i)+"]", "a %s in a tool result cannot be sent to Gemini", c.Kind)
		}
		if i > 0 {
			dst = append(dst, '\\', 'n')
		}
		dst = canon.AppendEscaped(dst, c.Text)
	}
	return append(dst, '"', '}'), nil
}

// callName returns the name of the tool call with id in r.
func callName(r *canon.Request, id string) string {
	for i := range r.Messages {
		for j := range r.Messages[i].Content {
			if b := &r.Messages[i].Content[j]; b.Kind == canon.BlockToolUse && b.ID == id {
				return b.Name
			}
		}
	}
	return ""
}
