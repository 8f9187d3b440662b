package main

import (
	"fmt"
	"strconv"
	"strings"
)

// jsValue is one value of a JavaScript object literal: map[string]any,
// []any, string, jsNumber or bool.
type jsValue = any

// jsNumber is a number literal's text as written ("0.075", "2e5"), so
// that prices are read exactly, never through a float.
type jsNumber string

// parseJSLiteral parses the array or object literal that src holds after
// an optional `const NAME = ` as a minifier writes it: identifier or
// quoted keys, "…", '…' and `…` strings (without ${}), number literals,
// !0 and !1 for true and false, null.
func parseJSLiteral(src string) (jsValue, error) {
	p := &jsParser{s: src}
	if strings.HasPrefix(p.s, "const ") {
		i := strings.Index(p.s, "=")
		if i < 0 {
			return nil, fmt.Errorf("want const NAME = literal")
		}
		p.i = i + 1
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.i != len(p.s) {
		return nil, p.errorf("trailing text")
	}
	return v, nil
}

type jsParser struct {
	s string
	i int
}

func (p *jsParser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.s[:p.i], "\n")
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
}

func (p *jsParser) skip() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			p.i++
		case strings.HasPrefix(p.s[p.i:], "/*"):
			end := strings.Index(p.s[p.i+2:], "*/")
			if end < 0 {
				p.i = len(p.s)
				return
			}
			p.i += end + 4
		default:
			return
		}
	}
}

func (p *jsParser) value() (jsValue, error) {
	p.skip()
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"' || c == '\'' || c == '`':
		return p.str()
	case c == '!':
		if strings.HasPrefix(p.s[p.i:], "!0") {
			p.i += 2
			return true, nil
		}
		if strings.HasPrefix(p.s[p.i:], "!1") {
			p.i += 2
			return false, nil
		}
	case c == '-' || c == '.' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.s) && strings.IndexByte("0123456789.eE+-", p.s[j]) >= 0 {
			j++
		}
		n := p.s[p.i:j]
		p.i = j
		return jsNumber(n), nil
	default:
		for _, w := range [...]struct {
			lit string
			v   jsValue
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if strings.HasPrefix(p.s[p.i:], w.lit) {
				p.i += len(w.lit)
				return w.v, nil
			}
		}
	}
	return nil, p.errorf("unexpected %q", p.s[p.i:min(p.i+20, len(p.s))])
}

func (p *jsParser) object() (jsValue, error) {
	p.i++ // {
	m := map[string]any{}
	for {
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return m, nil
		}
		var key string
		if c := p.s[p.i]; c == '"' || c == '\'' || c == '`' {
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			key = k.(string)
		} else {
			j := p.i
			for j < len(p.s) && (p.s[j] == '_' || p.s[j] == '$' || p.s[j] >= 'a' && p.s[j] <= 'z' || p.s[j] >= 'A' && p.s[j] <= 'Z' || p.s[j] >= '0' && p.s[j] <= '9') {
				j++
			}
			if j == p.i {
				return nil, p.errorf("want a key")
			}
			key, p.i = p.s[p.i:j], j
		}
		if p.skip(); p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("want ':' after key %q", key)
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			return nil, p.errorf("key %q twice", key)
		}
		m[key] = v
		if p.skip(); p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
		}
	}
}

func (p *jsParser) array() (jsValue, error) {
	p.i++ // [
	var a []any
	for {
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return a, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if p.skip(); p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
		}
	}
}

// str reads a quoted string. Escapes are JavaScript's, which for the
// ones a minifier writes (\n, \", \\, \uXXXX) are Go's too; a template
// string has no escapes but \` and \\ here.
func (p *jsParser) str() (jsValue, error) {
	q := p.s[p.i]
	j := p.i + 1
	for j < len(p.s) && p.s[j] != q {
		if p.s[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(p.s) {
		return nil, p.errorf("unterminated string")
	}
	raw := p.s[p.i+1 : j]
	p.i = j + 1
	if q == '`' {
		if strings.Contains(raw, "${") {
			return nil, p.errorf("template string with ${}")
		}
		return strings.NewReplacer("\\`", "`", "\\\\", "\\").Replace(raw), nil
	}
	if q == '\'' {
		raw = strings.ReplaceAll(strings.ReplaceAll(raw, `\'`, `'`), `"`, `\"`)
	}
	s, err := strconv.Unquote(`"` + raw + `"`)
	if err != nil {
		return nil, p.errorf("bad string %q: %v", raw, err)
	}
	return s, nil
}
