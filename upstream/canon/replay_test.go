package canon_test

import (
	"bytes"
	"reflect"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
)

// TestAppendEventsReplaysTheResponse: the events of a whole answer,
// written as an Anthropic stream and read back, give the same answer:
// text, thinking with its signature byte for byte, a tool call's
// arguments, stop reason and usage.
func TestAppendEventsReplaysTheResponse(t *testing.T) {
	want := canon.Response{
		ID: "msg_1", Model: "m",
		Content: []canon.Block{
			{Kind: canon.BlockThinking, Text: "Let me think.", Signature: "sig+/=="},
			{Kind: canon.BlockText, Text: "It is sunny."},
			{Kind: canon.BlockToolUse, ID: "toolu_1", Name: "get_weather", Input: `{"city":"Paris"}`},
		},
		StopReason: canon.StopToolUse,
		Usage:      canon.Usage{Input: 10, Output: 20, CacheRead: 5},
	}
	events := canon.AppendEvents(nil, &want)
	var enc anthropic.StreamEncoder
	var stream []byte
	for i := range events {
		var err error
		if stream, err = enc.Append(stream, &events[i]); err != nil {
			t.Fatalf("event %d (%s): %v", i, events[i].Type, err)
		}
	}
	var dec anthropic.StreamDecoder
	var got canon.Response
	var out []canon.Event
	for _, data := range dataLines(stream) {
		var err error
		if out, err = dec.Decode(out[:0], data); err != nil {
			t.Fatal(err)
		}
		for _, ev := range out {
			switch ev.Type {
			case canon.EventMessageStart:
				got.ID, got.Model = ev.ID, ev.Model
			case canon.EventBlockStart:
				got.Content = append(got.Content, canon.Block{Kind: ev.Kind, ID: ev.ID, Name: ev.Name})
			case canon.EventTextDelta, canon.EventThinkingDelta:
				got.Content[ev.Index].Text += ev.Text
			case canon.EventSignatureDelta:
				got.Content[ev.Index].Signature += ev.Text
			case canon.EventToolArgsDelta:
				got.Content[ev.Index].Input += ev.Text
			case canon.EventMessageDelta:
				got.StopReason, got.Usage = ev.StopReason, ev.Usage
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("replayed\n%+v\nwant\n%+v\nstream:\n%s", got, want, stream)
	}
}

// dataLines returns the payloads of a stream's data lines, copied.
func dataLines(stream []byte) [][]byte {
	var out [][]byte
	for len(stream) > 0 {
		line := stream
		if i := bytes.IndexByte(stream, '\n'); i >= 0 {
			line, stream = stream[:i], stream[i+1:]
		} else {
			stream = nil
		}
		if len(line) > 6 && string(line[:6]) == "data: " {
			out = append(out, append([]byte(nil), line[6:]...))
		}
	}
	return out
}
