package responses

import (
	"switchboard/upstream/canon"
)

// EncodeOptions adapt a Responses request to the provider. There are
// none yet; the type is kept so that the three codecs are called alike.
type EncodeOptions struct{}

// EncodeRequest appends r as a Responses request body to dst. r.System
// becomes "instructions"; messages become input items: an assistant
// message's thinking blocks become reasoning items (Signature as
// encrypted_content), its texts and refusals one message item, its tool
// calls function_call items; a user message's tool results become
// function_call_output items. The request is always stateless: "store"
// is false, and reasoning asks for its encrypted content back. On error
// dst is returned unchanged with a *canon.FieldError naming what cannot
// be sent.
func EncodeRequest(dst []byte, r *canon.Request, o EncodeOptions) ([]byte, error) {
	start := len(dst)
	dst, err := appendRequest(dst, r)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func appendRequest(dst []byte, r *canon.Request) ([]byte, error) {
	var err error
	dst = append(dst, '{')
	dst = canon.AppendStringField(dst, "model", r.Model)
	if len(r.System) > 0 {
		dst = canon.AppendKey(dst, "instructions")
		dst = append(dst, '"')
		for j := range r.System {
			b := &r.System[j]
			if b.Kind != canon.BlockText {
				return dst, canon.At(canon.Fieldf("type", "want text, got %s", b.Kind), "system", j)
			}
			if j > 0 {
				dst = append(dst, `\n\n`...)
			}
			dst = canon.AppendEscaped(dst, b.Text)
		}
		dst = append(dst, '"')
	}
	dst = append(canon.AppendKey(dst, "input"), '[')
	for i := range r.Messages {
		if dst, err = appendMessage(dst, &r.Messages[i]); err != nil {
			return dst, canon.At(err, "messages", i)
		}
	}
	dst = append(dst, ']')
	if len(r.Tools) > 0 {
		dst = append(canon.AppendKey(dst, "tools"), '[')
		for i := range r.Tools {
			t := &r.Tools[i]
			dst = append(canon.AppendElem(dst), `{"type":"function"`...)
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
		}
		dst = append(dst, ']')
	}
	switch r.ToolChoice.Mode {
	case canon.ToolChoiceAuto:
		dst = canon.AppendStringField(dst, "tool_choice", "auto")
	case canon.ToolChoiceNone:
		dst = canon.AppendStringField(dst, "tool_choice", "none")
	case canon.ToolChoiceAny:
		dst = canon.AppendStringField(dst, "tool_choice", "required")
	case canon.ToolChoiceTool:
		dst = append(canon.AppendKey(dst, "tool_choice"), `{"type":"function"`...)
		dst = append(canon.AppendStringField(dst, "name", r.ToolChoice.Name), '}')
	}
	if r.ParallelToolCalls != nil {
		dst = canon.AppendBoolField(dst, "parallel_tool_calls", *r.ParallelToolCalls)
	}
	if r.MaxTokens > 0 {
		dst = canon.AppendIntField(dst, "max_output_tokens", r.MaxTokens)
	}
	if r.Temperature != nil {
		dst = canon.AppendFloatField(dst, "temperature", *r.Temperature)
	}
	if r.TopP != nil {
		dst = canon.AppendFloatField(dst, "top_p", *r.TopP)
	}
	if r.TopK != nil {
		return dst, canon.Fieldf("top_k", "OpenAI Responses has no top_k")
	}
	if len(r.Stop) > 0 {
		return dst, canon.Fieldf("stop", "OpenAI Responses has no stop sequences")
	}
	if r.Stream {
		dst = canon.AppendBoolField(dst, "stream", true)
	}
	dst = canon.AppendBoolField(dst, "store", false)
	if f := &r.ResponseFormat; f.Type != "" {
		switch f.Type {
		case "text", "json_object":
			dst = append(canon.AppendKey(dst, "text"), `{"format":{`...)
			dst = canon.AppendStringField(dst, "type", f.Type)
			dst = append(dst, '}', '}')
		case "json_schema":
			dst = append(canon.AppendKey(dst, "text"), `{"format":{"type":"json_schema"`...)
			dst = append(f.AppendSchemaFields(dst), '}', '}')
		default:
			return dst, canon.Fieldf("response_format.type", "unknown value %q", f.Type)
		}
	}
	if e := reasoningEffort(&r.Reasoning, r.MaxTokens); e != "" {
		dst = append(canon.AppendKey(dst, "reasoning"), '{')
		dst = append(canon.AppendStringField(dst, "effort", e), '}')
		if e != "none" {
			dst = append(canon.AppendKey(dst, "include"), `["`+includeEncrypted+`"]`...)
		}
	}
	if r.User != "" {
		dst = canon.AppendStringField(dst, "user", r.User)
	}
	return append(dst, '}'), nil
}

// reasoningEffort returns the effort for r: OpenAI's (canon's
// OpenAIEffort), or "none" when reasoning is disabled.
func reasoningEffort(r *canon.Reasoning, maxTokens int64) string {
	if e := r.OpenAIEffort(maxTokens); e != "" || r.Mode != canon.ThinkingDisabled {
		return e
	}
	return "none"
}

func appendMessage(dst []byte, m *canon.Message) ([]byte, error) {
	switch m.Role {
	case canon.RoleSystem, canon.RoleDeveloper:
		dst = append(canon.AppendElem(dst), `{"role":`...)
		dst = canon.AppendString(dst, string(m.Role))
		dst = append(canon.AppendKey(dst, "content"), '[')
		for j := range m.Content {
			b := &m.Content[j]
			if b.Kind != canon.BlockText {
				return dst, canon.At(canon.Fieldf("type", "want text, got %s", b.Kind), "content", j)
			}
			dst = appendTextPart(canon.AppendElem(dst), "input_text", b.Text)
		}
		return append(dst, ']', '}'), nil
	case canon.RoleUser:
		return appendUser(dst, m.Content)
	case canon.RoleAssistant:
		return appendAssistant(dst, m.Content)
	}
	return dst, canon.Fieldf("role", "unknown role %q", m.Role)
}

func appendTextPart(dst []byte, typ, text string) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	return append(canon.AppendStringField(dst, "text", text), '}')
}

