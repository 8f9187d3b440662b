//go:build race

package compress

// raceEnabled: the tokenizer runs ten times slower under the race
// detector, so the corpus tests use fewer and shorter conversations.
const raceEnabled = true
