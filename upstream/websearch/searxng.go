package websearch

import (
	"context"
	"fmt"
	"strings"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/upstream/canon"
)

// searxng searches a SearXNG instance through its JSON API:
//
//	GET {base_url}/search?q=<query>&format=json
//	-> {"query": ..., "results": [{"url", "title", "content",
//	    "publishedDate"?, "engine", "score", ...}], "answers": [...],
//	    "unresponsive_engines": [["google", "timeout"], ...], ...}
//
// (docs.searxng.org/dev/search_api). The instance must list json in
// search.formats of its settings.yml, or it answers 403. SearXNG has no
// result count parameter: it returns a page (about 20) and the first max
// are kept. It needs no key; an instance whose limiter is on may take the
// gateway for a bot and must let its address pass (botdetection's
// pass_ip).
type searxng struct {
	c             *client
	contentLength int
}

func newSearXNG(cfg Config) (*searxng, error) {
	c, err := newClient(&cfg, "/search")
	if err != nil {
		return nil, err
	}
	return &searxng{c: c, contentLength: cfg.ContentLength}, nil
}

// Name implements Engine.
func (*searxng) Name() string { return NameSearXNG }

// Search implements Engine.
func (e *searxng) Search(ctx context.Context, query string, max int) ([]Result, error) {
	query = Query(query)
	if query == "" {
		return nil, &Error{Engine: NameSearXNG, Err: ErrEmptyQuery}
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI(e.c.endpoint)
	args := req.URI().QueryArgs()
	args.Add("q", query)
	args.Add("format", "json")
	body, err := e.c.do(ctx, req, resp, searxngMessage)
	if err != nil {
		return nil, err
	}
	return parseSearXNG(body, clampMax(max), e.contentLength)
}

// searxngMessage reads a SearXNG error page. A 403 is nearly always the
// JSON format being off, which the page does not say.
func searxngMessage(status int, body []byte) string {
	msg := plainText(string(body), 0)
	if status == fasthttp.StatusForbidden {
		msg = strings.TrimSpace(msg + " (is json in search.formats of the instance's settings.yml?)")
	}
	return msg
}

type searxngResponse struct {
	Results []struct {
		URL           string                 `json:"url"`
		Title         string                 `json:"title"`
		Content       string                 `json:"content"`
		PublishedDate sonic.NoCopyRawMessage `json:"publishedDate"`
	} `json:"results"`
	UnresponsiveEngines sonic.NoCopyRawMessage `json:"unresponsive_engines"`
}

// parseSearXNG reads a SearXNG JSON answer. An answer without results
// whose upstream engines all failed (blocked, rate limited) is an error
// naming them, so that the caller can say why the search found nothing.
func parseSearXNG(body []byte, max, contentLength int) ([]Result, error) {
	var r searxngResponse
	if err := canon.DecodeLenient(body, &r, ""); err != nil {
		return nil, &Error{Engine: NameSearXNG, Err: fmt.Errorf("malformed answer: %w", err)}
	}
	col := newCollector(max, contentLength)
	for _, res := range r.Results {
		col.add(res.Title, res.URL, rawString(res.PublishedDate), res.Content)
		if col.full() {
			break
		}
	}
	if len(col.out) == 0 && !canon.IsNull(r.UnresponsiveEngines) {
		var failed [][]string
		if canon.DecodeLenient(r.UnresponsiveEngines, &failed, "") == nil && len(failed) > 0 {
			parts := make([]string, 0, len(failed))
			for _, f := range failed {
				parts = append(parts, plainText(strings.Join(f, ": "), 80))
			}
			return nil, &Error{Engine: NameSearXNG, Err: fmt.Errorf("no results; unresponsive engines: %s",
				truncate(strings.Join(parts, ", "), maxMessageChars))}
		}
	}
	return col.out, nil
}

// rawString returns the value of raw when it is a JSON string, else ""
// (engines send null, or now and then another type, for a missing date).
func rawString(raw []byte) string {
	raw = canon.Trim(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	s, err := canon.DecodeString(raw)
	if err != nil {
		return ""
	}
	return s
}
