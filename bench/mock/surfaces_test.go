package mock_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fasthttp"
)

// surface describes how to ask one API surface of the mock for an answer.
type surface struct {
	name    string
	path    func(model string, stream bool) string
	body    func(model string, stream bool) string
	headers []string
	// delta reports whether a streamed event carries a content piece.
	delta func(e namedEvent) bool
	// failed reports whether a streamed event is an in-band error.
	failed func(e namedEvent) bool
	// errorStatus returns the status of an error answer, checking its shape.
	errorStatus func(t *testing.T, r reply) int
}

func openAIErrorStatus(t *testing.T, r reply) int {
	t.Helper()
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	strict(t, r.body, &e)
	if e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error: %s", r.body)
	}
	return r.status
}

var surfacesUnderTest = []surface{
	{
		name: "chat",
		path: func(string, bool) string { return "/v1/chat/completions" },
		body: func(model string, stream bool) string {
			if stream {
				return streamBody(model, false)
			}
			return `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
		},
		delta:       func(e namedEvent) bool { return strings.Contains(e.data, `"content":"chunk `) },
		failed:      func(e namedEvent) bool { return strings.HasPrefix(e.data, `{"error":{`) },
		errorStatus: openAIErrorStatus,
	},
	{
		name: "completions",
		path: func(string, bool) string { return "/v1/completions" },
		body: func(model string, stream bool) string {
			if stream {
				return `{"model":"` + model + `","prompt":"hi","stream":true}`
			}
			return `{"model":"` + model + `","prompt":"hi"}`
		},
		delta:       func(e namedEvent) bool { return strings.Contains(e.data, `"text":"chunk `) },
		failed:      func(e namedEvent) bool { return strings.HasPrefix(e.data, `{"error":{`) },
		errorStatus: openAIErrorStatus,
	},
	{
		name:    "messages",
		path:    func(string, bool) string { return "/v1/messages" },
		body:    messagesBody,
		headers: anthropicAuth,
		delta:   func(e namedEvent) bool { return e.name == "content_block_delta" },
		failed:  func(e namedEvent) bool { return e.name == "error" },
		errorStatus: func(t *testing.T, r reply) int {
			t.Helper()
			var e anthErrorBody
			strict(t, r.body, &e)
			if e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
				t.Fatalf("not an Anthropic error: %s", r.body)
			}
			return r.status
		},
	},
	{
		name:        "responses",
		path:        func(string, bool) string { return "/v1/responses" },
		body:        func(model string, stream bool) string { return responsesBody(model, stream, "") },
		delta:       func(e namedEvent) bool { return e.name == "response.output_text.delta" },
		failed:      func(e namedEvent) bool { return e.name == "response.failed" },
		errorStatus: openAIErrorStatus,
	},
	{
		name: "gemini",
		path: func(model string, stream bool) string {
			if stream {
				return geminiPath(model, "streamGenerateContent") + "?alt=sse"
			}
			return geminiPath(model, "generateContent")
		},
		body:    func(string, bool) string { return geminiBody },
		headers: geminiAuth,
		delta:   func(e namedEvent) bool { return strings.Contains(e.data, `{"text":"chunk `) },
		failed:  func(e namedEvent) bool { return strings.HasPrefix(e.data, `{"error":{`) },
		errorStatus: func(t *testing.T, r reply) int {
			t.Helper()
			var e gemErrorBody
			strict(t, r.body, &e)
			if e.Error.Code != r.status || e.Error.Status == "" || e.Error.Message == "" {
				t.Fatalf("not a Google error: %s", r.body)
			}
			return r.status
		},
	},
}

// ask sends a non-streamed request with directives in the model and
// header x-mock.
func (sf surface) ask(t *testing.T, s *mock.Server, directives, header string) reply {
	t.Helper()
	model := "mock-model" + directives
	return do(t, s, fasthttp.MethodPost, sf.path(model, false), sf.body(model, false), with(sf.headers, "x-mock", header)...)
}

// stream sends a streamed request with directives in the model and header
// x-mock.
func (sf surface) stream(t *testing.T, s *mock.Server, directives, header string) namedStream {
	t.Helper()
	model := "mock-model" + directives
	return doNamed(t, s, sf.path(model, true), sf.body(model, true), with(sf.headers, "x-mock", header)...)
}

// deltas returns the content events of st.
func (sf surface) deltas(st namedStream) []namedEvent {
	var out []namedEvent
	for _, e := range st.events {
		if sf.delta(e) {
			out = append(out, e)
		}
	}
	return out
}

