//go:build race

package money

// raceEnabled: the race detector changes what allocates, so allocation
// budgets are checked only in the non-race run (make test runs both).
const raceEnabled = true
