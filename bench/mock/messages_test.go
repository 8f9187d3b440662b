package mock_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// The Anthropic Messages shapes, every field the mock sends; strict
// decoding refuses any other.
type (
	anthMessage struct {
		ID           string      `json:"id"`
		Type         string      `json:"type"`
		Role         string      `json:"role"`
		Model        string      `json:"model"`
		Content      []anthBlock `json:"content"`
		StopReason   *string     `json:"stop_reason"`
		StopSequence *string     `json:"stop_sequence"`
		Usage        anthUsage   `json:"usage"`
	}
	anthBlock struct {
		Type      string          `json:"type"`
		Text      *string         `json:"text"`
		Thinking  *string         `json:"thinking"`
		Signature *string         `json:"signature"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	}
	anthUsage struct {
		InputTokens              *int `json:"input_tokens"`
		CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
		OutputTokens             int  `json:"output_tokens"`
	}
	anthEvent struct {
		Type         string       `json:"type"`
		Message      *anthMessage `json:"message"`
		Index        *int         `json:"index"`
		ContentBlock *anthBlock   `json:"content_block"`
		Delta        *struct {
			Type         string  `json:"type"`
			Text         string  `json:"text"`
			Thinking     string  `json:"thinking"`
			Signature    string  `json:"signature"`
			PartialJSON  *string `json:"partial_json"`
			StopReason   *string `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage *anthUsage `json:"usage"`
		Error *anthError `json:"error"`
	}
	anthError struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	anthErrorBody struct {
		Type      string    `json:"type"`
		Error     anthError `json:"error"`
		RequestID string    `json:"request_id"`
	}
)

func messagesBody(model string, stream bool) string {
	s := `{"model":"` + model + `","max_tokens":1024,"messages":[{"role":"user","content":"hi"}]`
	if stream {
		s += `,"stream":true`
	}
	return s + "}"
}

// wantUsage checks an Anthropic usage object.
func wantUsage(t *testing.T, u anthUsage, input, cacheRead, output int) {
	t.Helper()
	if u.InputTokens == nil || *u.InputTokens != input || u.CacheCreationInputTokens == nil || *u.CacheCreationInputTokens != 0 ||
		u.CacheReadInputTokens == nil || *u.CacheReadInputTokens != cacheRead || u.OutputTokens != output {
		t.Fatalf("usage %+v, want input %d cache read %d output %d", u, input, cacheRead, output)
	}
}

func decodeMessage(t *testing.T, r reply) anthMessage {
	t.Helper()
	if r.status != fasthttp.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var m anthMessage
	strict(t, r.body, &m)
	if !strings.HasPrefix(m.ID, "msg_") || m.Type != "message" || m.Role != "assistant" || m.StopSequence != nil ||
		!strings.Contains(string(r.body), `"stop_sequence":null`) || m.StopReason == nil {
		t.Fatalf("message envelope: %s", r.body)
	}
	if !strings.HasPrefix(r.headers["request-id"], "req_") {
		t.Fatalf("request-id header %q", r.headers["request-id"])
	}
	return m
}

func TestMessagesAnswer(t *testing.T) {
	s := startMock(t, mock.Options{})
	body := messagesBody("claude-mock", false)
	for _, path := range []string{"/v1/messages", "/messages", "/v1/messages?beta=true"} {
		m := decodeMessage(t, do(t, s, fasthttp.MethodPost, path, body, anthropicAuth...))
		if m.Model != "claude-mock" || *m.StopReason != "end_turn" || len(m.Content) != 1 {
			t.Fatalf("%s: %+v", path, m)
		}
		b := m.Content[0]
		if b.Type != "text" || b.Text == nil || *b.Text != repeat(8, chunkText) || b.Thinking != nil || b.Signature != nil || b.Input != nil {
			t.Fatalf("%s: block %+v", path, b)
		}
		wantUsage(t, m.Usage, len(body)/4, 0, 16)
	}
}

// messageStream reads a Messages stream and decodes each event, checking
// that its name is its data's type.
func messageStream(t *testing.T, s *mock.Server, body string, headers ...string) (namedStream, []anthEvent) {
	t.Helper()
	st := doNamed(t, s, "/v1/messages", body, with(anthropicAuth, headers...)...)
	if st.status != fasthttp.StatusOK || st.headers["content-type"] != "text/event-stream" {
		t.Fatalf("status %d content-type %q: %s", st.status, st.headers["content-type"], st.raw)
	}
	var events []anthEvent
	for _, e := range st.events {
		var ev anthEvent
		strict(t, []byte(e.data), &ev)
		if ev.Type != e.name {
			t.Fatalf("event %q carries type %q", e.name, ev.Type)
		}
		events = append(events, ev)
	}
	return st, events
}

