package floor_test

import (
	"testing"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// benchmarkChat sends chat completions to addr from parallel clients.
func benchmarkChat(b *testing.B, addr string) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://" + addr + "/v1/chat/completions")
	req.Header.Set("Authorization", "Bearer sk-bench")
	req.SetBodyString(`{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}`)
	c := &fasthttp.HostClient{Addr: addr, MaxConns: 1024}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(r)
		defer fasthttp.ReleaseResponse(resp)
		req.CopyTo(r)
		for pb.Next() {
			if err := c.Do(r, resp); err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode() != fasthttp.StatusOK {
				b.Fatalf("status %d", resp.StatusCode())
			}
		}
	})
}

// BenchmarkDirect is the mock alone, for comparison with BenchmarkFloor.
func BenchmarkDirect(b *testing.B) {
	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	benchmarkChat(b, m.Addr())
}

// BenchmarkFloor is the mock behind the floor: the extra hop's cost.
func BenchmarkFloor(b *testing.B) {
	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	benchmarkChat(b, startFloor(b, m.URL()))
}
