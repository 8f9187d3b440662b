// Package canon is the gateway's canonical model of a chat call: one
// request, one response and one stream of events that every wire format
// (OpenAI Chat Completions, Anthropic Messages, and later OpenAI Responses
// and Gemini) decodes into and encodes from. A translation from format A
// to format B is A's decoder followed by B's encoder; there is no
// translator per pair.
//
// The model is a superset: it holds what any of the formats can say that
// another can say too (system prompts, images and files, tool calls with
// call ids, tool results, reasoning with opaque signatures, cache
// markers, stop reasons, usage with cache reads and writes). What only
// one format can say is refused by that format's decoder with a
// *FieldError naming the field, so a request is never translated with a
// silent loss; the few hints that change nothing in the answer (OpenAI
// "store", "seed", Anthropic "service_tier", ...) are accepted and listed
// in Request.Ignored for the caller to report.
//
// Decoders are faithful: they keep the source's message structure (an
// OpenAI tool message stays one user message holding one ToolResult; a
// system message in the middle of a conversation stays a RoleSystem
// message where it was). Encoders adapt that structure to what their
// format requires (Anthropic merges consecutive turns of the same role,
// hoists leading system messages into its top-level system, ...). So a
// request decoded and encoded again in its own format comes back with the
// same meaning.
//
// Strings in decoded values may point into the decoded input: the input
// must not be modified while the value is in use. Nothing here is safe
// for concurrent mutation; values may be read concurrently.
package canon
