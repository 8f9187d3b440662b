package proxy

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"

	"switchboard/bench/mock"
)

// fakeSearXNG is a SearXNG instance on 127.0.0.1 answering its JSON API
// with two results, or with status when it is set.
type fakeSearXNG struct {
	url      string
	searches atomic.Int64
	status   atomic.Int64
}

const searxngAnswer = `{"query":"q","number_of_results":2,"results":[` +
	`{"url":"https://go.dev/doc/go1.26","title":"Go 1.26 Release Notes","content":"Go 1.26 ships the <b>green tea</b> garbage collector by default.","engine":"duckduckgo","score":1.0},` +
	`{"url":"https://example.org/gc","title":"GC deep dive","content":"A look at the new collector.","engine":"bing","score":0.5}],` +
	`"answers":[],"corrections":[],"infoboxes":[],"suggestions":[],"unresponsive_engines":[]}`

func startFakeSearXNG(t *testing.T) *fakeSearXNG {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSearXNG{url: "http://" + ln.Addr().String()}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		f.searches.Add(1)
		if s := f.status.Load(); s != 0 {
			ctx.SetStatusCode(int(s))
			ctx.SetBodyString("<html>Too Many Requests</html>")
			return
		}
		if string(ctx.Path()) != "/search" || string(ctx.QueryArgs().Peek("format")) != "json" || len(ctx.QueryArgs().Peek("q")) == 0 {
			ctx.SetStatusCode(400)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBodyString(searxngAnswer)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return f
}

func startWebGateway(t *testing.T, engine string) *gateway {
	t.Helper()
	m := startMock(t, mock.Options{})
	return startGatewayConfig(t, m, fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %s
auth: {keys: [{name: test, key: %s}]}
%s
providers:
  - {name: mock, base_url: %[4]s/v1, api_key: k, models: [mock-model]}
  - {name: anth, format: anthropic, base_url: %[4]s/v1, api_key: k, models: [claude-mock]}
`, t.TempDir(), testKey, engine, m.URL()))
}

// TestWebSearch: model:web searches the last user message, gives the
// model the results as numbered context in any provider format, and the
// answer carries the sources; the plugins form and its options work; a
// repeated query comes from the store.
func TestWebSearch(t *testing.T) {
	f := startFakeSearXNG(t)
	g := startWebGateway(t, "web_search: {engine: searxng, base_url: "+f.url+"}")
	ask := `"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is new in Go 1.26?"}]`
	r := g.post(t, "/v1/chat/completions", `{"model":"mock-model:web",`+ask+`}`)
	if r.status != 200 || r.header[headerWeb] != "ok" || r.header[headerWebResults] != "2" ||
		r.header[headerWebSources] != "https://go.dev/doc/go1.26 https://example.org/gc" || r.header[headerWebEngine] != "searxng" {
		t.Fatalf("status %d, web headers %q %q %q: %s", r.status, r.header[headerWeb], r.header[headerWebResults], r.header[headerWebSources], r.body)
	}
	up := string(g.Mock.LastRequest().Body)
	if !strings.Contains(up, "A web search was conducted") || !strings.Contains(up, "[1] Go 1.26 Release Notes (https://go.dev/doc/go1.26)") ||
		!strings.Contains(up, "green tea garbage collector") || !strings.Contains(up, "What is new in Go 1.26?") || strings.Contains(up, ":web") {
		t.Fatalf("upstream body lacks the results:\n%s", up)
	}
	var ans struct {
		WebSources []struct{ URL, Title string } `json:"web_sources"`
		Choices    []struct {
			Message struct {
				Content     string
				Annotations []struct {
					Type        string
					URLCitation struct{ URL string } `json:"url_citation"`
				}
			}
		}
	}
	if err := sonic.UnmarshalString(r.body, &ans); err != nil || len(ans.WebSources) != 2 || len(ans.Choices) != 1 ||
		len(ans.Choices[0].Message.Annotations) != 2 || ans.Choices[0].Message.Annotations[0].URLCitation.URL != "https://go.dev/doc/go1.26" ||
		ans.Choices[0].Message.Content == "" {
		t.Fatalf("answer without its sources (%v): %s", err, r.body)
	}
	if f.searches.Load() != 1 {
		t.Fatalf("%d searches", f.searches.Load())
	}

	// The same question again: results from the store. The plugins form,
	// Anthropic in and out, one result.
	r = g.post(t, "/v1/messages", `{"model":"claude-mock","max_tokens":100,"plugins":[{"id":"web","max_results":1}],"system":"Be brief.","messages":[{"role":"user","content":"What is new in Go 1.26?"}]}`, anthropicHeaders(testKey)...)
	up = string(g.Mock.LastRequest().Body)
	if r.status != 200 || r.header[headerWebResults] != "1" || !strings.Contains(r.body, `"web_sources":[{`) || !strings.Contains(r.body, `"type":"message"`) ||
		strings.Contains(up, "plugins") || !strings.Contains(up, "[1] Go 1.26") || strings.Contains(up, "[2]") {
		t.Fatalf("plugins form: status %d %q:\n%s\nupstream:\n%s", r.status, r.header[headerWeb], r.body, up)
	}
	r = g.post(t, "/v1/chat/completions", `{"model":"mock-model:online","stream":true,`+ask+`}`)
	if r.status != 200 || r.header[headerWeb] != "cached" || !strings.HasSuffix(r.body, "data: [DONE]\n\n") || f.searches.Load() != 2 {
		t.Fatalf("streamed, cached: status %d %q, %d searches:\n%s", r.status, r.header[headerWeb], f.searches.Load(), r.body)
	}
	if r := g.post(t, "/v1/chat/completions", `{"model":"mock-model:web","web_results_count":0,`+ask+`}`); r.status != 400 {
		t.Fatalf("web_results_count 0: status %d: %s", r.status, r.body)
	}
}

// TestWebSearchFailureDegrades: an engine that fails, or none at all,
// leaves the call plain and says why; it never fails the call.
func TestWebSearchFailureDegrades(t *testing.T) {
	f := startFakeSearXNG(t)
	f.status.Store(429)
	g := startWebGateway(t, "web_search: {engine: searxng, base_url: "+f.url+"}")
	r := g.post(t, "/v1/chat/completions", `{"model":"mock-model:web","messages":[{"role":"user","content":"news?"}]}`)
	if r.status != 200 || !strings.HasPrefix(r.header[headerWeb], "failed: ") || !strings.Contains(r.header[headerWeb], "429") ||
		strings.Contains(string(g.Mock.LastRequest().Body), "web search") || strings.Contains(r.body, "web_sources") {
		t.Fatalf("status %d, %s %q: %s", r.status, headerWeb, r.header[headerWeb], r.body)
	}
	g = startWebGateway(t, "")
	r = g.post(t, "/v1/chat/completions", `{"model":"mock-model:web","messages":[{"role":"user","content":"news?"}]}`)
	if r.status != 200 || !strings.HasPrefix(r.header[headerWeb], "off: ") {
		t.Fatalf("no engine: status %d, %s %q", r.status, headerWeb, r.header[headerWeb])
	}
}
