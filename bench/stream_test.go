package main

import (
	"strings"
	"testing"
)

func TestSSEScannerSplitsEventsAcrossReads(t *testing.T) {
	stream := "data: {\"a\":1}\n\n" +
		": keep-alive\n\n" +
		"event: x\r\ndata: {\"b\":2}\r\n\r\n" +
		"data: [DONE]\n\n"
	want := []string{`data: {"a":1}`, ": keep-alive", "event: x\r\ndata: {\"b\":2}", "data: [DONE]"}
	// Every way of cutting the stream in two, and byte by byte.
	for cut := 0; cut <= len(stream); cut++ {
		var sc sseScanner
		var got []string
		emit := func(ev []byte) { got = append(got, string(ev)) }
		sc.feed([]byte(stream[:cut]), emit)
		sc.feed([]byte(stream[cut:]), emit)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("cut at %d: events %q, want %q", cut, got, want)
		}
	}
	var sc sseScanner
	n := 0
	for i := range len(stream) {
		sc.feed([]byte{stream[i]}, func([]byte) { n++ })
	}
	if n != len(want) || len(sc.pending) != 0 {
		t.Fatalf("byte by byte: %d events, %d bytes pending; want %d, 0", n, len(sc.pending), len(want))
	}
}

func TestEventKinds(t *testing.T) {
	content := `data: {"object":"chat.completion.chunk","choices":[{"delta":{"content":"chunk 3 "}}]}`
	spaced := `data: {"object": "chat.completion.chunk", "choices": [{"delta": {"content": "chunk 3 "}}]}`
	finish := `data: {"object":"chat.completion.chunk","choices":[{"delta":{},"finish_reason":"stop"}]}`
	usage := `data: {"object":"chat.completion.chunk","choices":[],"usage":{"total_tokens":9}}`
	f := func(ev string, isContent, isDone bool) {
		t.Helper()
		if got := isContentEvent([]byte(ev)); got != isContent {
			t.Errorf("isContentEvent(%s) = %v", ev, got)
		}
		if got := isDoneEvent([]byte(ev)); got != isDone {
			t.Errorf("isDoneEvent(%s) = %v", ev, got)
		}
	}
	f(content, true, false)
	f(spaced, true, false)
	f(finish, false, false)
	f(usage, false, false)
	f("data: [DONE]", false, true)
	f("data:[DONE]", false, true)
	f(": keep-alive", false, false)
}

func TestAnthropicEventKinds(t *testing.T) {
	f := func(ev string, isContent, isEnd bool) {
		t.Helper()
		if got := messagesAPI.isContent([]byte(ev)); got != isContent {
			t.Errorf("isContent(%q) = %v", ev, got)
		}
		if got := messagesAPI.isEnd([]byte(ev)); got != isEnd {
			t.Errorf("isEnd(%q) = %v", ev, got)
		}
	}
	f("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}", false, false)
	f("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}", false, false)
	f("event: ping\ndata: {\"type\":\"ping\"}", false, false)
	f("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"chunk 3 \"}}", true, false)
	f("event: content_block_delta\r\ndata: {\"type\": \"content_block_delta\", \"delta\": {\"type\": \"text_delta\", \"text\": \"chunk 3 \"}}", true, false)
	f("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"thought 1 \"}}", false, false)
	f("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":16}}", false, false)
	f("event: message_stop\ndata: {\"type\":\"message_stop\"}", false, true)
	f("event:message_stop\r\ndata: {\"type\":\"message_stop\"}", false, true)
	f("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"message_stop\"}}", false, false)
	f("data: [DONE]", false, false)
}

func FuzzSSEScanner(f *testing.F) {
	f.Add("data: a\n\ndata: b\r\n\r\n", 3)
	f.Add(": keep-alive\n\n\n\ndata: [DONE]\n\n", 1)
	f.Add("\r\n\r\n\n", 2)
	f.Fuzz(func(t *testing.T, stream string, cut int) {
		var whole, split sseScanner
		var a, b []string
		whole.feed([]byte(stream), func(ev []byte) { a = append(a, string(ev)) })
		if cut < 0 {
			cut = -cut
		}
		if len(stream) > 0 {
			cut %= len(stream) + 1
		} else {
			cut = 0
		}
		emit := func(ev []byte) { b = append(b, string(ev)) }
		split.feed([]byte(stream[:cut]), emit)
		split.feed([]byte(stream[cut:]), emit)
		if strings.Join(a, "\x00") != strings.Join(b, "\x00") || string(whole.pending) != string(split.pending) {
			t.Fatalf("cut at %d: %q then %q pending; whole: %q then %q pending", cut, b, split.pending, a, whole.pending)
		}
		for _, ev := range a {
			if ev == "" || strings.Contains(ev, "\n\n") {
				t.Fatalf("event %q is empty or holds a blank line", ev)
			}
		}
	})
}
