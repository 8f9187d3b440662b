package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"switchboard/upstream/canon"
)

func TestParseFields(t *testing.T) {
	f := func(body, model string, stream, wantsUsage bool, edited string) {
		t.Helper()
		var rf requestFields
		b := []byte(body)
		if err := parseFields(b, &rf, true); err != nil {
			t.Fatalf("parseFields(%s): %v", body, err)
		}
		if rf.model != model || rf.stream != stream || rf.wantsUsage != wantsUsage {
			t.Fatalf("parseFields(%s) = model %q stream %v wantsUsage %v", body, rf.model, rf.stream, rf.wantsUsage)
		}
		if got := body[rf.modelSpan.start:rf.modelSpan.end]; !strings.HasPrefix(got, `"`) || !strings.HasSuffix(got, `"`) {
			t.Fatalf("model span %q is not the raw string", got)
		}
		var out []byte
		if rf.usageEdit.text != "" {
			out = appendEdited(nil, b, rf.usageEdit)
		} else {
			out = appendEdited(nil, b)
		}
		if string(out) != edited {
			t.Fatalf("edited body\n got %s\nwant %s", out, edited)
		}
		if string(b) != body {
			t.Fatalf("parseFields changed the body: %s", b)
		}
	}
	f(`{"model":"a"}`, "a", false, false, `{"model":"a"}`)
	f(` { "model" : "g\u00e9" , "stream" : false }`, "gé", false, false, ` { "model" : "g\u00e9" , "stream" : false }`)
	f(`{"stream":true,"model":"a"}`, "a", true, false, `{"stream_options":{"include_usage":true},"stream":true,"model":"a"}`)
	f(`{"model":"a","stream":true,"stream_options":null}`, "a", true, false, `{"model":"a","stream":true,"stream_options":{"include_usage":true}}`)
	f(`{"model":"a","stream":true,"stream_options":{ }}`, "a", true, false, `{"model":"a","stream":true,"stream_options":{"include_usage":true }}`)
	f(`{"model":"a","stream":true,"stream_options":{"include_usage":null}}`, "a", true, false, `{"model":"a","stream":true,"stream_options":{"include_usage":true}}`)
	f(`{"model":"a","stream":true,"stream_options":{"include_usage":true}}`, "a", true, true, `{"model":"a","stream":true,"stream_options":{"include_usage":true}}`)
	f(`{"model":"a","stream":null}`, "a", false, false, `{"model":"a","stream":null}`)
	// Keys named "model" inside values are not the model.
	f(`{"messages":[{"model":"x"}],"meta":{"model":"y"},"model":"a"}`, "a", false, false, `{"messages":[{"model":"x"}],"meta":{"model":"y"},"model":"a"}`)
}

func TestParseFieldsErrors(t *testing.T) {
	f := func(body, want string) {
		t.Helper()
		var rf requestFields
		err := parseFields([]byte(body), &rf, true)
		if !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), want) {
			t.Fatalf("parseFields(%s) = %v, want bad request containing %q", body, err, want)
		}
	}
	f(``, "JSON object")
	f(`[]`, "JSON object")
	f(`{}`, "model is required")
	f(`{"model":1}`, "model must be a string")
	f(`{"model":"a","model":"b"}`, "model is given twice")
	f(`{"model":"a", "x":[1,2], "model":"b"}`, "model is given twice")
	f(`{"model":"a","stream":1}`, "stream must be a boolean")
	f(`{"model":"a","stream":true,"stream_options":[]}`, "stream_options must be an object")
	f(`{"model":"a","stream":true,"stream_options":{"include_usage":"yes"}}`, "include_usage must be a boolean")
	f(`{"model":`, "invalid JSON")
	f(`{"x":tru, "model":"a"}`, "invalid JSON")
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "gpt-4o", `a"b\c`, "tab\there\x00\x1f", "ünïcode ✓"} {
		got := canon.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Fatalf("canon.AppendString(%q) = %s, decodes to %q (%v)", s, got, back, err)
		}
	}
}

// FuzzSplice checks that for any body the gateway accepts, the spliced
// body is valid JSON when the input was, and carries the new model and
// include_usage exactly once at the top level.
func FuzzSplice(f *testing.F) {
	for _, s := range []string{
		`{"model":"a"}`, `{"model":"a","stream":true}`, `{"stream":true,"stream_options":{"x":[1]},"model":"b"}`,
		`{"model":"a","stream":true,"stream_options":{"include_usage":false}}`, ` {"model" : "\"q\""} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := string(body)
		var rf requestFields
		if err := parseFields(body, &rf, true); err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if string(body) != orig {
			t.Fatalf("body changed")
		}
		model := string(canon.AppendString(nil, "new/model"))
		edits := []edit{{at: rf.modelSpan, text: model}}
		if rf.usageEdit.text != "" {
			edits = append(edits, rf.usageEdit)
			if edits[1].at.start < edits[0].at.start {
				edits[0], edits[1] = edits[1], edits[0]
			}
		}
		out := appendEdited(nil, body, edits...)
		if !json.Valid(body) {
			return
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("spliced body invalid: %v\n in %s\nout %s", err, body, out)
		}
		if string(doc["model"]) != model {
			t.Fatalf("model = %s in %s", doc["model"], out)
		}
		if rf.stream {
			var opts struct {
				IncludeUsage bool `json:"include_usage"`
			}
			if err := json.Unmarshal(doc["stream_options"], &opts); err != nil || !opts.IncludeUsage {
				t.Fatalf("stream_options = %s in %s", doc["stream_options"], out)
			}
		}
	})
}

// FuzzPresentExtensions: the one-pass scan finds an extension key exactly
// when a byte search for it would.
func FuzzPresentExtensions(f *testing.F) {
	f.Add([]byte(`{"model":"m","provider":{"order":["a"]},"models":["x"],"messages":[]}`))
	f.Add([]byte(`{"plugins":[{"id":"web"}],"web_results_count":3,"transforms":["middle-out"],"compression":true}`))
	f.Add([]byte(`{"fallback_models":[],"web_content_length":9,"x":"\"provider\""}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := presentExtensions(body)
		for k, key := range extensionKeys {
			if want := bytes.Contains(body, key); want != (got&(1<<k) != 0) {
				t.Fatalf("%s in %q: scan says %v, bytes.Contains %v", key, body, !want, want)
			}
		}
	})
}
