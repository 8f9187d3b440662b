// Package compress shrinks a chat request before it is sent upstream:
// the gateway's context compression. It works on the canonical request
// (package canon) in place, so one implementation serves every API
// surface and provider format; the proxy re-encodes the request after.
//
// # Switching it on
//
// Compression is off by default. Options come from the route or key
// config (YAML: compression: {stages, budget, keep_last, head_lines,
// tail_lines, min_dedupe_bytes}) and a request may override them:
//
//	x-switchboard-compression: on | off | lossless | lossy | dedupe,minify,...   (ParseHeader)
//	"compression": true | "lossless" | ["dedupe", "middle-out"] | {"stages": ..., "budget": ...}   (ParseBody)
//	"transforms": ["middle-out"]   (OpenRouter; WithTransforms)
//
// OpenRouter's transforms: ["middle-out"] maps to the MiddleOut stage
// alone, with the budget left to the model's context window, which is
// what OpenRouter does: nothing happens to a prompt that fits, and one
// that does not loses turns from its middle instead of failing. An
// empty transforms list turns MiddleOut off. "on" turns on every stage:
// the lossless ones always act, the lossy ones only over budget.
//
// # Stages
//
// Lossless, always, in this order:
//
//  1. Dedupe: content of at least MinDedupe bytes (a tool result, a text
//     block) sent again keeps its first copy; each later copy becomes
//     "[same content as the read_file result of call X above]".
//  2. Minify: tool results that are valid JSON objects or arrays are
//     compacted (key order, strings and numbers byte for byte).
//  3. Whitespace: trailing blanks go, and in prose runs of blanks and of
//     blank lines; never inside code fences, never a line's indentation,
//     never a tool result's line breaks.
//
// Each rewrite is kept only if it costs fewer tokens than what it
// replaces, so the lossless stages never make a prompt dearer.
//
// Lossy, only while the prompt is over budget (Options.Budget, or the
// context window minus the request's max_tokens):
//
//  4. Truncate: long tool results before the last KeepLast messages keep
//     HeadLines and TailLines lines around "[... N lines omitted ...]".
//  5. MiddleOut: the oldest turns after the first user turn go, whole
//     tool call/result exchanges at a time, replaced by "[N earlier
//     messages omitted]"; the system prompt, the first user turn and the
//     last KeepLast messages stay. Should that not be enough, the long
//     tool results of the last messages are truncated too.
//
// Compress never touches thinking blocks (their signatures cover them),
// tool calls' inputs, images, files or tool definitions, and never
// leaves a tool call without its result or a result without its call.
//
// # Prompt caching
//
// Agents resend the conversation every turn and providers bill the
// repeated prefix at a tenth of the price or less, so compression must
// not change bytes the provider has cached. Every decision about a turn
// depends only on that turn and those before it: Dedupe keeps the first
// copy (not the last: pointing back keeps earlier turns as they were),
// the lossless stages are pure functions of one text, and the lossy
// stages move their boundaries in coarse steps (truncateStep messages,
// budget/2 tokens) so they rewrite old turns rarely and in large steps.
// Report.SavedBy and the catalog prices give the saving in dollars; a
// cached prefix costs a tenth, so a rewrite of cached turns can cost
// more than it saves, which is why the lossy stages wait for the budget.
//
// # Counting
//
// Tokens are counted offline with o200k_base (github.com/tiktoken-go/
// tokenizer), the same way the gateway answers count_tokens: text, tool
// names, inputs, results and tool definitions (Tokens, TextTokens).
// Counts are memoised by content hash, so the text an agent resends
// costs a hash, not a tokenizer pass.
package compress
