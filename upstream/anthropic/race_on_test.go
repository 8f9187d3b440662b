//go:build race

package anthropic

// raceEnabled: the race detector changes what allocates, so allocation
// budgets are checked only in the non-race run.
const raceEnabled = true
