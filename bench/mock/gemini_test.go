package mock_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// The Gemini shapes, every field the mock sends; strict decoding refuses
// any other.
type (
	gemResponse struct {
		Candidates    []gemCandidate `json:"candidates"`
		UsageMetadata gemUsage       `json:"usageMetadata"`
		ModelVersion  string         `json:"modelVersion"`
		ResponseID    string         `json:"responseId"`
	}
	gemCandidate struct {
		Content struct {
			Parts []gemPart `json:"parts"`
			Role  string    `json:"role"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
		Index        *int   `json:"index"`
	}
	gemPart struct {
		Text         *string `json:"text"`
		Thought      bool    `json:"thought"`
		FunctionCall *struct {
			Name string          `json:"name"`
			Args json.RawMessage `json:"args"`
		} `json:"functionCall"`
	}
	gemUsage struct {
		PromptTokenCount        int  `json:"promptTokenCount"`
		CandidatesTokenCount    int  `json:"candidatesTokenCount"`
		TotalTokenCount         int  `json:"totalTokenCount"`
		CachedContentTokenCount *int `json:"cachedContentTokenCount"`
		ThoughtsTokenCount      *int `json:"thoughtsTokenCount"`
	}
	gemErrorBody struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
)

const geminiBody = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`

const geminiThoughtsBody = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true}}}`

// geminiPath returns the path of method on model.
func geminiPath(model, method string) string { return "/v1beta/models/" + model + ":" + method }

// wantCandidate checks the single candidate of g and returns its parts.
func wantCandidate(t *testing.T, g gemResponse, finish bool) []gemPart {
	t.Helper()
	if len(g.Candidates) != 1 {
		t.Fatalf("%d candidates: %+v", len(g.Candidates), g)
	}
	c := g.Candidates[0]
	if c.Content.Role != "model" || c.Index == nil || *c.Index != 0 || (c.FinishReason == "STOP") != finish || !finish && c.FinishReason != "" {
		t.Fatalf("candidate %+v, want finished: %v", c, finish)
	}
	if !strings.HasPrefix(g.ResponseID, "mock-") || g.ModelVersion == "" {
		t.Fatalf("modelVersion %q responseId %q", g.ModelVersion, g.ResponseID)
	}
	return c.Content.Parts
}

func wantGemUsage(t *testing.T, u gemUsage, prompt, cached, candidates, thoughts int) {
	t.Helper()
	if u.PromptTokenCount != prompt || u.CandidatesTokenCount != candidates || u.TotalTokenCount != prompt+candidates+thoughts ||
		(cached == 0) != (u.CachedContentTokenCount == nil) || cached > 0 && *u.CachedContentTokenCount != cached ||
		(thoughts == 0) != (u.ThoughtsTokenCount == nil) || thoughts > 0 && *u.ThoughtsTokenCount != thoughts {
		t.Fatalf("usageMetadata %+v, want prompt %d cached %d candidates %d thoughts %d", u, prompt, cached, candidates, thoughts)
	}
}

// wantText checks that parts are one text part.
func wantText(t *testing.T, parts []gemPart, text string) {
	t.Helper()
	if len(parts) != 1 || parts[0].Text == nil || *parts[0].Text != text || parts[0].Thought || parts[0].FunctionCall != nil {
		t.Fatalf("parts %+v, want text %q", parts, text)
	}
}

func decodeGemini(t *testing.T, r reply) gemResponse {
	t.Helper()
	if r.status != fasthttp.StatusOK || r.headers["content-type"] != "application/json" {
		t.Fatalf("status %d content-type %q: %s", r.status, r.headers["content-type"], r.body)
	}
	var g gemResponse
	strict(t, r.body, &g)
	return g
}

func TestGeminiGenerateContent(t *testing.T) {
	s := startMock(t, mock.Options{})
	f := func(path string, headers ...string) {
		t.Helper()
		g := decodeGemini(t, do(t, s, fasthttp.MethodPost, path, geminiBody, headers...))
		wantText(t, wantCandidate(t, g, true), repeat(8, chunkText))
		wantGemUsage(t, g.UsageMetadata, len(geminiBody)/4, 0, 16, 0)
		if g.ModelVersion != "gemini-mock" {
			t.Fatalf("%s: modelVersion %q", path, g.ModelVersion)
		}
		rec := s.LastRequestTo(mock.SurfaceGenerateContent)
		if rec.Surface != mock.SurfaceGenerateContent || rec.Path != strings.Split(path, "?")[0] || string(rec.Body) != geminiBody {
			t.Fatalf("%s: recorded %+v", path, rec)
		}
	}
	f(geminiPath("gemini-mock", "generateContent"), geminiAuth...)
	f("/v1/models/gemini-mock:generateContent", geminiAuth...)
	f(geminiPath("gemini-mock", "generateContent")+"?key=g-query", "Authorization", "")
	if q := s.LastRequest().Query; q != "key=g-query" {
		t.Fatalf("recorded query %q", q)
	}
}

// geminiSSE reads a streamGenerateContent?alt=sse answer: it checks the
// framing (every event is "data: <json>\r\n\r\n") and decodes each chunk.
func geminiSSE(t *testing.T, s *mock.Server, model, body string, headers ...string) (namedStream, []gemResponse) {
	t.Helper()
	st := doNamed(t, s, geminiPath(model, "streamGenerateContent")+"?alt=sse", body, with(geminiAuth, headers...)...)
	if st.status != fasthttp.StatusOK || st.headers["content-type"] != "text/event-stream" || st.err != nil {
		t.Fatalf("status %d content-type %q err %v: %s", st.status, st.headers["content-type"], st.err, st.raw)
	}
	frames := bytes.Split(bytes.TrimSuffix(st.raw, []byte("\r\n\r\n")), []byte("\r\n\r\n"))
	if len(frames) != len(st.events) {
		t.Fatalf("%d CRLF frames, %d events:\n%q", len(frames), len(st.events), st.raw)
	}
	var out []gemResponse
	for i, e := range st.events {
		if e.name != "" || string(frames[i]) != "data: "+e.data {
			t.Fatalf("frame %d %q, event %+v", i, frames[i], e)
		}
		if strings.HasPrefix(e.data, `{"error"`) {
			continue
		}
		var g gemResponse
		strict(t, []byte(e.data), &g)
		out = append(out, g)
	}
	return st, out
}

func TestGeminiStreamSSE(t *testing.T) {
	s := startMock(t, mock.Options{Chunks: 3})
	_, chunks := geminiSSE(t, s, "gemini-mock", geminiBody)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks, want 3", len(chunks))
	}
	for i, g := range chunks {
		wantText(t, wantCandidate(t, g, i == 2), chunkText(i))
		// Every chunk carries the usage so far.
		wantGemUsage(t, g.UsageMetadata, len(geminiBody)/4, 0, (i+1)*2, 0)
		if g.ResponseID != chunks[0].ResponseID || g.ModelVersion != "gemini-mock" {
			t.Fatalf("chunk %d: responseId %q modelVersion %q", i, g.ResponseID, g.ModelVersion)
		}
	}

	// chunks=0: one empty finished chunk.
	_, chunks = geminiSSE(t, s, "gemini-mock+chunks=0", geminiBody)
	if len(chunks) != 1 {
		t.Fatalf("chunks=0: %d chunks", len(chunks))
	}
	wantText(t, wantCandidate(t, chunks[0], true), "")
}

func TestGeminiStreamJSONArray(t *testing.T) {
	s := startMock(t, mock.Options{Chunks: 2})
	r := do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock", "streamGenerateContent"), geminiBody, geminiAuth...)
	if r.status != 200 || r.headers["content-type"] != "application/json" {
		t.Fatalf("status %d content-type %q", r.status, r.headers["content-type"])
	}
	var chunks []gemResponse
	strict(t, r.body, &chunks)
	if len(chunks) != 2 {
		t.Fatalf("%d chunks: %s", len(chunks), r.body)
	}
	for i, g := range chunks {
		wantText(t, wantCandidate(t, g, i == 1), chunkText(i))
	}
}

func TestGeminiFunctionCall(t *testing.T) {
	s := startMock(t, mock.Options{})
	wantCall := func(parts []gemPart) {
		t.Helper()
		if len(parts) != 1 || parts[0].FunctionCall == nil || parts[0].FunctionCall.Name != "get_weather" ||
			string(parts[0].FunctionCall.Args) != toolArgs || parts[0].Text != nil {
			t.Fatalf("parts %+v, want one get_weather functionCall", parts)
		}
	}
	g := decodeGemini(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock+tools=3", "generateContent"), geminiBody, geminiAuth...))
	wantCall(wantCandidate(t, g, true))
	wantGemUsage(t, g.UsageMetadata, len(geminiBody)/4, 0, len(toolArgs)/4, 0)

	// Gemini sends a call whole: one chunk whatever N.
	_, chunks := geminiSSE(t, s, "gemini-mock", geminiBody, "x-mock", "tools=3")
	if len(chunks) != 1 {
		t.Fatalf("%d chunks, want 1", len(chunks))
	}
	wantCall(wantCandidate(t, chunks[0], true))
}

func TestGeminiThinking(t *testing.T) {
	s := startMock(t, mock.Options{Chunks: 2})
	// Thoughts come back only when the request includes them; they are
	// counted either way.
	g := decodeGemini(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock+thinking=3", "generateContent"), geminiBody, geminiAuth...))
	wantText(t, wantCandidate(t, g, true), repeat(2, chunkText))
	wantGemUsage(t, g.UsageMetadata, len(geminiBody)/4, 0, 4, 6)

	g = decodeGemini(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock+thinking=3", "generateContent"), geminiThoughtsBody, geminiAuth...))
	parts := wantCandidate(t, g, true)
	if len(parts) != 2 || !parts[0].Thought || *parts[0].Text != repeat(3, thoughtText) || parts[1].Thought || *parts[1].Text != repeat(2, chunkText) {
		t.Fatalf("parts %+v", parts)
	}
	wantGemUsage(t, g.UsageMetadata, len(geminiThoughtsBody)/4, 0, 4, 6)

	_, chunks := geminiSSE(t, s, "gemini-mock+thinking=2", geminiThoughtsBody)
	if len(chunks) != 4 {
		t.Fatalf("%d chunks, want 2 thoughts and 2 texts", len(chunks))
	}
	for i, g := range chunks {
		parts := wantCandidate(t, g, i == 3)
		if len(parts) != 1 || parts[0].Thought != (i < 2) {
			t.Fatalf("chunk %d parts %+v", i, parts)
		}
	}
	wantGemUsage(t, chunks[0].UsageMetadata, len(geminiThoughtsBody)/4, 0, 0, 2)
	wantGemUsage(t, chunks[3].UsageMetadata, len(geminiThoughtsBody)/4, 0, 4, 4)
	_, chunks = geminiSSE(t, s, "gemini-mock+thinking=2", geminiBody)
	if len(chunks) != 2 {
		t.Fatalf("without includeThoughts: %d chunks, want 2", len(chunks))
	}
}

func TestGeminiCachedUsage(t *testing.T) {
	s := startMock(t, mock.Options{})
	g := decodeGemini(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock+cached=3", "generateContent"), geminiBody, geminiAuth...))
	// promptTokenCount includes the cached tokens.
	wantGemUsage(t, g.UsageMetadata, len(geminiBody)/4, 3, 16, 0)
	_, chunks := geminiSSE(t, s, "gemini-mock", geminiBody, "x-mock", "cached=100000")
	wantGemUsage(t, chunks[len(chunks)-1].UsageMetadata, len(geminiBody)/4, len(geminiBody)/4, 16, 0)
}

// wantGeminiError checks that r is a Google error with status and name.
func wantGeminiError(t *testing.T, r reply, status int, name string) gemErrorBody {
	t.Helper()
	var e gemErrorBody
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	strict(t, r.body, &e)
	if e.Error.Code != status || e.Error.Status != name || e.Error.Message == "" || r.headers["content-type"] != "application/json" {
		t.Fatalf("status %d: %s, want %s", status, r.body, name)
	}
	return e
}

func TestGeminiAuth(t *testing.T) {
	s := startMock(t, mock.Options{})
	for _, method := range []string{"generateContent", "streamGenerateContent", "countTokens"} {
		path := geminiPath("gemini-mock", method)
		e := wantGeminiError(t, do(t, s, fasthttp.MethodPost, path, geminiBody, "Authorization", ""), 403, "PERMISSION_DENIED")
		if !strings.Contains(e.Error.Message, "API Key") {
			t.Fatalf("%s: message %q", method, e.Error.Message)
		}
		wantGeminiError(t, do(t, s, fasthttp.MethodPost, path, geminiBody, "Authorization", "", "x-goog-api-key", ""), 403, "PERMISSION_DENIED")
		wantGeminiError(t, do(t, s, fasthttp.MethodPost, path+"?key=", geminiBody, "Authorization", ""), 403, "PERMISSION_DENIED")
		// A Bearer token is not an API key.
		wantGeminiError(t, do(t, s, fasthttp.MethodPost, path, geminiBody), 401, "UNAUTHENTICATED")
	}
}

func TestGeminiErrors(t *testing.T) {
	s := startMock(t, mock.Options{})
	for status, name := range map[int]string{
		400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED",
		429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
		422: "INVALID_ARGUMENT", 502: "INTERNAL",
	} {
		wantGeminiError(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock+status="+itoa(status), "generateContent"), geminiBody, geminiAuth...), status, name)
	}
	r := do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock", "streamGenerateContent")+"?alt=sse", geminiBody, with(geminiAuth, "x-mock", "status=429,retry_after=5")...)
	wantGeminiError(t, r, 429, "RESOURCE_EXHAUSTED")
	if r.headers["retry-after"] != "5" {
		t.Fatalf("retry-after %q", r.headers["retry-after"])
	}
	wantGeminiError(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock", "generateContent"), `{"contents":`, geminiAuth...), 400, "INVALID_ARGUMENT")
	wantGeminiError(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock+bogus", "generateContent"), geminiBody, geminiAuth...), 400, "INVALID_ARGUMENT")
	wantGeminiError(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock", "embedContent"), geminiBody, geminiAuth...), 404, "NOT_FOUND")
	wantGeminiError(t, do(t, s, fasthttp.MethodPost, "/v1beta/models/gemini-mock", geminiBody, geminiAuth...), 404, "NOT_FOUND")
	wantGeminiError(t, do(t, s, fasthttp.MethodPost, geminiPath("", "generateContent"), geminiBody, geminiAuth...), 404, "NOT_FOUND")
	wantGeminiError(t, do(t, s, fasthttp.MethodPost, geminiPath("+chunks=1", "generateContent"), geminiBody, geminiAuth...), 404, "NOT_FOUND")
	wantGeminiError(t, do(t, s, fasthttp.MethodGet, geminiPath("gemini-mock", "generateContent"), "", geminiAuth...), 405, "INVALID_ARGUMENT")
}

func TestGeminiDirectivesInPath(t *testing.T) {
	s := startMock(t, mock.Options{})
	for _, model := range []string{"gemini-mock+chunks=2", "gemini-mock%2Bchunks=2", "gemini-mock%2bchunks%3D2"} {
		g := decodeGemini(t, do(t, s, fasthttp.MethodPost, geminiPath(model, "generateContent"), geminiBody, geminiAuth...))
		wantText(t, wantCandidate(t, g, true), repeat(2, chunkText))
		if g.ModelVersion != "gemini-mock+chunks=2" {
			t.Fatalf("%s: modelVersion %q", model, g.ModelVersion)
		}
	}
	// Both lists apply.
	g := decodeGemini(t, do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock+chunks=1", "generateContent"), geminiBody, with(geminiAuth, "x-mock", "tools=1")...))
	if parts := wantCandidate(t, g, true); parts[0].FunctionCall == nil {
		t.Fatalf("x-mock tools=1 ignored: %+v", parts)
	}
}

func TestGeminiStreamError(t *testing.T) {
	s := startMock(t, mock.Options{})
	f := func(model string, chunks int, query string) {
		t.Helper()
		path := geminiPath(model, "streamGenerateContent") + query
		var last string
		if query == "" {
			r := do(t, s, fasthttp.MethodPost, path, geminiBody, geminiAuth...)
			var items []json.RawMessage
			strict(t, r.body, &items)
			if len(items) != chunks+1 {
				t.Fatalf("%s: %d items, want %d and the error: %s", path, len(items), chunks, r.body)
			}
			last = string(items[chunks])
		} else {
			st, got := geminiSSE(t, s, model, geminiBody)
			if len(got) != chunks || len(st.events) != chunks+1 {
				t.Fatalf("%s: %d chunks of %d events, want %d and the error", path, len(got), len(st.events), chunks)
			}
			last = st.events[chunks].data
		}
		var e gemErrorBody
		strict(t, []byte(last), &e)
		if e.Error.Code != 503 || e.Error.Status != "UNAVAILABLE" || e.Error.Message == "" {
			t.Fatalf("%s: error %s", path, last)
		}
	}
	f("gemini-mock+streamerror=2", 2, "?alt=sse")
	f("gemini-mock+streamerror=0", 0, "?alt=sse")
	f("gemini-mock+streamerror=20", 8, "?alt=sse")
	f("gemini-mock+streamerror=1", 1, "")
	f("gemini-mock+streamerror=0", 0, "")
}

func TestGeminiCountTokens(t *testing.T) {
	s := startMock(t, mock.Options{})
	r := do(t, s, fasthttp.MethodPost, geminiPath("gemini-mock", "countTokens"), geminiBody, geminiAuth...)
	var got struct {
		TotalTokens         int `json:"totalTokens"`
		PromptTokensDetails []struct {
			Modality   string `json:"modality"`
			TokenCount int    `json:"tokenCount"`
		} `json:"promptTokensDetails"`
	}
	strict(t, r.body, &got)
	n := len(geminiBody) / 4
	if r.status != 200 || got.TotalTokens != n || len(got.PromptTokensDetails) != 1 || got.PromptTokensDetails[0].Modality != "TEXT" ||
		got.PromptTokensDetails[0].TokenCount != n {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if rec := s.LastRequest(); rec.Surface != mock.SurfaceGeminiCountTokens {
		t.Fatalf("recorded surface %q", rec.Surface)
	}
}
