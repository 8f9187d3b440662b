package canon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"switchboard/upstream/anthropic"
	"switchboard/upstream/canon"
	"switchboard/upstream/openai"
)

// The fuzz targets feed each decoder arbitrary input: it must not panic,
// and whatever it accepts must encode, in either format, to valid JSON
// or to a *canon.FieldError. The golden inputs seed them.

// addSeeds adds the inputs of the golden files whose source is from.
func addSeeds(f *testing.F, from string) {
	files, _ := filepath.Glob("testdata/translate/" + from + "-to-*")
	for _, path := range files {
		f.Add([]byte(readCase(f, path).input))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
}

func checkEncoded(t *testing.T, what string, out []byte, err error) {
	t.Helper()
	if err != nil {
		var fe *canon.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: want a field error, got %T %v", what, err, err)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("%s: not JSON: %s", what, out)
	}
}

func fuzzRequest(f *testing.F, from string, decode func([]byte, *canon.Request) error) {
	addSeeds(f, from+"-request")
	f.Fuzz(func(t *testing.T, body []byte) {
		var r canon.Request
		if decode(body, &r) != nil {
			return
		}
		out, err := openai.EncodeRequest(nil, &r, openai.EncodeOptions{ReasoningContent: true, CacheControl: true, TopK: true})
		checkEncoded(t, "openai", out, err)
		out, err = anthropic.EncodeRequest(nil, &r, anthropic.EncodeOptions{DefaultMaxTokens: 4096, SystemMessages: true})
		checkEncoded(t, "anthropic", out, err)
	})
}

func FuzzOpenAIRequest(f *testing.F)    { fuzzRequest(f, "openai", openai.DecodeRequest) }
func FuzzAnthropicRequest(f *testing.F) { fuzzRequest(f, "anthropic", anthropic.DecodeRequest) }

func fuzzResponse(f *testing.F, from string, decode func([]byte, *canon.Response) error) {
	addSeeds(f, from+"-response")
	f.Fuzz(func(t *testing.T, body []byte) {
		var r canon.Response
		if decode(body, &r) != nil {
			return
		}
		checkEncoded(t, "openai", openai.EncodeResponse(nil, &r), nil)
		out, err := anthropic.EncodeResponse(nil, &r)
		checkEncoded(t, "anthropic", out, err)
	})
}

func FuzzOpenAIResponse(f *testing.F)    { fuzzResponse(f, "openai", openai.DecodeResponse) }
func FuzzAnthropicResponse(f *testing.F) { fuzzResponse(f, "anthropic", anthropic.DecodeResponse) }

// fuzzStream feeds the data lines of the input to a decoder and every
// event to both encoders; each "data:" line they write must hold JSON
// (or [DONE]).
func fuzzStream(f *testing.F, from string, newDecoder func() streamDecoder) {
	addSeeds(f, from+"-stream")
	f.Fuzz(func(t *testing.T, in []byte) {
		d := newDecoder()
		encoders := []streamEncoder{&openai.StreamEncoder{IncludeUsage: true, Created: 1}, &anthropic.StreamEncoder{}}
		outs := make([][]byte, len(encoders))
		var evs []canon.Event
		feed := func() {
			for i := range evs {
				for k, e := range encoders {
					outs[k], _ = e.Append(outs[k], &evs[i])
				}
			}
		}
		for _, p := range dataPayloads(in) {
			var err error
			evs, err = d.Decode(evs[:0], p)
			feed()
			if err != nil {
				return
			}
		}
		evs, _ = d.End(evs[:0])
		feed()
		for _, out := range outs {
			for _, l := range bytes.Split(out, []byte("\n")) {
				if data, ok := bytes.CutPrefix(l, []byte("data: ")); ok && string(data) != "[DONE]" && !json.Valid(data) {
					t.Fatalf("not JSON: %s\nin stream:\n%s", data, out)
				}
			}
		}
	})
}

func FuzzOpenAIStream(f *testing.F) {
	fuzzStream(f, "openai", func() streamDecoder { return &openai.StreamDecoder{} })
}

func FuzzAnthropicStream(f *testing.F) {
	fuzzStream(f, "anthropic", func() streamDecoder { return &anthropic.StreamDecoder{} })
}
