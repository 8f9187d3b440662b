package compress

import "testing"

func TestMinifyJSON(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		var c compressor
		got, ok := c.minifyJSON(in)
		if !ok {
			got = in
		}
		if got != want {
			t.Errorf("minifyJSON(%q) = %q, want %q", in, got, want)
		}
	}
	// Key order, numbers and strings byte for byte.
	f("{\n  \"z\": 1,\n  \"a\": [1.0, 2e10, -0, 12345678901234567890123],\n  \"s\": \"x  y\\n\\u00e9\\\"\"\n}\n",
		`{"z":1,"a":[1.0,2e10,-0,12345678901234567890123],"s":"x  y\n\u00e9\""}`)
	f("[\n  {\"id\": \"a\"},\n  {\"id\": \"b\"}\n]", `[{"id":"a"},{"id":"b"}]`)
	f("  \n {\"html\": \"<b>&</b>\"}  ", `{"html":"<b>&</b>"}`)
	// Not JSON, or not only JSON: untouched.
	f("{\n  \"a\": 1,\n}", "{\n  \"a\": 1,\n}")
	f("{\"a\": 1}\nand some text", "{\"a\": 1}\nand some text")
	f("npm WARN {\n  \"a\": 1\n}", "npm WARN {\n  \"a\": 1\n}")
	f("123", "123")
	f(`"a string"`, `"a string"`)
	f(`{"compact":true}`, `{"compact":true}`)
	f("", "")
}
