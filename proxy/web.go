package proxy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"

	"switchboard/configs"
	"switchboard/router"
	"switchboard/store"
	"switchboard/upstream/canon"
	"switchboard/upstream/websearch"
)

// Web search: model:web (or :online, or the body's plugins:
// [{"id":"web"}]) searches the web for the last user message before the
// call, and gives the model the results as numbered context, as
// OpenRouter's web plugin does. The request is rewritten on the
// canonical model, so it reaches a provider of any format; the answer
// carries the sources. A search that fails, or no engine configured,
// never fails the call: it goes out plain, and x-switchboard-web says
// why.

const (
	// headerWeb says what the search did: "ok", "cached" (results from
	// the store), or "failed: ..." / "off: ..." / "skipped: ..." when
	// the call went out without results.
	headerWeb = "x-switchboard-web"
	// headerWebResults is how many results the model got.
	headerWebResults = "x-switchboard-web-results"
	// headerWebSources lists their URLs, separated by spaces.
	headerWebSources = "x-switchboard-web-sources"
	// headerWebEngine names the engine.
	headerWebEngine = "x-switchboard-web-engine"
)

// webSearch is the :web feature's engine and defaults.
type webSearch struct {
	engine        websearch.Engine // nil: searching is off
	off           string           // why it is off
	maxResults    int
	contentLength int
	timeout       time.Duration
	cacheTTL      time.Duration
}

func newWebSearch(c configs.WebSearch) (webSearch, error) {
	w := webSearch{maxResults: c.MaxResults, contentLength: c.ContentLength, timeout: c.Timeout.D(), cacheTTL: c.CacheTTL.D()}
	switch {
	case c.Engine == "":
		w.off = "off: no web_search engine configured"
		return w, nil
	case c.APIKey == "" && c.Engine != websearch.NameSearXNG:
		w.off = "off: the " + c.Engine + " engine has no api_key"
		return w, nil
	}
	e, err := websearch.New(websearch.Config{Engine: c.Engine, BaseURL: c.BaseURL, APIKey: string(c.APIKey),
		Timeout: c.Timeout.D(), ContentLength: c.ContentLength})
	if err != nil {
		return w, fmt.Errorf("web_search: %w", err)
	}
	w.engine = e
	return w, nil
}

// webRequest is what a call asked of the web search.
type webRequest struct {
	on            bool
	maxResults    int
	contentLength int
	prompt        string // plugins[].search_prompt
}

type plugin struct {
	ID           string `json:"id"`
	MaxResults   int    `json:"max_results"`
	SearchPrompt string `json:"search_prompt"`
	Engine       string `json:"engine"`
}

// readWebRequest reads the call's web search request from its model
// suffix and body fields, adding the fields' removal to c.strips.
func (s *Server) readWebRequest(c *call, body []byte) (webRequest, error) {
	w := webRequest{on: c.plan.Route.Suffixes&(router.SuffixWeb|router.SuffixOnline) != 0}
	value, strip, ok, err := c.extension(body, extPlugins)
	if err != nil {
		return w, err
	}
	if ok {
		c.strips = append(c.strips, strip)
		var ps []plugin
		if err := sonic.Unmarshal(body[value.start:value.end], &ps); err != nil {
			return w, fmt.Errorf(`%w: plugins must be a list of {"id": ...} objects`, errBadRequest)
		}
		for _, p := range ps {
			if p.ID == "web" {
				w.on = true
				w.maxResults, w.prompt = p.MaxResults, p.SearchPrompt
			}
		}
	}
	if v, err := positiveField(c, body, extWebResultsCount); err != nil {
		return w, err
	} else if v > 0 {
		w.maxResults = v
	}
	if w.contentLength, err = positiveField(c, body, extWebContentLength); err != nil {
		return w, err
	}
	if w.maxResults == 0 {
		w.maxResults = c.rt.web.maxResults
	}
	if w.maxResults > websearch.MaxResults {
		return w, fmt.Errorf("%w: at most %d web results", errBadRequest, websearch.MaxResults)
	}
	return w, nil
}

// positiveField reads the body's top-level integer field k, which must
// be positive, and adds its removal to c.strips;
// 0 when there is none.
func positiveField(c *call, body []byte, k extensionKey) (int, error) {
	key := extensionKeys[k]
	value, strip, ok, err := c.extension(body, k)
	if err != nil || !ok {
		return 0, err
	}
	c.strips = append(c.strips, strip)
	v, err := strconv.Atoi(string(body[value.start:value.end]))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: %s must be a positive integer", errBadRequest, key)
	}
	return v, nil
}

