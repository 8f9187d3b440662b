// Package openai translates the OpenAI Chat Completions wire format
// (/v1/chat/completions) to and from the canonical model of package
// canon: requests, whole answers, streams and error bodies. Used with
// package anthropic, it serves Anthropic clients from OpenAI-compatible
// providers and OpenAI clients from Anthropic.
//
// Requests:
//
//	OpenAI                          canon
//	system/developer message        RoleSystem/RoleDeveloper message, where it was
//	tool message                    user message holding one ToolResult
//	assistant tool_calls            ToolUse blocks (arguments kept as text)
//	assistant reasoning_content     Thinking block without signature
//	  (or "reasoning")
//	image_url (data: URL / URL)     Image (MediaType+Data / URL); detail kept
//	file (file_data / file_id)      File
//	cache_control on parts, tools   Cache (OpenRouter/LiteLLM extension)
//	max_completion_tokens           MaxTokens (max_tokens when absent)
//	stop (string or array)          Stop
//	tool_choice auto/none/required  ToolChoiceAuto/None/Any; {function} Tool
//	reasoning_effort                Reasoning.Effort, Mode enabled ("none": disabled)
//	response_format                 ResponseFormat
//	user, safety_identifier         User
//	stream_options.include_usage    IncludeUsage
//
// Refused with a *canon.FieldError naming the field: n > 1, logprobs,
// top_logprobs, logit_bias, audio, modalities other than text, non-zero
// frequency_penalty and presence_penalty, the deprecated functions and
// function_call, web_search_options, message names, input_audio parts,
// custom tools, allowed_tools, and any field the decoder does not know.
// Accepted and listed in Request.Ignored: store, seed, metadata,
// service_tier, prompt_cache_key, prompt_cache_retention, prediction,
// verbosity, stream_options.include_obfuscation.
//
// Answers: text is "content", thinking "reasoning_content" (what
// OpenCode, Cline and Kilo Code display; OpenAI's format has no place
// for a signature, so it is not sent), refusals "refusal". Stop reasons:
// end_turn, stop_sequence and pause_turn are "stop"; max_tokens and
// model_context_window_exceeded "length"; tool_use "tool_calls";
// refusal and content_filter "content_filter". Usage: prompt_tokens
// include cache reads and writes; cache reads are
// prompt_tokens_details.cached_tokens, writes OpenRouter's
// cache_write_tokens.
//
// What OpenAI's format cannot say is documented where it is dropped:
// is_error on tool results (the text goes as is), stop_sequence (the
// finish_reason is "stop"), the position of text relative to tool calls
// in one answer (OpenAI has one content per message).
package openai
