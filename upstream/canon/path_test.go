package canon

import (
	"errors"
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