// wantNames checks the event names of st.
func wantNames(t *testing.T, st namedStream, want ...string) {
	t.Helper()
	if got := st.names(); !slices.Equal(got, want) {
		t.Fatalf("events\n%q\nwant\n%q", got, want)
	}
}

// times returns n copies of name.
func times(n int, name string) []string { return slices.Repeat([]string{name}, n) }

// seq joins event name lists.
func seq(parts ...[]string) []string { return slices.Concat(parts...) }

func one(names ...string) []string { return names }

func TestMessagesStream(t *testing.T) {
	s := startMock(t, mock.Options{})
	body := messagesBody("claude-mock", true)
	st, ev := messageStream(t, s, body)
	if st.err != nil || strings.Contains(string(st.raw), "[DONE]") {
		t.Fatalf("stream: %v\n%s", st.err, st.raw)
	}
	wantNames(t, st, seq(one("message_start", "content_block_start", "ping"), times(8, "content_block_delta"),
		one("content_block_stop", "message_delta", "message_stop"))...)

	m := ev[0].Message
	if m == nil || !strings.HasPrefix(m.ID, "msg_") || m.Type != "message" || m.Role != "assistant" || m.Model != "claude-mock" ||
		len(m.Content) != 0 || m.StopReason != nil || m.StopSequence != nil || !strings.Contains(st.events[0].data, `"content":[]`) {
		t.Fatalf("message_start: %s", st.events[0].data)
	}
	wantUsage(t, m.Usage, len(body)/4, 0, 1)
	if b := ev[1].ContentBlock; *ev[1].Index != 0 || b == nil || b.Type != "text" || b.Text == nil || *b.Text != "" {
		t.Fatalf("content_block_start: %s", st.events[1].data)
	}
	if st.events[2].data != `{"type":"ping"}` {
		t.Fatalf("ping: %s", st.events[2].data)
	}
	var text strings.Builder
	for i, e := range ev[3:11] {
		if *e.Index != 0 || e.Delta == nil || e.Delta.Type != "text_delta" || e.Delta.Text != chunkText(i) {
			t.Fatalf("delta %d: %s", i, st.events[3+i].data)
		}
		text.WriteString(e.Delta.Text)
	}
	if text.String() != repeat(8, chunkText) {
		t.Fatalf("text %q", text.String())
	}
	if *ev[11].Index != 0 || st.events[11].data != `{"type":"content_block_stop","index":0}` {
		t.Fatalf("content_block_stop: %s", st.events[11].data)
	}
	d := ev[12]
	if d.Delta == nil || d.Delta.StopReason == nil || *d.Delta.StopReason != "end_turn" || d.Delta.StopSequence != nil ||
		!strings.Contains(st.events[12].data, `"stop_sequence":null`) || d.Usage == nil || d.Usage.OutputTokens != 16 {
		t.Fatalf("message_delta: %s", st.events[12].data)
	}
	if st.events[13].data != `{"type":"message_stop"}` {
		t.Fatalf("message_stop: %s", st.events[13].data)
	}
}

