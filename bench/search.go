package main

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// fakeSearch is a SearXNG instance on 127.0.0.1, in the bench process:
// GET /search?q=...&format=json answers searchAnswer, five results the
// shape SearXNG's JSON API gives them, after delay. It is the :web
// scenario's search engine, so that the scenario measures what the
// gateway's search step costs, not what a real engine's crawl does.
type fakeSearch struct {
	ln       net.Listener
	srv      *fasthttp.Server
	delay    time.Duration
	searches atomic.Int64 // answered searches
	bad      atomic.Int64 // requests that were not a JSON search
}

// startFakeSearch serves the fake SearXNG on a free port of 127.0.0.1.
func startFakeSearch(delay time.Duration) (*fakeSearch, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot start the fake search engine: %w", err)
	}
	f := &fakeSearch{ln: ln, delay: delay}
	f.srv = &fasthttp.Server{Handler: f.handle, Name: "searxng-fake"}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// URL returns the engine's base URL, "http://127.0.0.1:PORT".
func (f *fakeSearch) URL() string { return "http://" + f.ln.Addr().String() }

// Close stops the engine.
func (f *fakeSearch) Close() error { return f.srv.Shutdown() }

func (f *fakeSearch) handle(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	if string(ctx.Path()) != "/search" || !ctx.IsGet() || string(args.Peek("format")) != "json" || len(args.Peek("q")) == 0 {
		f.bad.Add(1)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString("<html>bad search request</html>")
		return
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.searches.Add(1)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(searchAnswer)
}

// searchResults is how many results searchAnswer holds: web_search's
// default max_results.
const searchResults = 5

// searchAnswer is a SearXNG JSON answer as an instance gives it: five
// results with HTML-marked snippets of a few hundred characters from
// several engines, and the fields the gateway does not read.
const searchAnswer = `{"query":"go duration parse error","number_of_results":182000,"results":[` +
	`{"url":"https://pkg.go.dev/time#ParseDuration","title":"time package - time - Go Packages","content":"ParseDuration parses a duration string. A duration string is a possibly signed sequence of decimal numbers, each with optional fraction and a unit suffix, such as <b>\"300ms\"</b>, \"-1.5h\" or \"2h45m\". Valid time units are \"ns\", \"us\" (or \"µs\"), \"ms\", \"s\", \"m\", \"h\".","engine":"duckduckgo","engines":["duckduckgo","bing"],"positions":[1,2],"score":4.5,"category":"general","publishedDate":null},` +
	`{"url":"https://go.dev/blog/error-handling-and-go","title":"Error handling and Go - The Go Programming Language","content":"Go code uses error values to indicate an abnormal state. The <b>error</b> type is an interface type; an error variable represents any value that can describe itself as a string. Returning the error with context, such as the name of the field that failed to parse, lets the caller decide what to do.","engine":"bing","engines":["bing","brave"],"positions":[2,1],"score":3.2,"category":"general","publishedDate":"2011-07-12T00:00:00"},` +
	`{"url":"https://stackoverflow.com/questions/41503758/conversion-of-time-duration-type-microseconds-value-to-milliseconds","title":"go - Conversion of time.Duration type microseconds value to milliseconds - Stack Overflow","content":"I am using go-ping to ping the servers and need the round trip time in milliseconds. time.Duration is an int64 count of nanoseconds; divide by time.Millisecond or call Milliseconds(), and parse configuration values with time.ParseDuration rather than strconv.","engine":"brave","engines":["brave"],"positions":[3],"score":1.1,"category":"general","publishedDate":null},` +
	`{"url":"https://dave.cheney.net/2016/04/27/dont-just-check-errors-handle-them-gracefully","title":"Don't just check errors, handle them gracefully | Dave Cheney","content":"This post is an extract from my presentation at the GoCon spring conference. Errors are just values: <b>wrap</b> them with the context of what failed, and handle each error only once. Logging an error and returning it is handling it twice.","engine":"duckduckgo","engines":["duckduckgo"],"positions":[4],"score":0.9,"category":"general","publishedDate":"2016-04-27T00:00:00"},` +
	`{"url":"https://github.com/golang/go/issues/67002","title":"time: ParseDuration should report the offending unit · Issue #67002 · golang/go","content":"The error returned by ParseDuration for an input such as \"30 seconds\" reads time: unknown unit \" seconds\" in duration \"30 seconds\"; config loaders should wrap it with the key that held the value so users can find the typo.","engine":"bing","engines":["bing"],"positions":[5],"score":0.6,"category":"it","publishedDate":"2024-04-22T09:14:03"}],` +
	`"answers":[],"corrections":[],"infoboxes":[],"suggestions":["go parse duration from config","golang time.ParseDuration example"],"unresponsive_engines":[["google","timeout"]]}`