// appendUser appends a user message's blocks: each run of other blocks
// as a user message item, each tool result as a function_call_output.
func appendUser(dst []byte, blocks []canon.Block) ([]byte, error) {
	var err error
	for i := 0; i < len(blocks); {
		if b := &blocks[i]; b.Kind == canon.BlockToolResult {
			dst = append(canon.AppendElem(dst), `{"type":"function_call_output"`...)
			dst = canon.AppendStringField(dst, "call_id", b.ID)
			dst = canon.AppendKey(dst, "output")
			if dst, err = appendOutput(dst, b); err != nil {
				return dst, canon.At(err, "content", i)
			}
			dst = append(dst, '}')
			i++
			continue
		}
		dst = append(canon.AppendElem(dst), `{"role":"user","content":[`...)
		for ; i < len(blocks) && blocks[i].Kind != canon.BlockToolResult; i++ {
			if dst, err = appendInputPart(canon.AppendElem(dst), &blocks[i]); err != nil {
				return dst, canon.At(err, "content", i)
			}
		}
		dst = append(dst, ']', '}')
	}
	return dst, nil
}

// appendOutput appends a tool result's output: a string when it is one
// text (or nothing), else input parts.
func appendOutput(dst []byte, b *canon.Block) ([]byte, error) {
	if len(b.Content) == 0 {
		return append(dst, `""`...), nil
	}
	if len(b.Content) == 1 && b.Content[0].Kind == canon.BlockText {
		return canon.AppendString(dst, b.Content[0].Text), nil
	}
	dst = append(dst, '[')
	var err error
	for j := range b.Content {
		if dst, err = appendInputPart(canon.AppendElem(dst), &b.Content[j]); err != nil {
			return dst, canon.At(err, "content", j)
		}
	}
	return append(dst, ']'), nil
}

