package mock_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

// completion is the part of a chat.completion the tests look at.
type completion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Role      string  `json:"role"`
			Content   *string `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage usage `json:"usage"`
}

func decodeCompletion(t *testing.T, r reply) completion {
	t.Helper()
	if r.status != fasthttp.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var c completion
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if len(c.Choices) != 1 {
		t.Fatalf("%d choices, want 1: %s", len(c.Choices), r.body)
	}
	return c
}

func TestChatCompletion(t *testing.T) {
	s := startMock(t, mock.Options{})
	body := `{"model":"mock-model","messages":[{"role":"user","content":"` + strings.Repeat("x", 1000) + `"}]}`
	c := decodeCompletion(t, do(t, s, fasthttp.MethodPost, "/v1/chat/completions", body))
	if c.Object != "chat.completion" || c.Model != "mock-model" || !strings.HasPrefix(c.ID, "chatcmpl-") {
		t.Fatalf("object %q model %q id %q", c.Object, c.Model, c.ID)
	}
	m := c.Choices[0].Message
	want := "chunk 0 chunk 1 chunk 2 chunk 3 chunk 4 chunk 5 chunk 6 chunk 7 "
	if m.Role != "assistant" || m.Content == nil || *m.Content != want || c.Choices[0].FinishReason != "stop" {
		t.Fatalf("message %+v finish %q", m, c.Choices[0].FinishReason)
	}
	if u := c.Usage; u.PromptTokens != len(body)/4 || u.CompletionTokens != 16 || u.TotalTokens != u.PromptTokens+16 {
		t.Fatalf("usage %+v for a %d-byte body", u, len(body))
	}
}

func TestChatEchoesModelWithDirectivesAndEscapes(t *testing.T) {
	s := startMock(t, mock.Options{})
	c := decodeCompletion(t, do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"we\"ird\u00e9+chunks=1"}`))
	if c.Model != "we\"irdé+chunks=1" || *c.Choices[0].Message.Content != "chunk 0 " {
		t.Fatalf("model %q content %q", c.Model, *c.Choices[0].Message.Content)
	}
}

func TestChatStream(t *testing.T) {
	s := startMock(t, mock.Options{Chunks: 3})
	f := func(includeUsage bool) {
		t.Helper()
		st := doStream(t, s, "/v1/chat/completions", streamBody("mock-model", includeUsage))
		chunks := st.chunks(t)
		want := 3 + 1 // content chunks, finish chunk
		if includeUsage {
			want++
		}
		if len(chunks) != want {
			t.Fatalf("include_usage=%v: %d chunks, want %d: %v", includeUsage, len(chunks), want, st.events)
		}
		var text strings.Builder
		for i, c := range chunks[:3] {
			d := c.Choices[0].Delta
			if (i == 0) != (d.Role != nil) || d.Content == nil || c.Choices[0].FinishReason != nil {
				t.Fatalf("content chunk %d: %s", i, st.events[i].data)
			}
			if c.Object != "chat.completion.chunk" || c.Model != "mock-model" || c.ID != chunks[0].ID {
				t.Fatalf("chunk %d: object %q model %q id %q", i, c.Object, c.Model, c.ID)
			}
			text.WriteString(*d.Content)
		}
		if text.String() != "chunk 0 chunk 1 chunk 2 " {
			t.Fatalf("content %q", text.String())
		}
		if fr := chunks[3].Choices[0].FinishReason; fr == nil || *fr != "stop" {
			t.Fatalf("finish chunk: %s", st.events[3].data)
		}
		if !includeUsage {
			if strings.Contains(st.events[0].data, "usage") {
				t.Fatalf("usage without include_usage: %s", st.events[0].data)
			}
			return
		}
		u := chunks[4]
		if u.Choices == nil || len(u.Choices) != 0 || u.Usage == nil || u.Usage.CompletionTokens != 6 || u.Usage.TotalTokens != u.Usage.PromptTokens+6 {
			t.Fatalf("usage chunk: %s", st.events[4].data)
		}
		if !strings.Contains(st.events[0].data, `"usage":null`) {
			t.Fatalf("chunks before the usage chunk should carry usage null: %s", st.events[0].data)
		}
	}
	f(false)
	f(true)
}

func TestChatStreamFlushesEachChunk(t *testing.T) {
	const gap = 30 * time.Millisecond
	s := startMock(t, mock.Options{Chunks: 4, ChunkDelay: gap})
	st := doStream(t, s, "/chat/completions", streamBody("mock-model", false))
	st.chunks(t)
	// Chunk i leaves the mock i gaps after chunk 0 (sleeps never end
	// early), so chunks flushed one by one arrive about i gaps after chunk
	// 0; buffered, they would arrive together. Half a gap of slack covers
	// chunk 0 being late on the way.
	for i := 1; i < 4; i++ {
		if d, want := st.events[i].at.Sub(st.events[0].at), time.Duration(i)*gap-gap/2; d < want {
			t.Fatalf("chunk %d arrived %s after chunk 0, want at least %s", i, d, want)
		}
	}
}

func TestChatToolCalls(t *testing.T) {
	s := startMock(t, mock.Options{})
	const args = `{"location":"Paris, France","unit":"celsius"}`

	c := decodeCompletion(t, do(t, s, fasthttp.MethodPost, "/v1/chat/completions", `{"model":"mock-model+tools=3"}`))
	m := c.Choices[0].Message
	if c.Choices[0].FinishReason != "tool_calls" || m.Content != nil || len(m.ToolCalls) != 1 {
		t.Fatalf("non-streamed tool call: %+v", c.Choices[0])
	}
	if tc := m.ToolCalls[0]; tc.ID == "" || tc.Type != "function" || tc.Function.Name != "get_weather" || tc.Function.Arguments != args {
		t.Fatalf("tool call %+v", tc)
	}

	for _, n := range []int{1, 5, 100} {
		st := doStream(t, s, "/v1/chat/completions", streamBody("mock-model+tools="+itoa(n), true))
		chunks := st.chunks(t)
		if len(chunks) != n+2 {
			t.Fatalf("tools=%d: %d chunks, want %d deltas, finish, usage", n, len(chunks), n+2)
		}
		var got strings.Builder
		for i, ch := range chunks[:n] {
			d := ch.Choices[0].Delta
			if len(d.ToolCalls) != 1 || d.ToolCalls[0].Index != 0 {
				t.Fatalf("tools=%d delta %d: %s", n, i, st.events[i].data)
			}
			tc := d.ToolCalls[0]
			first := tc.ID != "" && tc.Type == "function" && tc.Function.Name == "get_weather" && d.Role != nil
			if first != (i == 0) || (i > 0 && (tc.ID != "" || tc.Function.Name != "")) {
				t.Fatalf("tools=%d delta %d: only the first carries id, type and name: %s", n, i, st.events[i].data)
			}
			got.WriteString(tc.Function.Arguments)
		}
		if got.String() != args {
			t.Fatalf("tools=%d: arguments %q, want %q", n, got.String(), args)
		}
		if fr := chunks[n].Choices[0].FinishReason; fr == nil || *fr != "tool_calls" {
			t.Fatalf("tools=%d: finish chunk %s", n, st.events[n].data)
		}
	}
}
