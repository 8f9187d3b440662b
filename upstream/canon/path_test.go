package canon

import (
	"errors"
	"strings"
	"testing"
)

// TestUnknownNestedFieldsAreNamedByPath: a strict decode names an unknown
// field by its whole path, also deep in arrays, whatever its value.
func TestUnknownNestedFieldsAreNamedByPath(t *testing.T) {
	type tool struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	type req struct {
		Text struct {
			Format string `json:"format"`
		} `json:"text"`
		Tools []tool `json:"tools"`
	}
	for _, c := range []struct{ body, at, want string }{
		{`{"text":{"format":"x"},"tools":[{"type":"a"},{"type":"c","format":"zz"}]}`, "", "tools[1].format"},
		{`{"tools":[{"type":"a"},{"type":"c","format":{"t":[1,2,{"u":"]"}]}}]}`, "", "tools[1].format"},
		{`{"tools":[{"type":"a","x\"y":[[1],[2]]}]}`, "", `tools[0].x"y`},
		{` { "text" : { "format" : "x" , "extra" : [ "a" , "b" ] } }`, "", "text.extra"},
		{`{"frobnicate":1}`, "", "frobnicate"},
		{`[{"type":"a"},{"name":"n","oops":true}]`, "tools", "tools[1].oops"},
	} {
		var err error
		if c.at == "" {
			var r req
			err = DecodeStrict([]byte(c.body), &r, "")
		} else {
			var ts []tool
			err = DecodeStrict([]byte(c.body), &ts, c.at)
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.want {
			t.Errorf("%s: got %v, want a field error on %s", c.body, err, c.want)
		}
	}
}

// TestTypeAndSyntaxErrorsNameTheField: a value of the wrong type is
// named by its path and said in JSON's terms, with no Go type in the
// message; a syntax error says where, once.
func TestTypeAndSyntaxErrorsNameTheField(t *testing.T) {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type req struct {
		MaxTokens int64     `json:"max_tokens"`
		Stream    bool      `json:"stream"`
		Messages  []message `json:"messages"`
	}
	for _, c := range []struct{ body, field, reason string }{
		{`{"max_tokens":"sixty"}`, "max_tokens", `want a whole number, got the string "sixty"`},
		{`{"messages":"hi"}`, "messages", `want a list, got the string "hi"`},
		{`{"messages":[{"role":"user","content":"a"},{"role":7}]}`, "messages[1].role", "want a string, got the number 7"},
		{`{"stream":"yes"}`, "stream", `want true or false, got the string "yes"`},
		{`{"messages":[{"content":{"text":"a"}}]}`, "messages[0].content", "want a string, got an object"},
		{"{\n  \"messages\": [1,\n}", "body", "invalid JSON at line 3, column 1"},
	} {
		var r req
		err := DecodeStrict([]byte(c.body), &r, "")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.HasPrefix(fe.Reason, c.reason) {
			t.Errorf("%s: got %v, want %s: %s", c.body, err, c.field, c.reason)
			continue
		}
		if strings.Contains(fe.Reason, "message") || strings.Contains(fe.Reason, "int64") || strings.Contains(fe.Reason, "\n") {
			t.Errorf("%s: %q names a Go type or spans lines", c.body, fe.Reason)
		}
	}
}