func TestMessagesToolUse(t *testing.T) {
	s := startMock(t, mock.Options{})
	m := decodeMessage(t, do(t, s, fasthttp.MethodPost, "/v1/messages", messagesBody("claude-mock+tools=3", false), anthropicAuth...))
	if *m.StopReason != "tool_use" || len(m.Content) != 1 || m.Usage.OutputTokens != len(toolArgs)/4 {
		t.Fatalf("message %+v", m)
	}
	b := m.Content[0]
	if b.Type != "tool_use" || !strings.HasPrefix(b.ID, "toolu_") || b.Name != "get_weather" || string(b.Input) != toolArgs || b.Text != nil {
		t.Fatalf("tool_use block %+v input %s", b, b.Input)
	}

	for _, n := range []int{1, 3, 7} {
		st, ev := messageStream(t, s, messagesBody("claude-mock", true), "x-mock", "tools="+itoa(n))
		wantNames(t, st, seq(one("message_start", "content_block_start", "ping"), times(n, "content_block_delta"),
			one("content_block_stop", "message_delta", "message_stop"))...)
		start := ev[1].ContentBlock
		if start.Type != "tool_use" || !strings.HasPrefix(start.ID, "toolu_") || start.Name != "get_weather" || string(start.Input) != "{}" {
			t.Fatalf("tools=%d: content_block_start %s", n, st.events[1].data)
		}
		var args strings.Builder
		for _, e := range ev[3 : 3+n] {
			if e.Delta.Type != "input_json_delta" || e.Delta.PartialJSON == nil || *e.Index != 0 {
				t.Fatalf("tools=%d: delta %+v", n, e.Delta)
			}
			args.WriteString(*e.Delta.PartialJSON)
		}
		if args.String() != toolArgs {
			t.Fatalf("tools=%d: partial_json adds up to %q", n, args.String())
		}
		if d := ev[len(ev)-2]; *d.Delta.StopReason != "tool_use" || d.Usage.OutputTokens != len(toolArgs)/4 {
			t.Fatalf("tools=%d: message_delta %s", n, st.events[len(ev)-2].data)
		}
	}
}

func TestMessagesThinking(t *testing.T) {
	s := startMock(t, mock.Options{Chunks: 2})
	m := decodeMessage(t, do(t, s, fasthttp.MethodPost, "/v1/messages", messagesBody("claude-mock+thinking=3", false), anthropicAuth...))
	if len(m.Content) != 2 || *m.StopReason != "end_turn" || m.Usage.OutputTokens != 3*2+2*2 {
		t.Fatalf("message %+v", m)
	}
	th := m.Content[0]
	if th.Type != "thinking" || th.Thinking == nil || *th.Thinking != repeat(3, thoughtText) || th.Signature == nil || th.Text != nil {
		t.Fatalf("thinking block %+v", th)
	}
	sig := *th.Signature
	if _, err := base64.StdEncoding.DecodeString(sig); err != nil || sig == "" {
		t.Fatalf("signature %q is not base64: %v", sig, err)
	}
	if m.Content[1].Type != "text" || *m.Content[1].Text != repeat(2, chunkText) {
		t.Fatalf("text block %+v", m.Content[1])
	}

	st, ev := messageStream(t, s, messagesBody("claude-mock+thinking=3", true))
	wantNames(t, st, seq(one("message_start", "content_block_start", "ping"), times(3+1, "content_block_delta"),
		one("content_block_stop", "content_block_start"), times(2, "content_block_delta"),
		one("content_block_stop", "message_delta", "message_stop"))...)
	if b := ev[1].ContentBlock; b.Type != "thinking" || b.Thinking == nil || *b.Thinking != "" || b.Signature != nil {
		t.Fatalf("thinking start: %s", st.events[1].data)
	}
	for i := range 3 {
		if d := ev[3+i]; *d.Index != 0 || d.Delta.Type != "thinking_delta" || d.Delta.Thinking != thoughtText(i) {
			t.Fatalf("thinking delta %d: %s", i, st.events[3+i].data)
		}
	}
	if d := ev[6]; *d.Index != 0 || d.Delta.Type != "signature_delta" || d.Delta.Signature != sig {
		t.Fatalf("signature delta %s, want the non-streamed signature %q", st.events[6].data, sig)
	}
	if *ev[7].Index != 0 || *ev[8].Index != 1 || ev[8].ContentBlock.Type != "text" {
		t.Fatalf("blocks: %s %s", st.events[7].data, st.events[8].data)
	}
	for i := range 2 {
		if d := ev[9+i]; *d.Index != 1 || d.Delta.Type != "text_delta" || d.Delta.Text != chunkText(i) {
			t.Fatalf("text delta %d: %s", i, st.events[9+i].data)
		}
	}
	if *ev[11].Index != 1 || ev[12].Usage.OutputTokens != 10 {
		t.Fatalf("end: %s %s", st.events[11].data, st.events[12].data)
	}

	// Thinking, then a tool call.
	m = decodeMessage(t, do(t, s, fasthttp.MethodPost, "/v1/messages", messagesBody("claude-mock+thinking=1+tools=2", false), anthropicAuth...))
	if len(m.Content) != 2 || m.Content[0].Type != "thinking" || m.Content[1].Type != "tool_use" || *m.StopReason != "tool_use" {
		t.Fatalf("thinking and tools: %+v", m)
	}
	st, _ = messageStream(t, s, messagesBody("claude-mock+thinking=1+tools=2", true))
	wantNames(t, st, seq(one("message_start", "content_block_start", "ping"), times(2, "content_block_delta"),
		one("content_block_stop", "content_block_start"), times(2, "content_block_delta"),
		one("content_block_stop", "message_delta", "message_stop"))...)
}

