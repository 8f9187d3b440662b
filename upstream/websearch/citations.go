package websearch

import (
	"strings"
	"unicode/utf8"

	"switchboard/upstream/canon"
)

// AppendAnnotations appends the results as a JSON array of OpenAI chat
// completion annotations, the form OpenRouter gives web results in:
//
//	[{"type":"url_citation","url_citation":{"url":"...","title":"...",
//	  "content":"...","start_index":12,"end_index":58}}, ...]
//
// one per result, in the results' order, so the n-th annotation is the
// model's source [n]. "content" is the snippet (OpenRouter's addition;
// left out when empty). When content, the model's answer, links a
// result's URL, start_index and end_index delimit the first such link,
// "[...](url)", or else the bare URL, as a half-open range of Unicode
// code points (content[start:end] in Python); a result the answer does
// not cite has no indexes.
func AppendAnnotations(dst []byte, results []Result, content string) []byte {
	dst = append(dst, '[')
	for _, r := range results {
		dst = canon.AppendElem(dst)
		dst = append(dst, '{')
		dst = canon.AppendStringField(dst, "type", "url_citation")
		dst = canon.AppendKey(dst, "url_citation")
		dst = append(dst, '{')
		dst = canon.AppendStringField(dst, "url", r.URL)
		dst = canon.AppendStringField(dst, "title", r.Title)
		if r.Snippet != "" {
			dst = canon.AppendStringField(dst, "content", r.Snippet)
		}
		if start, end, ok := citationSpan(content, r.URL); ok {
			dst = canon.AppendIntField(dst, "start_index", int64(start))
			dst = canon.AppendIntField(dst, "end_index", int64(end))
		}
		dst = append(dst, '}', '}')
	}
	return append(dst, ']')
}

// citationSpan finds where content cites url, in code points: the first
// markdown link to it, else its first bare mention.
func citationSpan(content, url string) (start, end int, ok bool) {
	if content == "" || url == "" {
		return 0, 0, false
	}
	b, e := -1, -1
	target := "](" + url + ")"
	if i := strings.Index(content, target); i >= 0 {
		// The link text starts at the last "[" before "](" on that line.
		line := strings.LastIndexByte(content[:i], '\n') + 1
		if open := strings.LastIndexByte(content[line:i], '['); open >= 0 {
			b, e = line+open, i+len(target)
		}
	}
	if b < 0 {
		i := strings.Index(content, url)
		if i < 0 {
			return 0, 0, false
		}
		b, e = i, i+len(url)
	}
	start = utf8.RuneCountInString(content[:b])
	return start, start + utf8.RuneCountInString(content[b:e]), true
}

// AppendSources appends the results as the gateway's web_sources list, a
// JSON array of {"url":"...","title":"..."} in the results' order.
func AppendSources(dst []byte, results []Result) []byte {
	dst = append(dst, '[')
	for _, r := range results {
		dst = canon.AppendElem(dst)
		dst = append(dst, '{')
		dst = canon.AppendStringField(dst, "url", r.URL)
		dst = canon.AppendStringField(dst, "title", r.Title)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}
