// Package anthropic translates the Anthropic Messages wire format
// (/v1/messages) to and from the canonical model of package canon:
// requests, whole answers, streams and error bodies. Used with package
// openai, it serves Anthropic clients (Claude Code) from OpenAI-compatible
// providers and OpenAI clients from Anthropic.
//
// Requests:
//
//	Anthropic                       canon
//	system (string or text blocks)  System
//	"system" message (mid-conv.)    RoleSystem message, where it was
//	text/image/document blocks      Text/Image/File blocks; cache_control kept
//	tool_use / tool_result          ToolUse (input as JSON text) / ToolResult
//	thinking / redacted_thinking    Thinking (signature verbatim) / RedactedThinking
//	tools (custom)                  Tools; strict kept
//	tool_choice auto/any/tool/none  ToolChoice; disable_parallel_tool_use
//	                                is ParallelToolCalls false
//	thinking enabled/adaptive/      Reasoning.Mode, BudgetTokens
//	  disabled
//	output_config.effort            Reasoning.Effort
//	output_config.format            ResponseFormat json_schema, strict
//	  (or beta output_format)
//	metadata.user_id                User
//	stop_sequences, top_k           Stop, TopK
//
// Refused with a *canon.FieldError naming the field: server tools (web
// search, code execution, bash, ...), container, mcp_servers, citations,
// document context, tool search (defer_loading), input_examples,
// programmatic tool calling (allowed_callers, caller), blocks only
// Anthropic knows (server_tool_use, search_result, ...), and any field
// the decoder does not know. Accepted and listed in Request.Ignored:
// service_tier, inference_geo, and context_management, whose edits
// Anthropic applies server-side (another provider gets the whole,
// unedited context the client sent).
//
// Encoding a request from another format, the decisions where the
// formats differ:
//
//   - System messages that open an OpenAI conversation join the
//     top-level system. Later ones stay in place as <system>-tagged text
//     of the user turn they join (every model accepts it, and the cached
//     prefix before them stays byte-identical), or, with
//     EncodeOptions.SystemMessages, as "system" messages for the models
//     that accept them (Claude Opus 4.8 and later).
//   - Consecutive messages of one role merge into one turn; OpenAI's
//     tool messages and the user text after them become one user turn,
//     tool results first.
//   - max_tokens, which Anthropic requires, comes from
//     EncodeOptions.DefaultMaxTokens when the client sent none.
//   - response_format json_schema becomes output_config.format;
//     json_object has no schema to give and is refused.
//   - reasoning_effort becomes a thinking budget, the effort's share of
//     max_tokens (canon.BudgetForEffort). Thinking blocks without a
//     signature (an OpenAI client's reasoning_content) are left out, and
//     enabled thinking is switched off for a turn whose open tool loop
//     lacks the thinking block Anthropic would demand.
//   - temperature above 1 is refused (Anthropic's range is 0 to 1).
//
// Answers and streams: OpenAI's content_filter is a refusal; an OpenAI
// refusal is text with stop_reason refusal; reasoning from an
// OpenAI-compatible model is a thinking block with an empty signature.
// Usage: input_tokens exclude cache reads and writes, which have their
// own fields.
package anthropic
