// Package gemini translates the Gemini API wire format
// (/v1beta/models/{model}:generateContent and
// :streamGenerateContent?alt=sse) to and from the canonical model of
// package canon: requests, whole answers, streams and error bodies.
//
// Requests:
//
//	Gemini                                canon
//	model (URL path, not the body)        Model, set by the caller
//	streamGenerateContent (URL)           Stream, set by the caller
//	systemInstruction (text parts)        System
//	contents role user / model            RoleUser / RoleAssistant messages
//	text / inlineData / fileData parts    Text / Image or File (by mimeType) blocks
//	functionCall {name,args}              ToolUse, id "call_<n>" (see below)
//	functionResponse {name,response}      ToolResult holding the response's JSON text
//	thought parts + thoughtSignature      Thinking (signature verbatim)
//	thoughtSignature on another part      Thinking with empty text, before it
//	tools[].functionDeclarations          Tools (parametersJsonSchema or parameters)
//	toolConfig.functionCallingConfig      ToolChoice: AUTO, NONE, ANY; ANY with one
//	                                      allowedFunctionNames is that tool
//	generationConfig maxOutputTokens,     MaxTokens, Temperature, TopP, TopK, Stop
//	  temperature, topP, topK,
//	  stopSequences
//	responseMimeType application/json,    ResponseFormat json_object, or json_schema
//	  responseJsonSchema/responseSchema     with the schema
//	thinkingConfig.thinkingBudget         Reasoning: -1 adaptive, 0 disabled,
//	                                      N enabled with budget N
//	thinkingConfig.thinkingLevel          Reasoning.Effort
//
// Gemini has no tool call ids. Decoding, the n-th functionCall of a
// request or answer (counting from 0) gets the id "call_<n>", unless the
// part carries its own "id" (Vertex AI and newer models); a
// functionResponse takes the id of the oldest unanswered call of the same
// name. Encoding, ids are dropped and a tool result is named after the
// call whose id it answers; a result without such a call is refused.
//
// Refused with a *canon.FieldError naming the field: built-in tools
// (googleSearch, codeExecution, urlContext, ... are unknown fields),
// executableCode and codeExecutionResult parts, videoMetadata,
// cachedContent, presence and frequency penalties, logprobs, response
// modalities and speech, more than one candidate, allowedFunctionNames
// other than one name with ANY, and any field the decoder does not know.
// Accepted and listed in Request.Ignored: safetySettings, labels and
// generationConfig.seed.
//
// Encoding a request from another format:
//
//   - System messages that open the conversation join systemInstruction;
//     later ones become <system>-tagged text of the user turn they join.
//     Consecutive messages of one role merge into one content.
//   - A tool result that is one JSON object is the functionResponse's
//     response as is; other text becomes {"output": text}, or
//     {"error": text} when it reports a failure, as Google advises.
//     Images in tool results are refused.
//   - Thinking without a signature (OpenAI reasoning_content) and
//     redacted thinking are left out; a thinking block with empty text
//     lends its signature to the part after it, so Gemini's signatures
//     come back on the functionCall part they came on.
//   - The schema goes as parametersJsonSchema and responseJsonSchema
//     (full JSON Schema), never as the OpenAPI subset.
//   - An effort without a budget becomes its share of max tokens
//     (canon.BudgetForEffort), or -1 (dynamic) with no max tokens.
//   - User, cache markers and ParallelToolCalls have no Gemini field and
//     are dropped; temperature above 2 is refused.
//
// Answers and streams: finishReason STOP is end_turn, or tool_use when
// the answer calls a function; MAX_TOKENS is max_tokens; SAFETY,
// RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII are content_filter.
// Usage: promptTokenCount includes cachedContentTokenCount, so canonical
// Input is their difference and CacheRead the cached count; Output is
// candidates plus thoughts, Reasoning the thoughts. Errors are Google's
// {"error":{"code","message","status"}}, the status name as Error.Type.
package gemini
