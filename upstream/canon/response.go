package canon

// Response is a whole (non-streamed) answer in canonical form.
type Response struct {
	// ID is the provider's id for the answer (Anthropic "msg_...",
	// OpenAI "chatcmpl-..."), passed through as is.
	ID    string
	Model string
	// Created is the answer's Unix time in seconds, 0 when the format
	// has none (Anthropic); encoders that need one use the current time.
	Created int64
	// Content is the answer: text, thinking, refusal and tool-use blocks
	// in the order the model produced them.
	Content      []Block
	StopReason   StopReason
	StopSequence string
	Usage        Usage
}

// StopReason is why the model stopped, in canonical (Anthropic-style)
// terms.
type StopReason string

// The stop reasons. A format without a reason's exact equivalent maps it
// to the nearest one; the tables are in each codec.
const (
	StopEndTurn      StopReason = "end_turn"
	StopMaxTokens    StopReason = "max_tokens"
	StopSequence     StopReason = "stop_sequence"
	StopToolUse      StopReason = "tool_use"
	StopPauseTurn    StopReason = "pause_turn"
	StopRefusal      StopReason = "refusal"
	StopContextLimit StopReason = "model_context_window_exceeded"
	// StopContentFilter is OpenAI's "content_filter": the provider
	// withheld or cut the answer.
	StopContentFilter StopReason = "content_filter"
)

// Usage is the token count of one call. Its parts do not overlap, as in
// Anthropic's usage and router.Usage: Input excludes the cached prompt
// tokens, so the whole prompt is Input + CacheRead + CacheWrite.
type Usage struct {
	// Input is the prompt tokens neither read from nor written to the
	// provider's cache.
	Input int64
	// Output is the answer's tokens, reasoning included.
	Output int64
	// CacheRead is the prompt tokens read from the provider's cache.
	CacheRead int64
	// CacheWrite is the prompt tokens written to the provider's cache.
	CacheWrite int64
	// CacheWrite1h is the part of CacheWrite written to a one-hour cache
	// (Anthropic's ephemeral_1h_input_tokens); the rest is written for
	// the provider's default time, five minutes at Anthropic.
	CacheWrite1h int64
	// Reasoning is the part of Output spent on reasoning, when the
	// provider says; priced at the model's reasoning price where it has
	// one, else as output.
	Reasoning int64
	// Tier is the service tier the provider says served the call
	// (OpenAI's service_tier, Anthropic's usage.service_tier); the zero
	// value is the standard tier.
	Tier ServiceTier
}

// ServiceTier is a provider's processing tier, priced apart where the
// catalog gives the model a price for it.
type ServiceTier uint8

// The service tiers a provider may report. TierStandard is also what an
// unknown or absent tier reads as.
const (
	TierStandard ServiceTier = iota
	TierFlex
	TierPriority
	TierBatch
)

// ParseServiceTier reads a provider's service tier name: "flex",
// "priority" and "batch" are theirs; anything else ("default", "auto",
// "standard", "scale", "") is the standard tier.
func ParseServiceTier(s string) ServiceTier {
	switch s {
	case "flex":
		return TierFlex
	case "priority":
		return TierPriority
	case "batch":
		return TierBatch
	}
	return TierStandard
}

// Prompt returns the whole prompt's tokens, cached ones included (what
// OpenAI calls prompt_tokens).
func (u Usage) Prompt() int64 { return u.Input + u.CacheRead + u.CacheWrite }
