package websearch

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Query limits: Brave refuses a query over 400 characters or 50 words,
// and Tavily asks for queries under 400 characters.
const (
	MaxQueryChars = 400
	MaxQueryWords = 50
)

// Query turns the text of the last user message into a search query:
// white space runs become one space, control characters and invalid
// UTF-8 go, and the text is cut after MaxQueryWords words and
// MaxQueryChars characters, at a word boundary (a single longer word is
// cut inside). "" means there is nothing to search for.
func Query(text string) string {
	var b strings.Builder
	words, chars := 0, 0
	for _, w := range strings.Fields(text) {
		w = strings.Map(func(r rune) rune {
			if r == utf8.RuneError || unicode.IsControl(r) || r == '\u200b' || r == '\ufeff' {
				return -1
			}
			return r
		}, strings.ToValidUTF8(w, ""))
		if w == "" {
			continue
		}
		n := utf8.RuneCountInString(w)
		if words > 0 {
			n++ // the space before it
		}
		if words == MaxQueryWords || chars+n > MaxQueryChars {
			if words == 0 { // one word longer than the limit
				for i := range w {
					if chars == MaxQueryChars {
						w = w[:i]
						break
					}
					chars++
				}
				b.WriteString(w)
			}
			break
		}
		if words > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		words++
		chars += n
	}
	return b.String()
}
