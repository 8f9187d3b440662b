package mock_test

import (
	"testing"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// benchmarkMock runs body against the mock's chat completions over
// loopback from parallel clients; stream reads the answer as a stream.
func benchmarkMock(b *testing.B, body string, stream bool) {
	benchmarkSurface(b, "/v1/chat/completions", body, stream)
}

// benchmarkSurface runs a POST of body to path, with header pairs, over
// loopback from parallel clients; stream reads the answer as a stream.
func benchmarkSurface(b *testing.B, path, body string, stream bool, headers ...string) {
	s, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := &fasthttp.HostClient{Addr: s.Addr(), MaxConns: 1024}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := newRequest(s, fasthttp.MethodPost, path, body, headers...)
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		buf := make([]byte, 4096)
		for pb.Next() {
			resp.StreamBody = stream
			if err := c.Do(req, resp); err != nil {
				b.Fatal(err)
			}
			if stream {
				for r := resp.BodyStream(); ; {
					if _, err := r.Read(buf); err != nil {
						break
					}
				}
				_ = resp.CloseBodyStream()
			}
			if resp.StatusCode() != fasthttp.StatusOK {
				b.Fatalf("status %d", resp.StatusCode())
			}
		}
	})
}

func BenchmarkChatCompletion(b *testing.B) { benchmarkMock(b, chatBody, false) }

func BenchmarkChatStream(b *testing.B) {
	benchmarkMock(b, streamBody("mock-model", true), true)
}

// BenchmarkMessagesStream is one streamed Anthropic answer: 14 events.
func BenchmarkMessagesStream(b *testing.B) {
	benchmarkSurface(b, "/v1/messages", messagesBody("claude-mock", true), true, anthropicAuth...)
}

func BenchmarkMessages(b *testing.B) {
	benchmarkSurface(b, "/v1/messages", messagesBody("claude-mock", false), false, anthropicAuth...)
}

// BenchmarkMessagesStreamThinkingTools streams a thinking block and a
// tool call: 3 blocks' worth of events.
func BenchmarkMessagesStreamThinkingTools(b *testing.B) {
	benchmarkSurface(b, "/v1/messages", messagesBody("claude-mock+thinking=4+tools=4", true), true, anthropicAuth...)
}

func BenchmarkResponsesStream(b *testing.B) {
	benchmarkSurface(b, "/v1/responses", responsesBody("gpt-mock", true, ""), true)
}

func BenchmarkGeminiStream(b *testing.B) {
	benchmarkSurface(b, geminiPath("gemini-mock", "streamGenerateContent")+"?alt=sse", geminiBody, true, geminiAuth...)
}