func appendInputPart(dst []byte, b *canon.Block) ([]byte, error) {
	switch b.Kind {
	case canon.BlockText:
		return appendTextPart(dst, "input_text", b.Text), nil
	case canon.BlockImage:
		dst = append(dst, `{"type":"input_image"`...)
		if b.FileID != "" {
			dst = canon.AppendStringField(dst, "file_id", b.FileID)
		} else {
			dst = canon.AppendURL(canon.AppendKey(dst, "image_url"), b)
		}
		if b.Detail != "" {
			dst = canon.AppendStringField(dst, "detail", b.Detail)
		}
		return append(dst, '}'), nil
	case canon.BlockFile:
		if b.MediaType == "text/plain" && b.Data == "" && b.URL == "" && b.FileID == "" {
			return appendTextPart(dst, "input_text", b.Text), nil
		}
		dst = append(dst, `{"type":"input_file"`...)
		switch {
		case b.FileID != "":
			dst = canon.AppendStringField(dst, "file_id", b.FileID)
		case b.URL != "":
			dst = canon.AppendStringField(dst, "file_url", b.URL)
		default:
			dst = canon.AppendURL(canon.AppendKey(dst, "file_data"), b)
		}
		if b.Filename != "" {
			dst = canon.AppendStringField(dst, "filename", b.Filename)
		}
		return append(dst, '}'), nil
	}
	return dst, canon.Fieldf("type", "a user message cannot hold %s", b.Kind)
}

// appendAssistant appends an assistant message's blocks in order: each
// thinking block as a reasoning item, each run of text and refusal
// blocks as one message item, each tool call as a function_call item.
func appendAssistant(dst []byte, blocks []canon.Block) ([]byte, error) {
	for i := 0; i < len(blocks); {
		b := &blocks[i]
		switch b.Kind {
		case canon.BlockThinking:
			dst = appendReasoningItem(canon.AppendElem(dst), b.ID, b.Text, b.Signature)
		case canon.BlockRedactedThinking:
			// Another provider's encrypted reasoning: opaque here.
		case canon.BlockToolUse:
			dst = appendFunctionCall(canon.AppendElem(dst), "", b.ID, b.Name, b.Input, "")
		case canon.BlockText, canon.BlockRefusal:
			dst = append(canon.AppendElem(dst), `{"role":"assistant","content":[`...)
			for ; i < len(blocks) && (blocks[i].Kind == canon.BlockText || blocks[i].Kind == canon.BlockRefusal); i++ {
				dst = appendOutputPart(canon.AppendElem(dst), &blocks[i])
			}
			dst = append(dst, ']', '}')
			continue
		default:
			return dst, canon.At(canon.Fieldf("type", "an assistant message cannot hold %s", b.Kind), "content", i)
		}
		i++
	}
	return dst, nil
}

func appendOutputPart(dst []byte, b *canon.Block) []byte {
	if b.Kind == canon.BlockRefusal {
		dst = append(dst, `{"type":"refusal"`...)
		return append(canon.AppendStringField(dst, "refusal", b.Text), '}')
	}
	dst = append(dst, `{"type":"output_text"`...)
	dst = canon.AppendStringField(dst, "text", b.Text)
	return append(dst, `,"annotations":[]}`...)
}

// appendReasoningItem appends a reasoning item: its id when known, its
// text as one summary_text part, its signature as encrypted_content.
func appendReasoningItem(dst []byte, id, text, sig string) []byte {
	dst = append(dst, `{"type":"reasoning"`...)
	if id != "" {
		dst = canon.AppendStringField(dst, "id", id)
	}
	dst = append(canon.AppendKey(dst, "summary"), '[')
	if text != "" {
		dst = append(canon.AppendStringField(append(dst, `{"type":"summary_text"`...), "text", text), '}')
	}
	dst = append(dst, ']')
	if sig != "" {
		dst = canon.AppendStringField(dst, "encrypted_content", sig)
	}
	return append(dst, '}')
}

// appendFunctionCall appends a function_call item; id and status are
// written when given (answers carry them, requests need not).
func appendFunctionCall(dst []byte, id, callID, name, args, status string) []byte {
	dst = append(dst, `{"type":"function_call"`...)
	if id != "" {
		dst = canon.AppendStringField(dst, "id", id)
	}
	if status != "" {
		dst = canon.AppendStringField(dst, "status", status)
	}
	dst = canon.AppendStringField(dst, "call_id", callID)
	dst = canon.AppendStringField(dst, "name", name)
	if args == "" {
		args = "{}"
	}
	return append(canon.AppendStringField(dst, "arguments", args), '}')
}