func TestMessagesCachedUsage(t *testing.T) {
	s := startMock(t, mock.Options{})
	body := messagesBody("claude-mock+cached=5", false)
	m := decodeMessage(t, do(t, s, fasthttp.MethodPost, "/v1/messages", body, anthropicAuth...))
	wantUsage(t, m.Usage, len(body)/4-5, 5, 16)

	body = messagesBody("claude-mock", true)
	_, ev := messageStream(t, s, body, "x-mock", "cached=7")
	wantUsage(t, ev[0].Message.Usage, len(body)/4-7, 7, 1)

	// More cached tokens than the prompt has: all of it was cached.
	body = messagesBody("claude-mock+cached=100000", false)
	m = decodeMessage(t, do(t, s, fasthttp.MethodPost, "/v1/messages", body, anthropicAuth...))
	wantUsage(t, m.Usage, 0, len(body)/4, 16)
}

// wantAnthropicError checks that r is an Anthropic error with status and
// type.
func wantAnthropicError(t *testing.T, r reply, status int, typ string) anthErrorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var e anthErrorBody
	strict(t, r.body, &e)
	if e.Type != "error" || e.Error.Type != typ || e.Error.Message == "" || !strings.HasPrefix(e.RequestID, "req_") ||
		r.headers["request-id"] != e.RequestID || r.headers["content-type"] != "application/json" {
		t.Fatalf("status %d: body %s request-id %q, want error type %s", status, r.body, r.headers["request-id"], typ)
	}
	return e
}

func TestMessagesErrors(t *testing.T) {
	s := startMock(t, mock.Options{})
	for status, typ := range map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error",
		500: "api_error", 502: "api_error", 503: "api_error", 504: "timeout_error", 529: "overloaded_error",
	} {
		wantAnthropicError(t, do(t, s, fasthttp.MethodPost, "/v1/messages", messagesBody("claude-mock+status="+itoa(status), false), anthropicAuth...), status, typ)
	}
	// A streaming request fails before the stream starts; retry_after works.
	r := do(t, s, fasthttp.MethodPost, "/v1/messages", messagesBody("claude-mock", true), with(anthropicAuth, "x-mock", "status=529,retry_after=3")...)
	wantAnthropicError(t, r, 529, "overloaded_error")
	if r.headers["retry-after"] != "3" {
		t.Fatalf("retry-after %q", r.headers["retry-after"])
	}
	wantAnthropicError(t, do(t, s, fasthttp.MethodPost, "/v1/messages/count_tokens", messagesBody("claude-mock+status=429", false), anthropicAuth...), 429, "rate_limit_error")

	// Bad requests.
	f := func(body string, want string, headers ...string) {
		t.Helper()
		e := wantAnthropicError(t, do(t, s, fasthttp.MethodPost, "/v1/messages", body, with(anthropicAuth, headers...)...), 400, "invalid_request_error")
		if !strings.Contains(e.Error.Message, want) {
			t.Fatalf("%s: message %q, want it to mention %q", body, e.Error.Message, want)
		}
	}
	f(`{"model":`, "JSON")
	f(`{"max_tokens":10,"messages":[]}`, "model")
	f(`{"model":"claude-mock","messages":[]}`, "max_tokens: Field required")
	f(`{"model":"claude-mock","max_tokens":0,"messages":[]}`, "max_tokens")
	f(messagesBody("claude-mock+bogus=1", false), "mock directive")
	f(messagesBody("claude-mock", false), "mock directive", "x-mock", "thinking=-1")
	// count_tokens takes no max_tokens.
	if r := do(t, s, fasthttp.MethodPost, "/v1/messages/count_tokens", `{"model":"claude-mock","messages":[]}`, anthropicAuth...); r.status != 200 {
		t.Fatalf("count_tokens without max_tokens: %d %s", r.status, r.body)
	}
	wantAnthropicError(t, do(t, s, fasthttp.MethodGet, "/v1/messages", "", anthropicAuth...), 405, "invalid_request_error")
}

