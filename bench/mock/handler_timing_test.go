package mock

import (
	"io"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// benchmarkHandle measures the mock's own cost of answering one request,
// without the network: it calls the handler in process and reads the
// streamed body, if any, to its end.
func benchmarkHandle(b *testing.B, path, body string, headers ...string) {
	s := newServer(nil, Options{})
	var req fasthttp.Request
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(path)
	req.Header.Set(fasthttp.HeaderAuthorization, "Bearer test")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.SetBodyString(body)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		s.handle(&ctx)
		if ctx.Response.StatusCode() != fasthttp.StatusOK {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		if r := ctx.Response.BodyStream(); r != nil {
			for {
				if _, err := r.Read(buf); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
			_ = ctx.Response.CloseBodyStream()
		}
	}
}

const benchChat = `{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}`

func BenchmarkHandleChat(b *testing.B) { benchmarkHandle(b, "/v1/chat/completions", benchChat) }

func BenchmarkHandleChatStream(b *testing.B) {
	benchmarkHandle(b, "/v1/chat/completions", `{"model":"mock-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
}

var benchAnthropic = []string{"x-api-key", "sk-ant", "anthropic-version", "2023-06-01"}

func BenchmarkHandleMessages(b *testing.B) {
	benchmarkHandle(b, "/v1/messages", `{"model":"claude-mock","max_tokens":1024,"messages":[{"role":"user","content":"hi"}]}`, benchAnthropic...)
}

func BenchmarkHandleMessagesStream(b *testing.B) {
	benchmarkHandle(b, "/v1/messages", `{"model":"claude-mock","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, benchAnthropic...)
}

func BenchmarkHandleResponsesStream(b *testing.B) {
	benchmarkHandle(b, "/v1/responses", `{"model":"gpt-mock","stream":true,"input":"hi"}`)
}

func BenchmarkHandleGeminiStream(b *testing.B) {
	benchmarkHandle(b, "/v1beta/models/gemini-mock:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`, "x-goog-api-key", "g")
}
