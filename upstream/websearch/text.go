package websearch

import (
	"html"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// plainText returns s, a title or snippet as an engine sent it, as plain
// text of at most max characters (max <= 0: no cap): HTML tags are
// removed (with the content of script and style elements; inline tags
// such as Brave's <strong> leave nothing, others a space), then entities
// are decoded, runs of white space become one space, control characters
// and invalid UTF-8 are dropped, and the ends are trimmed. The result
// never shares memory with s, so it may outlive the response it came from.
func plainText(s string, max int) string {
	if strings.IndexByte(s, '<') >= 0 {
		s = stripTags(s)
	}
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
		case unicode.IsSpace(r):
			space = len(b) > 0
		case unicode.IsControl(r), r == '\u200b', r == '\ufeff':
		default:
			if space {
				b = append(b, ' ')
				space = false
			}
			b = utf8.AppendRune(b, r)
		}
	}
	return truncate(string(b), max)
}

// inlineTags are the tags that sit inside a word or sentence: removing
// them must not split the word (Brave marks matches as
// "<strong>Go</strong>lang"). Other tags end a block and leave a space.
var inlineTags = map[string]bool{
	"a": true, "abbr": true, "b": true, "bdi": true, "bdo": true, "cite": true, "code": true,
	"data": true, "dfn": true, "em": true, "font": true, "i": true, "kbd": true, "mark": true,
	"q": true, "s": true, "samp": true, "small": true, "span": true, "strike": true,
	"strong": true, "sub": true, "sup": true, "time": true, "tt": true, "u": true, "var": true, "wbr": true,
}

// stripTags removes what looks like markup from s: a "<" followed by a
// letter, "/", "!" or "?" up to the next ">", comments whole, and
// script and style elements with their content. A "<" that starts no
// tag ("a < b") stays, as does an unterminated one.
func stripTags(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 || i+1 >= len(s) {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		c := s[1]
		if !(isLetter(c) || c == '/' || c == '!' || c == '?') {
			b.WriteByte('<')
			s = s[1:]
			continue
		}
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				return b.String()
			}
			s = s[4+end+3:]
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		closing := c == '/'
		name := tagName(s[1:end])
		s = s[end+1:]
		switch {
		case (name == "script" || name == "style") && !closing:
			// Skip to the element's end tag; no end tag drops the rest.
			close := indexFold(s, "</"+name)
			if close < 0 {
				return b.String()
			}
			s = s[close:]
			if gt := strings.IndexByte(s, '>'); gt >= 0 {
				s = s[gt+1:]
			} else {
				s = ""
			}
			b.WriteByte(' ')
		case !inlineTags[name]:
			b.WriteByte(' ')
		}
	}
}

// tagName returns the lower-case name of the tag whose text between "<"
// and ">" is t ("/strong" and "strong class=x" are "strong"); "" for
// declarations and processing instructions.
func tagName(t string) string {
	t = strings.TrimPrefix(t, "/")
	n := 0
	for n < len(t) && (isLetter(t[n]) || t[n] >= '0' && t[n] <= '9') {
		n++
	}
	return strings.ToLower(t[:n])
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// indexFold is strings.Index ignoring ASCII case; sub must be lower case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// truncate caps s at max characters (max <= 0: no cap). A cut string
// ends at a word boundary when one is near and is marked with "…",
// counted in max.
func truncate(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	// Byte offset of the rune that would be the max-th: keep the ones
	// before it and add the ellipsis.
	cut, n := 0, 0
	for i := range s {
		if n == max-1 {
			cut = i
			break
		}
		n++
	}
	t := s[:cut]
	// Unless the cut falls between words, drop the partial word if it is
	// short (a long one is cut inside rather than lose much text).
	if s[cut] != ' ' {
		if sp := strings.LastIndexByte(t, ' '); sp > 0 {
			if n := utf8.RuneCountInString(t[sp+1:]); n <= max/3 && n <= 25 {
				t = t[:sp]
			}
		}
	}
	t = strings.TrimRightFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' && r != '"' })
	return t + "…"
}

// dateLayouts are the date forms the engines use: SearXNG's ISO times
// with and without a zone, Brave's page_age, Tavily's RFC 1123 dates,
// and Brave's "January 2, 2006" age.
var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02",
	time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "January 2, 2006", "Jan 2, 2006",
}

// published returns an engine's publication date as "2006-01-02" when it
// reads as a date, else as short plain text ("3 days ago").
func published(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1900 {
				return ""
			}
			return t.Format("2006-01-02")
		}
	}
	return plainText(s, 40)
}

// resultURL returns raw, trimmed and copied, when it is an absolute
// http(s) URL, else "": only those are safe to cite in a markdown link.
func resultURL(raw string) (string, *url.URL) {
	raw = strings.TrimSpace(raw)
	if len(raw) > 2048 {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", nil
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '(' || c == ')' {
			// Spaces and parentheses would end a markdown link early.
			return "", nil
		}
	}
	return strings.Clone(raw), u
}

// collector builds an engine's results: it drops results without a
// usable URL or seen before, cleans the text and stops at max.
type collector struct {
	out           []Result
	seen          map[string]bool
	max           int
	contentLength int
}

func newCollector(max, contentLength int) *collector {
	return &collector{out: make([]Result, 0, max), seen: make(map[string]bool, max), max: max, contentLength: contentLength}
}

// full reports whether max results were collected.
func (c *collector) full() bool { return len(c.out) >= c.max }

// add adds a result; snippets are joined with a space, the first one
// kept whole before the others fill what ContentLength leaves.
func (c *collector) add(title, rawURL, date string, snippets ...string) {
	if c.full() {
		return
	}
	link, u := resultURL(rawURL)
	if link == "" || c.seen[link] {
		return
	}
	c.seen[link] = true
	r := Result{URL: link, Title: plainText(title, 300), Published: published(date)}
	if r.Title == "" {
		r.Title = strings.Clone(u.Hostname())
	}
	var sb strings.Builder
	for _, s := range snippets {
		s = plainText(s, 0)
		if s == "" || strings.Contains(sb.String(), s) {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(s)
		if utf8.RuneCountInString(sb.String()) >= c.contentLength {
			break
		}
	}
	r.Snippet = truncate(sb.String(), c.contentLength)
	c.out = append(c.out, r)
}
