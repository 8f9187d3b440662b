package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/upstream"
)

// validationSurface is one of the ten API surfaces, as the validation
// tests call it: request builds the path and a valid body for model,
// with extra top-level members (for Gemini, generationConfig members)
// added.
type validationSurface struct {
	name    string
	format  upstream.Format
	headers []string
	request func(model, extra string) (path, body string)
}

func withExtra(body, extra string) string {
	if extra == "" {
		return body + "}"
	}
	return body + "," + extra + "}"
}

func geminiRequest(method string) func(model, extra string) (string, string) {
	return func(model, extra string) (string, string) {
		return "/v1beta/models/" + model + ":" + method, `{"contents":[{"role":"user","parts":[{"text":"Hello"}]}],"generationConfig":{` + extra + "}}"
	}
}

var validationSurfaces = []validationSurface{
	{"chat", upstream.FormatOpenAI, nil, func(model, extra string) (string, string) {
		return "/v1/chat/completions", withExtra(`{"model":"`+model+`","messages":[{"role":"user","content":"Hello"}]`, extra)
	}},
	{"completions", upstream.FormatOpenAI, nil, func(model, extra string) (string, string) {
		return "/v1/completions", withExtra(`{"model":"`+model+`","prompt":"Hello"`, extra)
	}},
	{"embeddings", upstream.FormatOpenAI, nil, func(model, extra string) (string, string) {
		return "/v1/embeddings", withExtra(`{"model":"`+model+`","input":"Hello"`, extra)
	}},
	{"messages", upstream.FormatAnthropic, anthropicHeaders(testKey), func(model, extra string) (string, string) {
		return "/v1/messages", withExtra(`{"model":"`+model+`","messages":[{"role":"user","content":"Hello"}]`, extra)
	}},
	{"count_tokens", upstream.FormatAnthropic, anthropicHeaders(testKey), func(model, extra string) (string, string) {
		return "/v1/messages/count_tokens", withExtra(`{"model":"`+model+`","messages":[{"role":"user","content":"Hello"}]`, extra)
	}},
	{"responses", upstream.FormatResponses, nil, func(model, extra string) (string, string) {
		return "/v1/responses", withExtra(`{"model":"`+model+`","input":"Hello"`, extra)
	}},
	{"responses_compact", upstream.FormatResponses, nil, func(model, extra string) (string, string) {
		return "/v1/responses/compact", withExtra(`{"model":"`+model+`","input":"Hello"`, extra)
	}},
	{"generate_content", upstream.FormatGemini, geminiHeaders(testKey), geminiRequest("generateContent")},
	{"stream_generate_content", upstream.FormatGemini, geminiHeaders(testKey), geminiRequest("streamGenerateContent")},
	{"gemini_count_tokens", upstream.FormatGemini, geminiHeaders(testKey), geminiRequest("countTokens")},
}

// checkErrorShape fails t unless body is an error answer in format f's
// own shape.
func checkErrorShape(t *testing.T, f upstream.Format, status int, body string) {
	t.Helper()
	var want string
	switch f {
	case upstream.FormatAnthropic:
		want = `{"type":"error","error":{"type":`
	case upstream.FormatGemini:
		want = `"status":"INVALID_ARGUMENT"`
		if status == 404 {
			want = `"status":"NOT_FOUND"`
		}
	default:
		want = `{"error":{"message":`
	}
	if !strings.Contains(body, want) || f == upstream.FormatOpenAI && strings.Contains(body, `"status":"`) {
		t.Errorf("not in the %s error shape (want %s): %s", formatOf(f).name, want, body)
	}
}

// TestLongModelName: a model name over 256 bytes is a 400 on every
// surface, in its error shape, quoting only the name's start.
func TestLongModelName(t *testing.T) {
	g := startFourFormatGateway(t)
	long := "m" + strings.Repeat("x", 299)
	for _, sf := range validationSurfaces {
		path, body := sf.request(long, "")
		r := g.post(t, path, body, sf.headers...)
		if r.status != 400 {
			t.Errorf("%s: status %d: %s", sf.name, r.status, r.body)
			continue
		}
		checkErrorShape(t, sf.format, r.status, r.body)
		if strings.Contains(r.body, long[:modelQuoteBytes+1]) || !strings.Contains(r.body, long[:modelQuoteBytes]) || !strings.Contains(r.body, "300 bytes") {
			t.Errorf("%s: the error must quote only the first %d bytes: %s", sf.name, modelQuoteBytes, r.body)
		}
	}
	// 256 bytes is still a name the router looks up.
	path, body := validationSurfaces[0].request(strings.Repeat("x", maxModelBytes), "")
	if r := g.post(t, path, body); r.status != 404 {
		t.Errorf("a 256-byte name: status %d: %s", r.status, r.body)
	}
}

