// Package responses translates the OpenAI Responses wire format
// (/v1/responses, what Codex CLI speaks) to and from the canonical model
// of package canon: requests, whole answers, streams and error bodies.
// With packages openai and anthropic it serves Responses clients from
// Chat Completions and Messages providers, and their clients from a
// Responses provider.
//
// Requests:
//
//	Responses                          canon
//	instructions                       System (one text block)
//	input as a string                  one user message
//	message items user/system/developer  a message of that role, where it was
//	  input_text/input_image/input_file  Text/Image/File (data: URL or URL; file_id)
//	consecutive assistant-side items   one assistant message, in order:
//	  message (output_text, refusal)     Text, Refusal blocks
//	  function_call {call_id,name,arguments}  ToolUse (ID call_id, Input arguments)
//	  reasoning {id,summary,encrypted_content}  Thinking (see below)
//	consecutive function_call_output   one user message of ToolResults
//	tools (type function, top level)   Tools
//	tool_choice                        ToolChoice (auto/none/required, {type:function,name})
//	max_output_tokens                  MaxTokens
//	temperature, top_p                 Temperature, TopP
//	text.format                        ResponseFormat (text/json_object/json_schema)
//	reasoning.effort                   Reasoning.Effort, Mode enabled ("none": disabled)
//	parallel_tool_calls                ParallelToolCalls
//	user, safety_identifier            User
//	stream                             Stream, IncludeUsage (a Responses stream always ends with usage)
//
// Reasoning: a reasoning item is one BlockThinking. Its summary parts,
// joined by a blank line, are the Text; its encrypted_content is the
// Signature, byte for byte: like Anthropic's signature it is the
// provider's opaque proof that must come back unchanged with the text it
// goes with, and it rides where every codec already keeps such proofs
// (BlockRedactedThinking is for reasoning with no readable text at all,
// which a reasoning item is not: its summary is readable). The item's id
// ("rs_...") is the block's ID, so that it round-trips. A reasoning item
// with several summary parts comes back as one part.
//
// Refused with a *canon.FieldError naming the field: previous_response_id,
// conversation and item_reference items (they need state the provider
// keeps; the gateway is stateless: send the whole input), background,
// prompt (stored templates), top_logprobs, max_tool_calls, include values
// other than "reasoning.encrypted_content", tools other than functions
// (file_search, computer_use, custom, local_shell, ...), annotations,
// input_audio, and any field the decoder does not know. Accepted and
// listed in Request.Ignored: store, client_metadata, metadata,
// service_tier, prompt_cache_key, prompt_cache_retention, truncation,
// stream_options, text.verbosity, reasoning.summary,
// reasoning.generate_summary. Left out of the request and listed in
// Request.Ignored as "tools[i] (type)": web_search, web_search_preview,
// tool_search and namespace tools, which Codex CLI always sends (a model
// of another provider works without them).
//
// Encoded requests are stateless: "store":false, and a request with
// reasoning includes "reasoning.encrypted_content" so that the reasoning
// can be sent back. The Responses format has no top_k and no stop
// sequences: a request with either is refused.
//
// Answers: a Response object whose output holds, in order, a reasoning
// item per thinking block, a message item per run of text and refusal
// blocks and a function_call item per tool call (call_id is the block's
// ID; the item ids derive from the response id). Stop reasons: status
// "completed" is end_turn, or tool_use when the output holds calls;
// "incomplete" with reason max_output_tokens is max_tokens, with
// content_filter content_filter. Usage: input_tokens include the cached
// ones (input_tokens_details.cached_tokens, canon's CacheRead);
// output_tokens_details.reasoning_tokens is Usage.Reasoning.
//
// Streams are typed events ("event: <type>\ndata: <json>\n\n") with a
// sequence_number from 0 and no [DONE]; see StreamDecoder and
// StreamEncoder. Errors are OpenAI's error body; in a stream,
// response.failed (or an error event before the response was created).
package responses
