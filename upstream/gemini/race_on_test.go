//go:build race

package gemini_test

// raceEnabled: the race detector changes what allocates, so allocation
// budgets are checked only in the non-race run.
const raceEnabled = true
