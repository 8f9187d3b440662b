package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/upstream/websearch"
)

func TestFakeSearchIsWhatTheGatewayParses(t *testing.T) {
	f, err := startFakeSearch(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, err := websearch.New(websearch.Config{Engine: websearch.NameSearXNG, BaseURL: f.URL(), Timeout: time.Second, ContentLength: 1000})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rs, err := e.Search(context.Background(), "go parse duration error", 10)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Millisecond {
		t.Error("the fake answered before its delay")
	}
	if len(rs) != searchResults || f.searches.Load() != 1 {
		t.Fatalf("%d results, %d searches: %+v", len(rs), f.searches.Load(), rs)
	}
	for _, r := range rs {
		if !strings.HasPrefix(r.URL, "https://") || r.Title == "" || len(r.Snippet) < 100 || strings.Contains(r.Snippet, "<b>") {
			t.Errorf("result %+v", r)
		}
	}
	// Anything but a JSON search is refused and counted.
	var resp fasthttp.Response
	req := new(fasthttp.Request)
	req.SetRequestURI(f.URL() + "/search?q=x")
	if err := fasthttp.Do(req, &resp); err != nil || resp.StatusCode() != 400 || f.bad.Load() != 1 {
		t.Fatalf("a search without format=json: %v, status %d, %d bad", err, resp.StatusCode(), f.bad.Load())
	}
}

func TestWebScenario(t *testing.T) {
	targets, o := testTargets(t)
	if wt, _ := webTargets(targets); wt != nil {
		t.Fatalf("web targets without a gateway: %d", len(wt))
	}
	f, err := startFakeSearch(0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The stand-in searches the fake engine for every :web request whose
	// question it has not seen, as the gateway does.
	var mu sync.Mutex
	seen := map[string]bool{}
	search := &fasthttp.Client{}
	targets = withFeatureGateway(t, targets, o, func(req *fasthttp.Request, h *fasthttp.ResponseHeader) {
		if bodyModel(req) != webModel {
			return
		}
		_, q, _ := strings.Cut(string(req.Body()), `{"role":"user","content":"Question `)
		q, _, _ = strings.Cut(q, ":")
		if q == "" {
			q = "same"
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[q] {
			h.Set(headerWeb, "cached")
			return
		}
		seen[q] = true
		code, _, err := search.Get(nil, f.URL()+"/search?format=json&q="+q)
		if err != nil || code != 200 {
			h.Set(headerWeb, "failed")
			return
		}
		h.Set(headerWeb, "ok")
	})
	wt, fresh := webTargets(targets)
	var names []string
	for _, tg := range wt {
		names = append(names, tg.name)
	}
	if got := strings.Join(names, ","); got != "direct,floor,switchboard plain,switchboard :web same query,switchboard :web new query" {
		t.Fatalf("web targets %s", got)
	}
	// Each new-query call asks a question of its own.
	nf := findTarget(wt, targetWebFresh)
	a, b := string(nf.next(false)), string(nf.next(true))
	if a == b || !strings.Contains(a, `"Question 1: Show me`) || !strings.Contains(b, `"Question 2: Show me`) || !strings.Contains(b, `"stream":true`) || fresh.Load() != 2 {
		t.Fatalf("new-query bodies\n%s\n%s", a, b)
	}
	if err := primeWeb(findTarget(wt, targetWebCached), o.timeout); err != nil {
		t.Fatal(err)
	}
	o.webDur = 250 * time.Millisecond
	s := runWeb(context.Background(), wt, f, fresh, o)
	checkRows(t, s, 5)
	w := s.Web
	if s.Feature != featureWeb || len(s.Deltas) != 2 || w == nil || w.FreshCalls == 0 || w.Searches != w.FreshCalls || w.BadQueries != 0 {
		t.Fatalf("web scenario: deltas %+v, figures %+v", s.Deltas, w)
	}
}

func TestWebReport(t *testing.T) {
	r := &Report{Scenarios: []Scenario{{Name: webName + ", c=1 latency", Kind: kindLatency, Feature: featureWeb, Method: "w",
		Web: &WebFigures{Engine: "searxng (fake)", Results: 5, DelayMS: 2, Searches: 40, FreshCalls: 40}}}}
	var b bytes.Buffer
	if err := r.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if want := "The fake engine (searxng (fake), 5 results, 2.0 ms delay) answered 40 searches while switchboard :web new query made 40 calls"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
}
