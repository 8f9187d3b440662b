package gemini_test

import (
	"testing"

	"switchboard/upstream/canon"
	"switchboard/upstream/gemini"
)

// streamChunk is a typical streamed text chunk.
var streamChunk = []byte(`{"candidates":[{"content":{"parts":[{"text":"Hello, \"world\"\n and more text"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4,"totalTokenCount":13},"modelVersion":"gemini-2.5-flash","responseId":"r-1"}`)

// TestStreamAllocation checks that a stream costs no allocation per
// chunk once the decoder and encoder have warmed up.
func TestStreamAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	var d gemini.StreamDecoder
	var e gemini.StreamEncoder
	evs, _ := d.Decode(nil, streamChunk) // message_start, block_start, delta
	out := make([]byte, 0, 4096)
	for i := range evs {
		out, _ = e.Append(out, &evs[i])
	}
	n := testing.AllocsPerRun(100, func() {
		evs, _ = d.Decode(evs[:0], streamChunk)
		out = out[:0]
		for i := range evs {
			out, _ = e.Append(out, &evs[i])
		}
	})
	if n != 0 {
		t.Errorf("a chunk costs %v allocations, want 0", n)
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	body := []byte(readCase(b, "testdata/translate/request-tools").input)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var r canon.Request
	for b.Loop() {
		if err := gemini.DecodeRequest(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRequest(b *testing.B) {
	var r canon.Request
	if err := gemini.DecodeRequest([]byte(readCase(b, "testdata/translate/request-tools").input), &r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		var err error
		if out, err = gemini.EncodeRequest(out[:0], &r, gemini.EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStream(b *testing.B) {
	var d gemini.StreamDecoder
	var e gemini.StreamEncoder
	evs, _ := d.Decode(nil, streamChunk)
	out := make([]byte, 0, 4096)
	for i := range evs {
		out, _ = e.Append(out, &evs[i])
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(streamChunk)))
	for b.Loop() {
		evs, _ = d.Decode(evs[:0], streamChunk)
		out = out[:0]
		for i := range evs {
			out, _ = e.Append(out, &evs[i])
		}
	}
}
