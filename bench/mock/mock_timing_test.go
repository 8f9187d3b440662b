package mock_test

import (
	"testing"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// benchmarkMock runs body against a mock over loopback from parallel
// clients; stream reads the answer as a stream.
func benchmarkMock(b *testing.B, body string, stream bool) {
	s, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := &fasthttp.HostClient{Addr: s.Addr(), MaxConns: 1024}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := newRequest(s, fasthttp.MethodPost, "/v1/chat/completions", body)
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
