package proxy

import (
	"strings"
	"testing"

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
		return "/v1beta/models/" + model + ":" + method, `{"contents":[{"role":"user","parts":[{"text":"Hello"}]}],"generationConfig":` + withExtra("{", strings.TrimPrefix(extra, ",")) + "}"
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
		return "/v1/messages", withExtra(`{"model":"`+model+`","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]`, extra)
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
