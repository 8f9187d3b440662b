// Package websearch searches the web for the gateway's web feature (the
// ":web" and ":online" model suffixes and OpenRouter's
// plugins: [{"id": "web"}]): before the model is called, the last user
// message is searched with one of the configured engines, and the results
// are given to the model as a numbered context block and to the client as
// url_citation annotations and a web_sources list.
//
// Three engines sit behind one interface, each in its own file:
// SearXNG (searxng.go, a self-hosted instance's JSON API), the Brave
// Search API (brave.go) and Tavily (tavily.go). Each talks to its host
// over a pooled keep-alive fasthttp HostClient; New picks one by name.
//
// What an engine returns is untrusted text: titles and snippets are
// reduced to plain text (tags and entities removed, white space collapsed,
// length capped), and only http(s) URLs are kept, since they end up in
// a prompt, in markdown links and in the client's response.
package websearch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Result is one web search result, as plain text.
type Result struct {
	// Title is the page's title; the URL's host when the engine gave none.
	Title string
	// URL is the page's address, always http or https.
	URL string
	// Snippet is the engine's excerpt of the page, at most the engine's
	// Config.ContentLength characters.
	Snippet string
	// Published is when the page was published or last changed, as the
	// engine says it: "2006-01-02" when the engine's date could be read,
	// else the engine's own words ("3 days ago"); "" when unknown.
	Published string
}

// Engine is a web search engine. Implementations are safe for concurrent
// use.
type Engine interface {
	// Name is the engine's config name: "searxng", "brave" or "tavily".
	Name() string
	// Search searches the web for query and returns at most max results,
	// best first (max <= 0 asks for DefaultMaxResults; more than
	// MaxResults asks for MaxResults). The call ends by the engine's
	// timeout or ctx's deadline, whichever comes first; fasthttp calls
	// cannot be interrupted, so a ctx canceled without a deadline is
	// only noticed before the call starts. Errors are *Error and never
	// hold the engine's key.
	Search(ctx context.Context, query string, max int) ([]Result, error)
}

// Result counts.
const (
	// DefaultMaxResults is the number of results asked for when the
	// caller names none: OpenRouter's web plugin default.
	DefaultMaxResults = 5
	// MaxResults is the most results one search returns: the Brave and
	// Tavily APIs stop at 20.
	MaxResults = 20
)

// Config defaults and bounds.
const (
	DefaultTimeout       = 5 * time.Second
	MaxTimeout           = 60 * time.Second
	DefaultContentLength = 1000
	MinContentLength     = 50
	MaxContentLength     = 10000
	DefaultMaxConns      = 64
)

// Engine names.
const (
	NameSearXNG = "searxng"
	NameBrave   = "brave"
	NameTavily  = "tavily"
)

// Config configures one engine. The zero values of the optional fields
// take their defaults (see EnsureDefaults).
type Config struct {
	// Engine is "searxng", "brave" or "tavily". Required.
	Engine string
	// BaseURL is where the engine's API lives; tests point it at a
	// loopback fake. Required for searxng (the instance's address, the
	// request goes to {BaseURL}/search); default for brave
	// "https://api.search.brave.com/res/v1" ({BaseURL}/web/search), for
	// tavily "https://api.tavily.com" ({BaseURL}/search).
	BaseURL string
	// APIKey is the engine's key: required for brave (sent as
	// X-Subscription-Token) and tavily (sent as a Bearer token); not
	// used by searxng. It never appears in errors.
	APIKey string
	// Timeout bounds one search call, from connecting to the last byte
	// of the answer. Default 5s, at most 60s.
	Timeout time.Duration
	// ContentLength caps each result's snippet, in characters. Default
	// 1000, between 50 and 10000.
	ContentLength int
	// Depth is Tavily's search_depth: "basic" (default), "advanced",
	// "fast" or "ultra-fast". Ignored by other engines.
	Depth string
	// ExtraSnippets asks Brave for up to five extra excerpts per result
	// (extra_snippets=true, a feature of some Brave plans), appended to
	// the snippet within ContentLength. Ignored by other engines.
	ExtraSnippets bool
	// Headers are sent with every request, for instance the
	// credentials of a proxy in front of a SearXNG instance.
	Headers map[string]string
	// MaxConns caps the open connections to the engine. Default 64.
	MaxConns int
}

// String describes c without its key or header values.
func (c Config) String() string {
	return fmt.Sprintf("websearch.Config{Engine:%q BaseURL:%q Timeout:%v ContentLength:%d}",
		c.Engine, c.BaseURL, c.Timeout, c.ContentLength)
}

// GoString is String, so that %#v hides the key too.
func (c Config) GoString() string { return c.String() }

// defaultBaseURLs are the engines' public API addresses.
var defaultBaseURLs = map[string]string{
	NameBrave:  "https://api.search.brave.com/res/v1",
	NameTavily: "https://api.tavily.com",
}

// tavilyDepths are the search_depth values Tavily documents.
var tavilyDepths = map[string]bool{"basic": true, "advanced": true, "fast": true, "ultra-fast": true}

// EnsureDefaults fills the optional fields that are unset.
func (c *Config) EnsureDefaults() {
	c.Engine = strings.ToLower(strings.TrimSpace(c.Engine))
	if c.BaseURL == "" {
		c.BaseURL = defaultBaseURLs[c.Engine]
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ContentLength == 0 {
		c.ContentLength = DefaultContentLength
	}
	if c.Engine == NameTavily && c.Depth == "" {
		c.Depth = "basic"
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
}

// Validate reports every problem of c, each with its field's config name.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf(field+": "+format, args...))
	}
	switch c.Engine {
	case NameSearXNG, NameBrave, NameTavily:
	default:
		add("engine", "want one of searxng, brave, tavily, got %q", c.Engine)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		add("base_url", "want http(s) URL, got %q", c.BaseURL)
	}
	if (c.Engine == NameBrave || c.Engine == NameTavily) && c.APIKey == "" {
		add("api_key", "required by %s", c.Engine)
	}
	if c.Timeout < 0 || c.Timeout > MaxTimeout {
		add("timeout", "want between 0s and %v, got %v", MaxTimeout, c.Timeout)
	}
	if c.ContentLength < MinContentLength || c.ContentLength > MaxContentLength {
		add("content_length", "want between %d and %d characters, got %d", MinContentLength, MaxContentLength, c.ContentLength)
	}
	if c.Engine == NameTavily && !tavilyDepths[c.Depth] {
		add("depth", "want basic, advanced, fast or ultra-fast, got %q", c.Depth)
	}
	if c.MaxConns < 0 {
		add("max_conns", "want a positive number, got %d", c.MaxConns)
	}
	return errors.Join(errs...)
}

// New returns the engine cfg names, with cfg's defaults applied. It does
// not connect.
func New(cfg Config) (Engine, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("web search engine %q: %w", cfg.Engine, err)
	}
	switch cfg.Engine {
	case NameSearXNG:
		return newSearXNG(cfg)
	case NameBrave:
		return newBrave(cfg)
	default:
		return newTavily(cfg)
	}
}

// clampMax turns the max argument of Search into a result count.
func clampMax(max int) int {
	switch {
	case max <= 0:
		return DefaultMaxResults
	case max > MaxResults:
		return MaxResults
	}
	return max
}