// searchWeb runs the call's web search, if it asked for one, and puts
// the results into its canonical request. It fails only on a malformed
// request; a search that fails leaves the call plain.
func (s *Server) searchWeb(c *call, body []byte) error {
	w, err := s.readWebRequest(c, body)
	if err != nil || !w.on {
		return err
	}
	h := &c.ctx.Response.Header
	if c.rt.web.engine == nil {
		h.Set(headerWeb, c.rt.web.off)
		return nil
	}
	h.Set(headerWebEngine, c.rt.web.engine.Name())
	if !c.surface.chat {
		h.Set(headerWeb, "skipped: web search is for chat APIs")
		return nil
	}
	if err := c.decodeRequest(body); err != nil {
		return err
	}
	r := &c.translation().req
	last := lastUserMessage(r)
	query := ""
	if last >= 0 {
		query = websearch.Query(blocksText(r.Messages[last].Content))
	}
	if query == "" {
		h.Set(headerWeb, "skipped: no user text to search for")
		return nil
	}
	results, cached, err := s.webResults(&c.rt.web, query, w.maxResults, c.start)
	if err != nil {
		var b []byte
		h.SetBytesV(headerWeb, appendHeaderSafe(append(b, "failed: "...), firstLine(err.Error())))
		return nil
	}
	if len(results) == 0 {
		h.Set(headerWeb, "ok: no results")
		return nil
	}
	prompt := websearch.AppendPrompt(nil, results, websearch.Prompt{Date: c.start, Text: w.prompt, ContentLength: w.contentLength})
	m := &r.Messages[last]
	m.Content = append([]canon.Block{{Kind: canon.BlockText, Text: string(prompt)}}, m.Content...)
	c.web.results, c.translation().rewritten = results, true
	if cached {
		h.Set(headerWeb, "cached")
	} else {
		h.Set(headerWeb, "ok")
	}
	c.setIntHeader(headerWebResults, int64(len(results)))
	var src []byte
	for i, res := range results {
		if i > 0 {
			src = append(src, ' ')
		}
		src = appendHeaderSafe(src, res.URL)
	}
	h.SetBytesV(headerWebSources, src)
	return nil
}

// webResults returns the results of web's engine for query, from the
// store's web cache when another call asked the same within its TTL.
func (s *Server) webResults(web *webSearch, query string, max int, now time.Time) ([]websearch.Result, bool, error) {
	key := sha256.Sum256([]byte(web.engine.Name() + "\x00" + strconv.Itoa(max) + "\x00" + query))
	if v, _, ok, err := s.cache.CacheGet(nil, store.CacheWeb, key, now); err == nil && ok {
		var rs []websearch.Result
		if sonic.Unmarshal(v, &rs) == nil {
			return rs, true, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), web.timeout)
	defer cancel()
	rs, err := web.engine.Search(ctx, query, max)
	if err != nil {
		return nil, false, err
	}
	if v, err := sonic.Marshal(rs); err == nil && len(rs) > 0 {
		if err := s.cache.CachePut(store.CacheWeb, key, v, web.cacheTTL, now); logCachePut(err) {
			s.errLog.Printf("web search cache: %v", err)
		}
	}
	return rs, false, nil
}

// lastUserMessage is the index of the conversation's last user message,
// or -1.
func lastUserMessage(r *canon.Request) int {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == canon.RoleUser {
			return i
		}
	}
	return -1
}

// blocksText joins the text blocks of a message.
func blocksText(bs []canon.Block) string {
	var b strings.Builder
	for i := range bs {
		if bs[i].Kind == canon.BlockText {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(bs[i].Text)
		}
	}
	return b.String()
}

// firstLine is s up to its first line break.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// appendWebSources appends the whole answer doc (in the client's
// format) with the call's web results added: "web_sources" at the top,
// and for chat completions the message's "annotations" (url_citation,
// indexed into the answer's text), as OpenRouter answers.
func (c *call) appendWebSources(dst, doc []byte) []byte {
	src := unsafe.String(unsafe.SliceData(doc), len(doc))
	var msg span
	var content string
	hasMsg := false
	if path := c.format.messagePath; path != nil {
		n := &c.fields.node
		var err error
		if *n, err = sonic.GetFromString(src, path...); err == nil && n.TypeSafe() == ast.V_OBJECT {
			if msg, err = spanOf(src, n); err == nil && !emptyObject(src, msg) {
				hasMsg = true
				if *n, err = sonic.GetFromString(src[msg.start:msg.end], "content"); err == nil && n.TypeSafe() == ast.V_STRING {
					content, _ = n.StrictString()
				}
			}
		}
	}
	sources := func(dst []byte) []byte { return websearch.AppendSources(dst, c.web.results) }
	if !hasMsg {
		return appendFirstField(dst, doc, "web_sources", sources)
	}
	dst = appendFirstField(dst, doc[:msg.end-1], "web_sources", sources)
	dst = append(dst, `,"annotations":`...)
	dst = websearch.AppendAnnotations(dst, c.web.results, content)
	return append(dst, doc[msg.end-1:]...)
}
