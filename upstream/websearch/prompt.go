package websearch

import (
	"strconv"
	"time"
)

// The default prompt mirrors OpenRouter's web plugin, whose documented
// default search prompt (openrouter.ai/docs/guides/features/plugins/web-search)
// is, with the current date:
//
//	A web search was conducted on `date`. Incorporate the following web search results into your response.
//
//	IMPORTANT: Cite them using markdown links named using the domain of the source.
//	Example: [nytimes.com](https://nytimes.com/some-page).
//
// OpenRouter does not document how it lists the results after it; here
// each is numbered, in the engine's order: "[1] Title (URL)", an optional
// "Published: date" line and the snippet.
const (
	promptHead = "A web search was conducted on "
	promptTail = ". Incorporate the following web search results into your response.\n\n" +
		"IMPORTANT: Cite them using markdown links named using the domain of the source.\n" +
		"Example: [nytimes.com](https://nytimes.com/some-page).\n"
)

// Prompt says how AppendPrompt writes the results.
type Prompt struct {
	// Date is when the search ran, written in UTC as "2006-01-02". The
	// caller passes it so that the text is reproducible (and changes at
	// most once a day, which keeps a cached prompt prefix valid).
	Date time.Time
	// Text, when set, replaces the default prompt before the results
	// (OpenRouter's search_prompt); it is written as is, with no date.
	Text string
	// ContentLength, when above 0, caps each snippet further, in
	// characters (the per-request web_content_length); the engine's
	// Config.ContentLength already capped them.
	ContentLength int
}

// AppendPrompt appends to dst the text the model gets with the results
// of a search: OpenRouter's default web prompt (or p.Text) and the
// numbered results. The gateway puts it in a system message before the
// last user message, as OpenRouter does. With no results it appends
// nothing: the call goes on without web context.
func AppendPrompt(dst []byte, results []Result, p Prompt) []byte {
	if len(results) == 0 {
		return dst
	}
	if p.Text != "" {
		dst = append(dst, p.Text...)
		if dst[len(dst)-1] != '\n' {
			dst = append(dst, '\n')
		}
	} else {
		dst = append(dst, promptHead...)
		dst = p.Date.UTC().AppendFormat(dst, "2006-01-02")
		dst = append(dst, promptTail...)
	}
	for i, r := range results {
		dst = append(dst, "\n["...)
		dst = strconv.AppendInt(dst, int64(i+1), 10)
		dst = append(dst, "] "...)
		dst = append(dst, r.Title...)
		dst = append(dst, " ("...)
		dst = append(dst, r.URL...)
		dst = append(dst, ")\n"...)
		if r.Published != "" {
			dst = append(dst, "Published: "...)
			dst = append(dst, r.Published...)
			dst = append(dst, '\n')
		}
		if snippet := truncate(r.Snippet, p.ContentLength); snippet != "" {
			dst = append(dst, snippet...)
			dst = append(dst, '\n')
		}
	}
	return dst
}