func TestMessagesAuthAndVersion(t *testing.T) {
	s := startMock(t, mock.Options{})
	body := messagesBody("claude-mock", false)
	f := func(status int, typ, msg string, headers ...string) {
		t.Helper()
		for _, path := range []string{"/v1/messages", "/v1/messages/count_tokens"} {
			e := wantAnthropicError(t, do(t, s, fasthttp.MethodPost, path, body, headers...), status, typ)
			if e.Error.Message != msg {
				t.Fatalf("%s: message %q, want %q", path, e.Error.Message, msg)
			}
		}
	}
	f(401, "authentication_error", "x-api-key header is required", "Authorization", "", "anthropic-version", "2023-06-01")
	// A Bearer token is not an Anthropic API key.
	f(401, "authentication_error", "x-api-key header is required", "Authorization", "Bearer sk-test", "anthropic-version", "2023-06-01")
	f(401, "authentication_error", "x-api-key header is required", with(anthropicAuth, "x-api-key", " ")...)
	f(400, "invalid_request_error", "anthropic-version: header is required", with(anthropicAuth, "anthropic-version", "")...)

	// Recorded as sent, with the beta header.
	do(t, s, fasthttp.MethodPost, "/v1/messages?beta=true", body, with(anthropicAuth, "anthropic-beta", "interleaved-thinking-2025-05-14")...)
	got := s.LastRequestTo(mock.SurfaceMessages)
	if got.Surface != mock.SurfaceMessages || got.Query != "beta=true" || got.Headers["anthropic-version"] != "2023-06-01" ||
		got.Headers["anthropic-beta"] != "interleaved-thinking-2025-05-14" || got.Headers["x-api-key"] != "sk-ant-test" || string(got.Body) != body {
		t.Fatalf("recorded %+v", got)
	}
}

func TestMessagesStreamError(t *testing.T) {
	s := startMock(t, mock.Options{})
	f := func(model string, want ...string) {
		t.Helper()
		st, ev := messageStream(t, s, messagesBody(model, true))
		if st.err != nil {
			t.Fatalf("%s: the stream must end cleanly after the error event: %v", model, st.err)
		}
		wantNames(t, st, want...)
		last := ev[len(ev)-1]
		if last.Error == nil || last.Error.Type != "overloaded_error" || last.Error.Message != "Overloaded" ||
			st.events[len(ev)-1].data != `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}` {
			t.Fatalf("%s: error event %s", model, st.events[len(ev)-1].data)
		}
	}
	f("claude-mock+streamerror=2", seq(one("message_start", "content_block_start", "ping"), times(2, "content_block_delta"), one("error"))...)
	f("claude-mock+streamerror=0", "message_start", "content_block_start", "ping", "error")
	// After thinking=2 and one text delta: the thinking block closed, the
	// text block started.
	f("claude-mock+thinking=2+streamerror=3", seq(one("message_start", "content_block_start", "ping"), times(3, "content_block_delta"),
		one("content_block_stop", "content_block_start", "content_block_delta", "error"))...)
	// More than there are: after the last delta.
	f("claude-mock+chunks=2+streamerror=9", seq(one("message_start", "content_block_start", "ping"), times(2, "content_block_delta"), one("error"))...)
	// Non-streamed answers ignore it.
	decodeMessage(t, do(t, s, fasthttp.MethodPost, "/v1/messages", messagesBody("claude-mock+streamerror=1", false), anthropicAuth...))
}

func TestMessagesCountTokens(t *testing.T) {
	s := startMock(t, mock.Options{})
	body := messagesBody("claude-mock", false)
	for _, path := range []string{"/v1/messages/count_tokens", "/messages/count_tokens", "/v1/messages/count_tokens?beta=true"} {
		r := do(t, s, fasthttp.MethodPost, path, body, anthropicAuth...)
		var got struct {
			InputTokens int `json:"input_tokens"`
		}
		strict(t, r.body, &got)
		if r.status != 200 || got.InputTokens != len(body)/4 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		if rec := s.LastRequest(); rec.Surface != mock.SurfaceCountTokens {
			t.Fatalf("%s: recorded surface %q", path, rec.Surface)
		}
	}
}
