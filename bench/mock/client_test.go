package mock_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// startMock starts a mock on 127.0.0.1:0 and closes it when t ends.
func startMock(t *testing.T, opts mock.Options) *mock.Server {
	t.Helper()
	s, err := mock.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// reply is a buffered response.
type reply struct {
	status  int
	headers map[string]string
	body    []byte
}

// do sends one request with `Authorization: Bearer test` unless headers
// set another, and buffers the answer.
func do(t *testing.T, s *mock.Server, method, path, body string, headers ...string) reply {
	t.Helper()
	req, resp := newRequest(s, method, path, body, headers...)
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c := &fasthttp.HostClient{Addr: s.Addr()}
	defer c.CloseIdleConnections()
	if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r := reply{status: resp.StatusCode(), headers: map[string]string{}, body: bytes.Clone(resp.Body())}
	for k, v := range resp.Header.All() {
		r.headers[strings.ToLower(string(k))] = string(v)
	}
	return r
}

func newRequest(s *mock.Server, method, path, body string, headers ...string) (*fasthttp.Request, *fasthttp.Response) {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(method)
	req.SetRequestURI(s.URL() + path)
	req.Header.Set("Authorization", "Bearer test")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	return req, fasthttp.AcquireResponse()
}

// event is one SSE event and when it arrived.
type event struct {
	data string
	at   time.Time
}

// stream is a streamed response read to its end.
type stream struct {
	status  int
	headers time.Time // when the response headers arrived
	events  []event
	err     error // what ended the stream early; nil after a clean end
}

// doStream sends a streaming request and reads the events as they arrive.
func doStream(t *testing.T, s *mock.Server, path, body string, headers ...string) stream {
	t.Helper()
	req, resp := newRequest(s, fasthttp.MethodPost, path, body, headers...)
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c := &fasthttp.HostClient{Addr: s.Addr(), StreamResponseBody: true, ReadTimeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	if err := c.Do(req, resp); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	st := stream{status: resp.StatusCode(), headers: time.Now()}
	r := bufio.NewReader(resp.BodyStream())
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) || line != "" {
				st.err = err
			}
			break
		}
		if data, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "data: "); ok {
			st.events = append(st.events, event{data: data, at: time.Now()})
		}
	}
	return st
}

// chunk is the part of a chat.completion.chunk the tests look at.
type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role      *string `json:"role"`
			Content   *string `json:"content"`
			ToolCalls []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// chunks decodes every event but the final [DONE], which it checks.
func (st stream) chunks(t *testing.T) []chunk {
	t.Helper()
	if st.err != nil {
		t.Fatalf("stream ended with %v", st.err)
	}
	if n := len(st.events); n == 0 || st.events[n-1].data != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %v", st.events)
	}
	var out []chunk
	for _, e := range st.events[:len(st.events)-1] {
		var c chunk
		if err := json.Unmarshal([]byte(e.data), &c); err != nil {
			t.Fatalf("event %q: %v", e.data, err)
		}
		out = append(out, c)
	}
	return out
}

// apiError is the OpenAI error shape.
type apiError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// wantError checks that r is an OpenAI error with the given status.
func wantError(t *testing.T, r reply, status int) apiError {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var e apiError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("body %s is not an OpenAI error: %v", r.body, err)
	}
	return e
}

const chatBody = `{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}`

func streamBody(model string, usage bool) string {
	return `{"model":"` + model + `","stream":true,"stream_options":{"include_usage":` +
		strconv.FormatBool(usage) + `},"messages":[{"role":"user","content":"hi"}]}`
}

// Credentials of the Anthropic and Gemini surfaces, as header pairs for
// do and doNamed; they drop the default Bearer token.
var (
	anthropicAuth = []string{"Authorization", "", "x-api-key", "sk-ant-test", "anthropic-version", "2023-06-01"}
	geminiAuth    = []string{"Authorization", "", "x-goog-api-key", "g-test"}
)

// with returns headers followed by more pairs.
func with(headers []string, more ...string) []string {
	return append(append([]string(nil), headers...), more...)
}

// namedEvent is one SSE event: its event: name (empty if none), its data
// and when it arrived.
type namedEvent struct {
	name string
	data string
	at   time.Time
}

// namedStream is an SSE response read to its end, with the raw bytes.
type namedStream struct {
	status  int
	headers map[string]string
	start   time.Time // when the request was sent
	headed  time.Time // when the response headers arrived
	raw     []byte
	events  []namedEvent
	err     error // what ended the stream early; nil after a clean end
}

// doNamed sends a POST and reads the answer as SSE events as they arrive.
// Lines may end in "\r\n"; an event ends at a blank line.
func doNamed(t *testing.T, s *mock.Server, path, body string, headers ...string) namedStream {
	t.Helper()
	req, resp := newRequest(s, fasthttp.MethodPost, path, body, headers...)
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c := &fasthttp.HostClient{Addr: s.Addr(), StreamResponseBody: true, ReadTimeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	st := namedStream{start: time.Now(), headers: map[string]string{}}
	if err := c.Do(req, resp); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	st.headed = time.Now()
	st.status = resp.StatusCode()
	for k, v := range resp.Header.All() {
		st.headers[strings.ToLower(string(k))] = string(v)
	}
	r := bufio.NewReader(resp.BodyStream())
	var cur namedEvent
	for {
		line, err := r.ReadString('\n')
		st.raw = append(st.raw, line...)
		if err != nil {
			if !errors.Is(err, io.EOF) || line != "" {
				st.err = err
			}
			break
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "":
			if cur.data != "" || cur.name != "" {
				cur.at = time.Now()
				st.events = append(st.events, cur)
			}
			cur = namedEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("POST %s: unexpected SSE line %q", path, line)
		}
	}
	// Hand the connection back before CloseIdleConnections runs, so that
	// it closes it.
	_ = resp.CloseBodyStream()
	return st
}

// names returns the event names of st.
func (st namedStream) names() []string {
	var out []string
	for _, e := range st.events {
		out = append(out, e.name)
	}
	return out
}

// strict decodes data into v and fails on fields v does not name, so that
// a typed struct checks the whole shape.
func strict(t *testing.T, data []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	if d.More() {
		t.Fatalf("%s: trailing data", data)
	}
}

// repeat returns f(0) + f(1) + ... + f(n-1).
func repeat(n int, f func(int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
	}
	return b.String()
}

func chunkText(i int) string   { return "chunk " + strconv.Itoa(i) + " " }
func thoughtText(i int) string { return "thought " + strconv.Itoa(i) + " " }

// toolArgs are the arguments of the mock's get_weather call.
const toolArgs = `{"location":"Paris, France","unit":"celsius"}`
