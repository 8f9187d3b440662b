package websearch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// engineCases are the engines with a key (if they take one) for tests
// that run against each.
var engineCases = []struct {
	name string
	key  string
}{
	{"searxng", ""},
	{"brave", testBraveKey},
	{"tavily", testTavilyKey},
}

// searchFiles are the engines' documented answers to a search.
var searchFiles = map[string]string{
	"searxng": "searxng_search.json",
	"brave":   "brave_web_search.json",
	"tavily":  "tavily_search.json",
}

func newTestEngine(t *testing.T, name, key, baseURL string, timeout time.Duration) Engine {
	t.Helper()
	e, err := New(Config{Engine: name, BaseURL: baseURL, APIKey: key, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// checkError checks that err is an *Error of engine whose text has each
// of wants and never the key.
func checkError(t *testing.T, err error, engine, key string, wants ...string) *Error {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if se.Engine != engine {
		t.Errorf("Engine = %q, want %q", se.Engine, engine)
	}
	msg := err.Error()
	if !strings.Contains(msg, `web search "`+engine+`"`) {
		t.Errorf("err %q does not name the engine", msg)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("err %q does not say %q", msg, w)
		}
	}
	if key != "" && (strings.Contains(msg, key) || strings.Contains(fmt.Sprintf("%#v", se), key)) {
		t.Errorf("err %q holds the key", msg)
	}
	return se
}

func TestErrorStatusesNameEngineStatusAndEngineMessage(t *testing.T) {
	cases := []struct {
		engine, file string
		status       int
		want         string
	}{
		{"searxng", "searxng_401.html", 401, "401 Authorization Required 401 Authorization Required nginx"},
		{"searxng", "searxng_429.html", 429, "429 Too Many Requests Too Many Requests Too many request"},
		{"searxng", "searxng_500.html", 500, "500 Internal Server Error Internal Server Error The server encountered an internal error"},
		{"brave", "brave_401.json", 401, "The subscription token is missing. (SUBSCRIPTION_TOKEN_MISSING)"},
		{"brave", "brave_422.json", 422, "The provided subscription token is invalid. (SUBSCRIPTION_TOKEN_INVALID)"},
		{"brave", "brave_429.json", 429, "Request rate limit exceeded for plan. (RATE_LIMITED)"},
		{"brave", "brave_500.json", 500, "Unexpected error. (INTERNAL_ERROR)"},
		{"tavily", "tavily_401.json", 401, "Unauthorized: missing or invalid API key."},
		{"tavily", "tavily_429.json", 429, "Your request has been blocked due to excessive requests."},
		{"tavily", "tavily_500.json", 500, "Internal Server Error"},
		{"tavily", "tavily_400.json", 400, "Field required"},
	}
	keys := map[string]string{"brave": testBraveKey, "tavily": testTavilyKey}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f := newFakeEngine(t)
			f.answerFile(t, c.status, c.file)
			e := newTestEngine(t, c.engine, keys[c.engine], f.URL, 0)
			got, err := e.Search(context.Background(), "go", 5)
			if got != nil {
				t.Errorf("results %v with an error status", got)
			}
			se := checkError(t, err, c.engine, keys[c.engine], fmt.Sprintf("status %d: ", c.status), c.want)
			if se.Status != c.status {
				t.Errorf("Status = %d, want %d", se.Status, c.status)
			}
			if len([]rune(se.Message)) > maxMessageChars {
				t.Errorf("Message has %d characters, over %d", len([]rune(se.Message)), maxMessageChars)
			}
		})
	}
}

func TestErrorNeverEchoesTheKey(t *testing.T) {
	for _, c := range engineCases[1:] {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeEngine(t)
			// An engine that quotes the request back in its error.
			f.answer(401, "application/json", fmt.Appendf(nil,
				`{"error":{"code":"BAD_KEY","detail":"bad key %[1]s"},"detail":{"error":"bad key Bearer %[1]s"}}`, c.key))
			e := newTestEngine(t, c.name, c.key, f.URL, 0)
			_, err := e.Search(context.Background(), "go", 5)
			checkError(t, err, c.name, c.key, "status 401", "bad key", "<secret>")
		})
	}
}

func TestTimeoutIsAnErrorOfItsOwn(t *testing.T) {
	for _, c := range engineCases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.answerFile(t, 200, searchFiles[c.name])
			f.setDelay(600 * time.Millisecond)

			// The engine answers after 600ms: an error means the timeout
			// cut the search.
			e := newTestEngine(t, c.name, c.key, f.URL, 100*time.Millisecond)
			_, err := e.Search(context.Background(), "go", 5)
			se := checkError(t, err, c.name, c.key, "timed out after 100ms")
			if !se.Timeout() || !errors.Is(err, ErrTimeout) {
				t.Errorf("Timeout() = %v, errors.Is(ErrTimeout) = %v, want true", se.Timeout(), errors.Is(err, ErrTimeout))
			}

			// A context deadline shorter than the engine's timeout wins.
			e = newTestEngine(t, c.name, c.key, f.URL, 5*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err = e.Search(ctx, "go", 5); !errors.Is(err, ErrTimeout) {
				t.Errorf("with a 100ms context: err %v, want a timeout", err)
			}
		})
	}
}

