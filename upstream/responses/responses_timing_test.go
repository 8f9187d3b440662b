package responses_test

import (
	"encoding/json"
	"strings"
	"testing"

	"switchboard/upstream/canon"
	"switchboard/upstream/responses"
)

// codexRequest is a long agent conversation in Codex's shape.
func codexRequest(turns int) []byte {
	input := []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_text", "text": "Fix the bug."}}}}
	for i := range turns {
		id := "call_" + strings.Repeat("x", 8) + string(rune('a'+i%26))
		input = append(input,
			map[string]any{"type": "reasoning", "id": "rs_" + id, "summary": []any{map[string]any{"type": "summary_text", "text": "Looking at the file."}}, "encrypted_content": strings.Repeat("gAAAAB", 40)},
			map[string]any{"type": "function_call", "call_id": id, "name": "shell", "arguments": `{"command":["cat","main.go"]}`},
			map[string]any{"type": "function_call_output", "call_id": id, "output": strings.Repeat("func f() { return }\n", 12)})
	}
	b, _ := json.Marshal(map[string]any{
		"model": "gpt-5-codex", "instructions": "You are Codex.", "input": input, "stream": true, "store": false,
		"tools":     []any{map[string]any{"type": "function", "name": "shell", "parameters": map[string]any{"type": "object"}}},
		"reasoning": map[string]any{"effort": "medium", "summary": "auto"}, "include": []any{"reasoning.encrypted_content"},
	})
	return b
}

func BenchmarkRequest(b *testing.B) {
	body := codexRequest(50)
	var r canon.Request
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := responses.DecodeRequest(body, &r); err != nil {
			b.Fatal(err)
		}
		var err error
		if out, err = responses.EncodeRequest(out[:0], &r, responses.EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// streamPayloads returns the data payloads of the call-and-reasoning
// golden stream.
func streamPayloads(tb testing.TB) [][]byte {
	var out [][]byte
	for _, in := range goldenInputs(tb, "stream") {
		if strings.Contains(in, "function_call_arguments.delta") {
			for _, l := range strings.Split(in, "\n") {
				out = append(out, []byte(l))
			}
		}
	}
	return out
}

func BenchmarkStream(b *testing.B) {
	payloads := streamPayloads(b)
	var d responses.StreamDecoder
	var e responses.StreamEncoder
	var evs []canon.Event
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		e.Reset()
		out = out[:0]
		for _, p := range payloads {
			evs, _ = d.Decode(evs[:0], p)
			for i := range evs {
				out, _ = e.Append(out, &evs[i])
			}
		}
	}
}

// TestStreamEncoderAllocation: encoding a stream with a reused encoder
// allocates nothing once its buffers have grown.
func TestStreamEncoderAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	payloads := streamPayloads(t)
	var d responses.StreamDecoder
	var all []canon.Event
	for _, p := range payloads {
		evs, err := d.Decode(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			ev := evs[i]
			ev.Created = 1
			all = append(all, ev)
		}
	}
	var e responses.StreamEncoder
	var out []byte
	run := func() {
		e.Reset()
		out = out[:0]
		for i := range all {
			out, _ = e.Append(out, &all[i])
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("stream encoding allocates %v times, want 0", n)
	}
}

// TestStreamDecoderAllocation: decoding a delta payload with a reused
// decoder allocates nothing.
func TestStreamDecoderAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	payloads := streamPayloads(t)
	var d responses.StreamDecoder
	var evs []canon.Event
	var delta []byte
	for _, p := range payloads {
		evs, _ = d.Decode(evs[:0], p)
		if strings.Contains(string(p), "function_call_arguments.delta") {
			delta = p
			break
		}
	}
	n := testing.AllocsPerRun(100, func() { evs, _ = d.Decode(evs[:0], delta) })
	if n != 0 {
		t.Errorf("decoding a delta allocates %v times, want 0", n)
	}
}
