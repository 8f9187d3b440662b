package mock_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"switchboard/bench/mock"

	"github.com/valyala/fasthttp"
)

func TestTextCompletion(t *testing.T) {
	s := startMock(t, mock.Options{Chunks: 2})
	c := decodeCompletion(t, do(t, s, fasthttp.MethodPost, "/v1/completions", `{"model":"mock-model","prompt":"hi"}`))
	if c.Object != "text_completion" || c.Choices[0].Text != "chunk 0 chunk 1 " || c.Choices[0].FinishReason != "stop" || c.Usage.TotalTokens == 0 {
		t.Fatalf("completion %+v", c)
	}

	st := doStream(t, s, "/v1/completions", `{"model":"mock-model","prompt":"hi","stream":true,"stream_options":{"include_usage":true}}`)
	chunks := st.chunks(t)
	if len(chunks) != 4 {
		t.Fatalf("%d events, want 2 chunks, finish and usage: %v", len(chunks), st.events)
	}
	for i, want := range []string{"chunk 0 ", "chunk 1 ", ""} {
		ch := chunks[i]
		if ch.Object != "text_completion" || ch.Choices[0].Text == nil || *ch.Choices[0].Text != want {
			t.Fatalf("event %d: %s", i, st.events[i].data)
		}
		if (ch.Choices[0].FinishReason != nil) != (i == 2) {
			t.Fatalf("event %d finish_reason: %s", i, st.events[i].data)
		}
	}
	if u := chunks[3]; len(u.Choices) != 0 || u.Usage == nil || u.Usage.CompletionTokens != 4 {
		t.Fatalf("usage event: %s", st.events[3].data)
	}
}

type embeddingList struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage usage `json:"usage"`
}

func TestEmbeddings(t *testing.T) {
	s := startMock(t, mock.Options{})
	f := func(body string, inputs, dims int) embeddingList {
		t.Helper()
		r := do(t, s, fasthttp.MethodPost, "/v1/embeddings", body)
		var l embeddingList
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", body, r.status, r.body)
		}
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		if l.Object != "list" || l.Model != "mock-embedding" || len(l.Data) != inputs || l.Usage.PromptTokens == 0 || l.Usage.TotalTokens != l.Usage.PromptTokens {
			t.Fatalf("%s: %s", body, r.body)
		}
		for i, d := range l.Data {
			var v []float32
			if err := json.Unmarshal(d.Embedding, &v); err == nil {
				if len(v) != dims {
					t.Fatalf("%s: vector %d has %d dims, want %d", body, i, len(v), dims)
				}
				continue
			}
			var b64 string
			if err := json.Unmarshal(d.Embedding, &b64); err != nil {
				t.Fatalf("%s: embedding %s is neither floats nor base64", body, d.Embedding)
			}
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(raw) != 4*dims {
				t.Fatalf("%s: base64 embedding %q: %d bytes, %v", body, b64, len(raw), err)
			}
		}
		return l
	}
	f(`{"model":"mock-embedding","input":"hello"}`, 1, 8)
	f(`{"model":"mock-embedding","input":[1,2,3]}`, 1, 8)
	f(`{"model":"mock-embedding","input":["a","b","c"]}`, 3, 8)
	f(`{"model":"mock-embedding","input":[[1,2],[3]],"dimensions":16}`, 2, 16)

	// Base64 carries the same little-endian float32s as the float form.
	floats := f(`{"model":"mock-embedding","input":["a","b"]}`, 2, 8)
	packed := f(`{"model":"mock-embedding","input":["a","b"],"encoding_format":"base64"}`, 2, 8)
	for i := range floats.Data {
		var v []float32
		var b64 string
		_ = json.Unmarshal(floats.Data[i].Embedding, &v)
		_ = json.Unmarshal(packed.Data[i].Embedding, &b64)
		raw, _ := base64.StdEncoding.DecodeString(b64)
		for j := range v {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])); got != v[j] {
				t.Fatalf("vector %d[%d]: base64 %v, float %v", i, j, got, v[j])
			}
		}
	}

	for _, body := range []string{
		`{"model":"mock-embedding"}`,
		`{"model":"mock-embedding","input":[]}`,
		`{"model":"mock-embedding","input":42}`,
		`{"model":"mock-embedding","input":"x","encoding_format":"int8"}`,
		`{"model":"mock-embedding","input":"x","dimensions":100000}`,
	} {
		wantError(t, do(t, s, fasthttp.MethodPost, "/v1/embeddings", body), fasthttp.StatusBadRequest)
	}
}

func TestModels(t *testing.T) {
	s := startMock(t, mock.Options{})
	r := do(t, s, fasthttp.MethodGet, "/v1/models", "")
	var l struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 {
		t.Fatalf("status %d body %s: %v", r.status, r.body, err)
	}
	var ids []string
	for _, m := range l.Data {
		if m.Object != "model" || m.OwnedBy == "" {
			t.Fatalf("model entry %+v", m)
		}
		ids = append(ids, m.ID)
	}
	if l.Object != "list" || strings.Join(ids, ",") != strings.Join(mock.Models, ",") {
		t.Fatalf("object %q ids %v, want %v", l.Object, ids, mock.Models)
	}
}