func TestCanceledContextSendsNothing(t *testing.T) {
	f := newFakeEngine(t)
	e := newTestEngine(t, "searxng", "", f.URL, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Search(ctx, "go", 5)
	if !errors.Is(err, context.Canceled) || len(f.requests()) != 0 {
		t.Errorf("err %v, %d requests; want context.Canceled and none", err, len(f.requests()))
	}
}

func TestMalformedAnswerIsAnError(t *testing.T) {
	bodies := map[string]string{
		"truncated":  `{"results": [{"url": "https://go.dev/", "title": "Go"`,
		"html":       `<!doctype html><html><body>Just a moment...</body></html>`,
		"wrong type": `{"results": "none", "web": {"results": 3}}`,
	}
	says := map[string]string{"truncated": "invalid JSON", "html": "invalid JSON", "wrong type": "want a list, got"}
	for _, c := range engineCases {
		for name, body := range bodies {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				f := newFakeEngine(t)
				f.answer(200, "application/json", []byte(body))
				e := newTestEngine(t, c.name, c.key, f.URL, 0)
				got, err := e.Search(context.Background(), "go", 5)
				if got != nil {
					t.Errorf("results %v from a malformed answer", got)
				}
				se := checkError(t, err, c.name, c.key, "malformed answer: ", says[name])
				if se.Status != 0 {
					t.Errorf("Status = %d, want 0", se.Status)
				}
			})
		}
	}
}

func TestUnreachableEngineIsAnError(t *testing.T) {
	for _, c := range engineCases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEngine(t, c.name, c.key, closedPort(t), 0)
			_, err := e.Search(context.Background(), "go", 5)
			se := checkError(t, err, c.name, c.key, "cannot reach \"127.0.0.1:")
			if se.Timeout() {
				t.Error("a refused connection reported as a timeout")
			}
		})
	}
}

func TestEmptyQuerySendsNothing(t *testing.T) {
	for _, c := range engineCases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeEngine(t)
			e := newTestEngine(t, c.name, c.key, f.URL, 0)
			_, err := e.Search(context.Background(), " \n\t", 5)
			if !errors.Is(err, ErrEmptyQuery) || len(f.requests()) != 0 {
				t.Errorf("err %v, %d requests; want ErrEmptyQuery and none", err, len(f.requests()))
			}
		})
	}
}

func TestSearchSendsConfiguredHeaders(t *testing.T) {
	f := newFakeEngine(t)
	f.answerFile(t, 200, "searxng_search.json")
	e, err := New(Config{Engine: "searxng", BaseURL: f.URL, Headers: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Search(context.Background(), "go", 1); err != nil {
		t.Fatal(err)
	}
	if got := f.last(t).Header["Authorization"]; got != "Basic dXNlcjpwYXNz" {
		t.Errorf("Authorization = %q, want the configured header", got)
	}
}

func TestNewReportsEveryConfigProblem(t *testing.T) {
	cases := []struct {
		cfg   Config
		wants []string
	}{
		{Config{Engine: "bing"}, []string{`engine: want one of searxng, brave, tavily, got "bing"`}},
		{Config{Engine: "searxng"}, []string{`base_url: want http(s) URL, got ""`}},
		{Config{Engine: "searxng", BaseURL: "ftp://searx.example.org"}, []string{`base_url: want http(s) URL, got "ftp://searx.example.org"`}},
		{Config{Engine: "brave"}, []string{"api_key: required by brave"}},
		{Config{Engine: "tavily", APIKey: "k", Depth: "deep", Timeout: time.Hour, ContentLength: 10, MaxConns: -1}, []string{
			`depth: want basic, advanced, fast or ultra-fast, got "deep"`,
			"timeout: want between 0s and 1m0s, got 1h0m0s",
			"content_length: want between 50 and 10000 characters, got 10",
			"max_conns: want a positive number, got -1",
		}},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if err == nil {
			t.Errorf("%v: no error", c.cfg)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: err %q does not say %q", c.cfg, err, w)
			}
		}
	}
}

func TestConfigPrintsWithoutKey(t *testing.T) {
	cfg := Config{Engine: "brave", APIKey: testBraveKey, Headers: map[string]string{"X-Proxy-Auth": "hunter2"}}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)} {
		if strings.Contains(s, testBraveKey) || strings.Contains(s, "hunter2") {
			t.Errorf("%q shows a secret", s)
		}
	}
}

func TestExpiredContextDeadlineIsATimeout(t *testing.T) {
	f := newFakeEngine(t)
	e := newTestEngine(t, "brave", testBraveKey, f.URL, 0)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := e.Search(ctx, "go", 5)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || len(f.requests()) != 0 {
		t.Errorf("err %v, %d requests; want a timeout and none", err, len(f.requests()))
	}
}

func TestSearXNGHintIsOnlyFor403(t *testing.T) {
	f := newFakeEngine(t)
	f.answer(502, "text/plain", nil)
	e := newTestEngine(t, "searxng", "", f.URL, 0)
	_, err := e.Search(context.Background(), "go", 5)
	if err == nil || err.Error() != `web search "searxng": status 502` {
		t.Errorf("err = %v, want the bare status", err)
	}
}
