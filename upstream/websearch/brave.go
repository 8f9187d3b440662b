package websearch

import (
	"context"
	"fmt"
	"strconv"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/upstream/canon"
)

// brave searches with the Brave Search API's web search:
//
//	GET {base_url}/web/search?q=<query>&count=<max>[&extra_snippets=true]
//	X-Subscription-Token: <key>
//	Accept: application/json
//	-> {"type": "search", "query": {...}, "web": {"type": "search",
//	    "results": [{"title", "url", "description", "age"?, "page_age"?,
//	    "extra_snippets"?, "meta_url", "profile", ...}]}, "news": ..., ...}
//
// (api-dashboard.search.brave.com/api-reference/web/search/get). count
// is at most 20. Descriptions mark the query's words with <strong>, which
// the snippet cleaning removes. Errors come as
// {"type": "ErrorResponse", "error": {"code": "RATE_LIMITED",
// "detail": "...", "status": 429, "meta": {...}}, "time": ...}; an invalid
// key is a 422 with code SUBSCRIPTION_TOKEN_INVALID, not a 401.
type brave struct {
	c             *client
	key           string
	extraSnippets bool
	contentLength int
}

func newBrave(cfg Config) (*brave, error) {
	c, err := newClient(&cfg, "/web/search")
	if err != nil {
		return nil, err
	}
	return &brave{c: c, key: cfg.APIKey, extraSnippets: cfg.ExtraSnippets, contentLength: cfg.ContentLength}, nil
}

// Name implements Engine.
func (*brave) Name() string { return NameBrave }

// Search implements Engine.
func (e *brave) Search(ctx context.Context, query string, max int) ([]Result, error) {
	query = Query(query)
	if query == "" {
		return nil, &Error{Engine: NameBrave, Err: ErrEmptyQuery}
	}
	max = clampMax(max)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI(e.c.endpoint)
	args := req.URI().QueryArgs()
	args.Add("q", query)
	args.Add("count", strconv.Itoa(max))
	if e.extraSnippets {
		args.Add("extra_snippets", "true")
	}
	req.Header.Set("X-Subscription-Token", e.key)
	body, err := e.c.do(ctx, req, resp, braveMessage)
	if err != nil {
		return nil, err
	}
	return parseBrave(body, max, e.contentLength)
}

type braveError struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// braveMessage reads Brave's error body: "detail (CODE)". Brave sends
// one "error" object; its API reference's examples show an "errors"
// array, which is read too.
func braveMessage(_ int, body []byte) string {
	var r struct {
		Error  braveError   `json:"error"`
		Errors []braveError `json:"errors"`
	}
	if canon.DecodeLenient(body, &r, "") != nil {
		return plainText(string(body), 0)
	}
	e := r.Error
	if e.Code == "" && e.Detail == "" && len(r.Errors) > 0 {
		e = r.Errors[0]
	}
	switch {
	case e.Detail != "" && e.Code != "":
		return plainText(e.Detail+" ("+e.Code+")", 0)
	case e.Detail != "" || e.Code != "":
		return plainText(e.Detail+e.Code, 0)
	}
	return plainText(string(body), 0)
}

type braveResponse struct {
	Web struct {
		Results []struct {
			Title         string                 `json:"title"`
			URL           string                 `json:"url"`
			Description   string                 `json:"description"`
			ExtraSnippets []string               `json:"extra_snippets"`
			PageAge       sonic.NoCopyRawMessage `json:"page_age"`
			Age           sonic.NoCopyRawMessage `json:"age"`
		} `json:"results"`
	} `json:"web"`
}

// parseBrave reads a Brave web search answer. An answer without a "web"
// section (a query Brave only answered with news, say) has no results.
func parseBrave(body []byte, max, contentLength int) ([]Result, error) {
	var r braveResponse
	if err := canon.DecodeLenient(body, &r, ""); err != nil {
		return nil, &Error{Engine: NameBrave, Err: fmt.Errorf("malformed answer: %w", err)}
	}
	col := newCollector(max, contentLength)
	for _, res := range r.Web.Results {
		date := rawString(res.PageAge)
		if date == "" {
			date = rawString(res.Age)
		}
		col.add(res.Title, res.URL, date, append([]string{res.Description}, res.ExtraSnippets...)...)
		if col.full() {
			break
		}
	}
	return col.out, nil
}
