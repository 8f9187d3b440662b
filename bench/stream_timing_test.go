package main

import (
	"strings"
	"testing"
)

func BenchmarkSSEScanner(b *testing.B) {
	event := `data: {"id":"chatcmpl-mock-1","object":"chat.completion.chunk","created":1735689600,"model":"mock-model","choices":[{"index":0,"delta":{"content":"chunk 3 "},"logprobs":null,"finish_reason":null}]}` + "\n\n"
	stream := []byte(strings.Repeat(event, 8) + "data: [DONE]\n\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	var sc sseScanner
	for b.Loop() {
		n := 0
		for i := 0; i < len(stream); i += 512 {
			sc.feed(stream[i:min(i+512, len(stream))], func(ev []byte) {
				if isContentEvent(ev) {
					n++
				}
			})
		}
		if n != 8 {
			b.Fatalf("%d content events", n)
		}
	}
}