// TestUnknownPathShape: an unknown path answers 404 in the error shape
// of the API it is under.
func TestUnknownPathShape(t *testing.T) {
	g := startFourFormatGateway(t)
	for _, c := range []struct {
		method, path string
		format       upstream.Format
	}{
		{"POST", "/v1beta/models/gem-model:embedContent", upstream.FormatGemini},
		{"POST", "/v1beta/cachedContents", upstream.FormatGemini},
		{"GET", "/v1beta", upstream.FormatGemini},
		{"GET", "/v1beta/models/gem-model:batchGenerateContent", upstream.FormatGemini},
		{"POST", "/v1/messages/batches", upstream.FormatAnthropic},
		{"GET", "/v1/messages/batches/msgbatch_1/results", upstream.FormatAnthropic},
		{"POST", "/messages/batches", upstream.FormatAnthropic},
		{"POST", "/v1/nothing", upstream.FormatOpenAI},
		{"POST", "/v1/chat/completions/x", upstream.FormatOpenAI},
	} {
		r := g.do(t, c.method, c.path, "{}")
		if r.status != 404 {
			t.Errorf("%s %s: status %d: %s", c.method, c.path, r.status, r.body)
			continue
		}
		checkErrorShape(t, c.format, r.status, r.body)
	}
}

// TestBodyMediaType: a body declared as something other than JSON is a
// 415 (Google: 400), one that is not UTF-8 a 400, on every surface in
// its error shape; JSON types with parameters, +json types and no
// Content-Type at all are accepted (the unknown model's 404 shows the
// body got past the check).
func TestBodyMediaType(t *testing.T) {
	g := startFourFormatGateway(t)
	for _, sf := range validationSurfaces {
		notJSON := 415
		if sf.format == upstream.FormatGemini {
			notJSON = 400
		}
		for _, c := range []struct {
			contentType, extra string
			status             int
		}{
			{"text/plain", "", notJSON},
			{"application/x-www-form-urlencoded", "", notJSON},
			{"multipart/form-data; boundary=x", "", notJSON},
			{"application/jsonl", "", notJSON},
			{"application/json", "\"x\":\"caf\xe9\"", 400},
			{"", "\"x\":\"\xff\xfe\"", 400},
			{"application/json", "", 404},
			{"Application/JSON; charset=utf-8", "", 404},
			{"application/vnd.api+json", "", 404},
			{"", `"x":"café"`, 404},
		} {
			path, body := sf.request("nope", c.extra)
			r := postContentType(t, g, path, body, c.contentType, sf.headers)
			if r.status != c.status {
				t.Errorf("%s, Content-Type %q, extra %q: status %d, want %d: %s", sf.name, c.contentType, c.extra, r.status, c.status, r.body)
				continue
			}
			checkErrorShape(t, sf.format, r.status, r.body)
		}
	}
}

// postContentType posts body with the test key and headers, with
// Content-Type contentType, or none at all when it is "".
func postContentType(t *testing.T, g *gateway, path, body, contentType string, headers []string) result {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(g.URL + path)
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.SetNoDefaultContentType(contentType == "")
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, 30*time.Second); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return result{status: resp.StatusCode(), body: string(resp.Body())}
}

// TestNumberRanges: a numeric field out of its range is a 400 naming the
// field, on every surface, whether the target speaks the client's
// format or another; values at the ends of the ranges pass.
func TestNumberRanges(t *testing.T) {
	g := startFourFormatGateway(t)
	openAI := []string{`"max_tokens":0`, `"max_completion_tokens":-5`, `"temperature":2.5`, `"temperature":-0.1`, `"top_p":1.01`, `"n":0`, `"temperature":"hot"`}
	bad := map[upstream.Format][]string{
		upstream.FormatOpenAI:    openAI,
		upstream.FormatAnthropic: {`"max_tokens":0`, `"max_tokens":-1`, `"temperature":1.5`, `"top_p":-1`},
		upstream.FormatResponses: {`"max_output_tokens":0`, `"temperature":3`, `"top_p":2`},
		upstream.FormatGemini:    {`"maxOutputTokens":0`, `"temperature":2.01`, `"topP":-0.5`, `"candidateCount":0`},
	}
	good := map[upstream.Format]string{
		upstream.FormatOpenAI:    `"max_tokens":1,"temperature":2,"top_p":0,"n":1,"max_completion_tokens":null`,
		upstream.FormatAnthropic: `"temperature":1,"top_p":1`,
		upstream.FormatResponses: `"max_output_tokens":1,"temperature":0,"top_p":1`,
		upstream.FormatGemini:    `"maxOutputTokens":1,"temperature":2,"topP":1,"candidateCount":1`,
	}
	for _, sf := range validationSurfaces {
		for _, model := range []string{"nope", "mock/mock-model", "anth/claude-mock", "gem/gem-model"} {
			for _, extra := range bad[sf.format] {
				path, body := sf.request(model, extra)
				r := g.post(t, path, body, sf.headers...)
				field := extra[1 : strings.Index(extra[1:], `"`)+1]
				if r.status != 400 || !strings.Contains(r.body, field) {
					t.Errorf("%s to %s with %s: status %d, want a 400 naming %s: %s", sf.name, model, extra, r.status, field, r.body)
					continue
				}
				checkErrorShape(t, sf.format, r.status, r.body)
			}
		}
		path, body := sf.request("nope", good[sf.format])
		if r := g.post(t, path, body, sf.headers...); r.status != 404 {
			t.Errorf("%s with %s: status %d, want the unknown model's 404: %s", sf.name, good[sf.format], r.status, r.body)
		}
	}
}