func TestDirectivesOnEverySurface(t *testing.T) {
	for _, sf := range surfacesUnderTest {
		t.Run(sf.name, func(t *testing.T) {
			t.Parallel()
			s := startMock(t, mock.Options{})

			// status= and retry_after=, streamed or not, before any byte.
			if r := sf.ask(t, s, "", "status=503,retry_after=2"); sf.errorStatus(t, r) != 503 || r.headers["retry-after"] != "2" {
				t.Fatalf("x-mock status=503,retry_after=2: status %d retry-after %q", r.status, r.headers["retry-after"])
			}
			// The model's list applies after the header's.
			if r := sf.ask(t, s, "+status=429", "status=503"); sf.errorStatus(t, r) != 429 || r.headers["retry-after"] != "" {
				t.Fatalf("status=429: %d", r.status)
			}
			if st := sf.stream(t, s, "+status=500", ""); st.status != 500 || len(st.events) != 0 {
				t.Fatalf("streamed status=500: %d, %d events", st.status, len(st.events))
			}
			if r := sf.ask(t, s, "+fail=1", ""); sf.errorStatus(t, r) != 500 {
				t.Fatalf("fail=1: status %d", r.status)
			}

			// delay= before the headers.
			start := time.Now()
			if r := sf.ask(t, s, "+delay=40ms", ""); r.status != 200 || time.Since(start) < 40*time.Millisecond {
				t.Fatalf("delay=40ms: status %d after %s", r.status, time.Since(start))
			}

			// ttft=: headers at once, the first event after it.
			st := sf.stream(t, s, "", "ttft=60ms")
			if st.status != 200 || st.err != nil || len(st.events) == 0 {
				t.Fatalf("ttft: status %d err %v", st.status, st.err)
			}
			if d := st.events[0].at.Sub(st.start); d < 60*time.Millisecond || !st.headed.Before(st.events[0].at) {
				t.Fatalf("ttft=60ms: first event after %s, headers at %s", d, st.headed.Sub(st.start))
			}

			// chunks= and gap=: that many deltas, gap apart.
			st = sf.stream(t, s, "+chunks=3", "gap=25ms")
			deltas := sf.deltas(st)
			if len(deltas) != 3 {
				t.Fatalf("chunks=3: %d deltas in %q", len(deltas), st.raw)
			}
			// Delta k is due k gaps after the first event, which follows
			// the request: the third cannot arrive before two gaps have
			// passed since the request was sent, however loaded the
			// machine (the gap between two arrivals can shrink when the
			// reader falls behind, so it is not what is checked).
			if d := deltas[2].at.Sub(st.start); d < 2*25*time.Millisecond {
				t.Fatalf("gap=25ms: the third delta came %s after the request", d)
			}

			// reset=N: N events, then a reset connection.
			st = sf.stream(t, s, "+reset=2", "")
			if st.err == nil || errors.Is(st.err, io.EOF) || len(st.events) != 2 {
				t.Fatalf("reset=2: %d events, err %v", len(st.events), st.err)
			}
			req, resp := newRequest(s, fasthttp.MethodPost, sf.path("mock-model+reset=0", false), sf.body("mock-model+reset=0", false), sf.headers...)
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			if err := (&fasthttp.HostClient{Addr: s.Addr(), MaxIdemponentCallAttempts: 1}).DoTimeout(req, resp, 5*time.Second); err == nil {
				t.Fatalf("reset=0: got status %d, want a reset connection", resp.StatusCode())
			}

			// streamerror=N: N deltas, then the surface's in-band error, and
			// a clean end.
			st = sf.stream(t, s, "+streamerror=2", "")
			if st.err != nil || len(sf.deltas(st)) != 2 || !sf.failed(st.events[len(st.events)-1]) {
				t.Fatalf("streamerror=2: err %v\n%s", st.err, st.raw)
			}
			for _, e := range st.events[:len(st.events)-1] {
				if sf.failed(e) {
					t.Fatalf("streamerror=2: an error before the last event:\n%s", st.raw)
				}
			}

			// gzip: a compressed non-streamed body.
			r := sf.ask(t, s, "", "gzip")
			if r.status != 200 || r.headers["content-encoding"] != "gzip" {
				t.Fatalf("gzip: status %d content-encoding %q", r.status, r.headers["content-encoding"])
			}
			zr, err := gzip.NewReader(bytes.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil || !json.Valid(plain) {
				t.Fatalf("gzip: %v %q", err, plain)
			}

			// Unknown directives are refused in the surface's shape.
			if r := sf.ask(t, s, "+nope=1", ""); sf.errorStatus(t, r) != 400 {
				t.Fatalf("nope=1: status %d", r.status)
			}
			waitOpenConns(t, s, 0)
		})
	}
}

func TestRecordsSurfaceOfEachRequest(t *testing.T) {
	s := startMock(t, mock.Options{})
	for _, sf := range surfacesUnderTest {
		sf.ask(t, s, "", "")
	}
	do(t, s, fasthttp.MethodPost, "/v1/nope?x=1", "{}")
	last := s.LastRequest()
	if last.Surface != mock.SurfaceNone || last.Path != "/v1/nope" || last.Query != "x=1" {
		t.Fatalf("LastRequest after an unknown path: %+v", last)
	}
	for surface, path := range map[mock.Surface]string{
		mock.SurfaceChat:            "/v1/chat/completions",
		mock.SurfaceCompletions:     "/v1/completions",
		mock.SurfaceMessages:        "/v1/messages",
		mock.SurfaceResponses:       "/v1/responses",
		mock.SurfaceGenerateContent: "/v1beta/models/mock-model:generateContent",
	} {
		if got := s.LastRequestTo(surface); got.Surface != surface || got.Path != path || got.Method != "POST" || len(got.Body) == 0 {
			t.Errorf("LastRequestTo(%q) = %+v", surface, got)
		}
	}
	if got := s.LastRequestTo(mock.SurfaceEmbeddings); got.Method != "" || got.Headers != nil {
		t.Fatalf("LastRequestTo a surface never hit = %+v, want zero", got)
	}
	if got := s.LastRequestTo("bogus"); got.Method != "" {
		t.Fatalf("LastRequestTo an unknown surface = %+v, want zero", got)
	}
}
