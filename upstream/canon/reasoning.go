package canon

// Formats name reasoning differently: OpenAI by effort level
// ("reasoning_effort": "high"), Anthropic by a token budget that must be
// at least 1024 and below max_tokens ("thinking": {"budget_tokens": N}).
// The two are converted through the share of max_tokens a level spends,
// as OpenRouter does, rather than through fixed budgets: a fixed "high"
// budget is invalid under a small max_tokens and stingy under a large one.
var effortShares = [...]struct {
	effort string
	share  float64
}{
	{"minimal", 0.1},
	{"low", 0.2},
	{"medium", 0.5},
	{"high", 0.8},
	{"xhigh", 0.9},
	{"max", 0.95},
}

// MinThinkingBudget is the smallest thinking budget Anthropic accepts.
const MinThinkingBudget = 1024

// BudgetForEffort returns the thinking budget for an effort level under
// maxTokens: the level's share of maxTokens, at least MinThinkingBudget
// and below maxTokens. It returns 0 when the level is unknown or "none",
// or when maxTokens leaves no room for MinThinkingBudget.
func BudgetForEffort(effort string, maxTokens int64) int64 {
	for _, e := range effortShares {
		if e.effort != effort {
			continue
		}
		if maxTokens <= MinThinkingBudget {
			return 0
		}
		b := max(int64(float64(maxTokens)*e.share), MinThinkingBudget)
		return min(b, maxTokens-1)
	}
	return 0
}

// EffortForBudget returns the effort level ("low", "medium" or "high")
// whose share of maxTokens is nearest budget's; with maxTokens unknown
// (0) it judges the budget alone.
func EffortForBudget(budget, maxTokens int64) string {
	share := float64(budget) / float64(maxTokens)
	if maxTokens <= 0 {
		share = float64(budget) / 16384
	}
	switch {
	case share <= 0.35:
		return "low"
	case share <= 0.65:
		return "medium"
	default:
		return "high"
	}
}
