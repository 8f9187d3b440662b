package configs

import (
	"fmt"
	"strings"
)

// ModelPattern is a compiled entry of a provider's models list that
// contains '*': a glob such as "claude-*" or "gpt-*-codex" whose '*'
// matches any run of characters, '/' and ':' included. Its zero value
// matches nothing. Match does not allocate.
type ModelPattern struct {
	// parts are the literal runs between the '*'s: the first is a prefix,
	// the last a suffix, those between must follow in order.
	parts []string
}

// IsModelPattern reports whether a models entry is a pattern rather than
// a model id.
func IsModelPattern(s string) bool { return strings.Contains(s, "*") }

// ParseModelPattern compiles a models entry containing '*'. A pattern
// starts with a literal prefix (a bare "*" would take every model from
// the providers after it), has no "**", and none of the glob characters
// "?[]{}" that it does not support.
func ParseModelPattern(s string) (ModelPattern, error) {
	switch {
	case !IsModelPattern(s):
		return ModelPattern{}, fmt.Errorf("want a pattern with '*', got %q", s)
	case strings.HasPrefix(s, "*"):
		return ModelPattern{}, fmt.Errorf("want a pattern that starts with the model family, like \"claude-*\", got %q", s)
	case strings.Contains(s, "**"):
		return ModelPattern{}, fmt.Errorf("want one '*' per wildcard, got %q", s)
	case strings.ContainsAny(s, "?[]{}"):
		return ModelPattern{}, fmt.Errorf("want '*' as the only wildcard (no ?, [ ], { }), got %q", s)
	case !validModelName(s):
		return ModelPattern{}, fmt.Errorf("want a pattern without spaces, got %q", s)
	}
	return ModelPattern{parts: strings.Split(s, "*")}, nil
}

// Match reports whether model matches the pattern.
func (p ModelPattern) Match(model string) bool {
	n := len(p.parts)
	if n < 2 {
		return false
	}
	first, last := p.parts[0], p.parts[n-1]
	if len(model) < len(first)+len(last) || !strings.HasPrefix(model, first) || !strings.HasSuffix(model, last) {
		return false
	}
	mid := model[len(first) : len(model)-len(last)]
	for _, part := range p.parts[1 : n-1] {
		i := strings.Index(mid, part)
		if i < 0 {
			return false
		}
		mid = mid[i+len(part):]
	}
	return true
}

// String returns the pattern as written.
func (p ModelPattern) String() string { return strings.Join(p.parts, "*") }

// validModelName reports whether s has no spaces or control characters.
func validModelName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return s != ""
}
