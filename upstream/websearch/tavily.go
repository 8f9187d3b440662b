package websearch

import (
	"context"
	"fmt"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/upstream/canon"
)

// tavily searches with Tavily's search API:
//
//	POST {base_url}/search
//	Authorization: Bearer <key>
//	{"query": <query>, "max_results": <max>, "search_depth": "basic"}
//	-> {"query": ..., "answer": ..., "images": [], "results": [{"title",
//	    "url", "content", "score", "raw_content", "published_date"?}],
//	    "response_time": ..., "request_id": ...}
//
// (docs.tavily.com/documentation/api-reference/endpoint/search). The key
// goes in the Authorization header as the current API documents; the
// older API took it as "api_key" in the body, which is not sent, so that
// no body carries it. max_results is at most 20; published_date comes
// with topic "news". Errors come as {"detail": {"error": "..."}} (401 bad
// key, 429 rate limit, 432/433 plan and pay-as-you-go limits), and a
// malformed request as FastAPI's {"detail": [{"msg": ...}]}.
type tavily struct {
	c             *client
	auth          string
	depth         string
	contentLength int
}

func newTavily(cfg Config) (*tavily, error) {
	c, err := newClient(&cfg, "/search")
	if err != nil {
		return nil, err
	}
	return &tavily{c: c, auth: "Bearer " + cfg.APIKey, depth: cfg.Depth, contentLength: cfg.ContentLength}, nil
}

// Name implements Engine.
func (*tavily) Name() string { return NameTavily }

// Search implements Engine.
func (e *tavily) Search(ctx context.Context, query string, max int) ([]Result, error) {
	query = Query(query)
	if query == "" {
		return nil, &Error{Engine: NameTavily, Err: ErrEmptyQuery}
	}
	max = clampMax(max)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(e.c.endpoint)
	req.Header.SetContentType("application/json")
	req.Header.Set(fasthttp.HeaderAuthorization, e.auth)
	req.SetBodyRaw(appendTavilyRequest(nil, query, max, e.depth))
	body, err := e.c.do(ctx, req, resp, tavilyMessage)
	if err != nil {
		return nil, err
	}
	return parseTavily(body, max, e.contentLength)
}

// appendTavilyRequest appends the JSON body of a search.
func appendTavilyRequest(dst []byte, query string, max int, depth string) []byte {
	dst = append(dst, '{')
	dst = canon.AppendStringField(dst, "query", query)
	dst = canon.AppendIntField(dst, "max_results", int64(max))
	dst = canon.AppendStringField(dst, "search_depth", depth)
	return append(dst, '}')
}

// tavilyMessage reads Tavily's error body: detail.error, a detail string,
// or the first message of a validation error list.
func tavilyMessage(_ int, body []byte) string {
	var r struct {
		Detail sonic.NoCopyRawMessage `json:"detail"`
		Error  string                 `json:"error"`
	}
	if canon.DecodeLenient(body, &r, "") != nil {
		return plainText(string(body), 0)
	}
	detail := canon.Trim(r.Detail)
	switch {
	case len(detail) > 0 && detail[0] == '{':
		var d struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if canon.DecodeLenient(detail, &d, "") == nil && d.Error+d.Message != "" {
			return plainText(d.Error+" "+d.Message, 0)
		}
	case len(detail) > 0 && detail[0] == '"':
		return plainText(rawString(detail), 0)
	case len(detail) > 0 && detail[0] == '[':
		var d []struct {
			Msg string `json:"msg"`
		}
		if canon.DecodeLenient(detail, &d, "") == nil && len(d) > 0 {
			return plainText(d[0].Msg, 0)
		}
	case r.Error != "":
		return plainText(r.Error, 0)
	}
	return plainText(string(body), 0)
}

type tavilyResponse struct {
	Results []struct {
		Title         string                 `json:"title"`
		URL           string                 `json:"url"`
		Content       string                 `json:"content"`
		PublishedDate sonic.NoCopyRawMessage `json:"published_date"`
	} `json:"results"`
}

// parseTavily reads a Tavily search answer.
func parseTavily(body []byte, max, contentLength int) ([]Result, error) {
	var r tavilyResponse
	if err := canon.DecodeLenient(body, &r, ""); err != nil {
		return nil, &Error{Engine: NameTavily, Err: fmt.Errorf("malformed answer: %w", err)}
	}
	col := newCollector(max, contentLength)
	for _, res := range r.Results {
		col.add(res.Title, res.URL, rawString(res.PublishedDate), res.Content)
		if col.full() {
			break
		}
	}
	return col.out, nil
}
