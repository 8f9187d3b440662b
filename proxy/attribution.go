package proxy

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"
	"github.com/valyala/fasthttp"
)

// Attribution: who and what a call is for, recorded in its ledger entry
// so that usage groups by them. The user is the x-switchboard-user
// header, else the body's end-user field (OpenAI's "user", Anthropic's
// metadata.user_id; the format row's userPath); the session is the
// first of sessionHeaders (sticky.go) the call carries, Switchboard's own
// first; the tags are x-switchboard-tags, a comma-separated list.
//
// The gateway's own headers are checked before anything goes upstream
// (checkAttribution, without allocating): a bad one is a 400 naming the
// header and the rule. The coding CLIs' session headers are not the
// caller's to fix, so one that breaks the rule is skipped instead, and a
// body's user longer than maxUserBytes is cut. Everything is read and
// copied only at settle (attribution), off the pre-upstream path.

const (
	headerUser = "x-switchboard-user"
	headerTags = "x-switchboard-tags"

	maxUserBytes    = 128
	maxSessionBytes = 128
	maxTagBytes     = 64
	maxTags         = 8
)

// checkAttribution checks the x-switchboard-user, x-switchboard-session
// and x-switchboard-tags headers of a request. Errors wrap errBadRequest.
func checkAttribution(h *fasthttp.RequestHeader) error {
	if v := h.Peek(headerUser); v != nil && !printable(v, maxUserBytes) {
		return fmt.Errorf("%w: %s: want 1 to %d bytes of printable ASCII, got %d bytes", errBadRequest, headerUser, maxUserBytes, len(v))
	}
	if v := h.Peek(sessionHeaders[0]); v != nil && !printable(v, maxSessionBytes) {
		return fmt.Errorf("%w: %s: want 1 to %d bytes of printable ASCII, got %d bytes", errBadRequest, sessionHeaders[0], maxSessionBytes, len(v))
	}
	v := h.Peek(headerTags)
	if v == nil {
		return nil
	}
	n := 0
	for len(v) > 0 {
		tag := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tag, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tag = bytes.TrimSpace(tag)
		if n++; n > maxTags {
			return fmt.Errorf("%w: %s: want at most %d comma-separated tags", errBadRequest, headerTags, maxTags)
		}
		if !tagText(tag) {
			return fmt.Errorf("%w: %s: want tags of 1 to %d characters from A-Z a-z 0-9 . _ : / -, separated by commas, got %.80q", errBadRequest, headerTags, maxTagBytes, tag)
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: %s: want 1 to %d comma-separated tags, got none", errBadRequest, headerTags, maxTags)
	}
	return nil
}

// attribution returns the call's user, session and tags (comma-joined,
// without spaces or repeats) as new strings, for its ledger entry. Its
// headers passed checkAttribution.
func (c *call) attribution() (user, session, tags string) {
	h := &c.ctx.Request.Header
	if v := h.Peek(headerUser); len(v) > 0 {
		user = string(v)
	} else if path := c.format.userPath; path != nil {
		body := c.ctx.PostBody()
		if n, err := sonic.GetFromString(unsafe.String(unsafe.SliceData(body), len(body)), path...); err == nil {
			if s, err := n.String(); err == nil && n.TypeSafe() == ast.V_STRING {
				user = strings.Clone(cutUTF8(s, maxUserBytes))
			}
		}
	}
	for _, name := range sessionHeaders {
		if v := h.Peek(name); len(v) > 0 && printable(v, maxSessionBytes) {
			session = string(v)
			break
		}
	}
	if v := h.Peek(headerTags); len(v) > 0 {
		var b strings.Builder
		for tag := range strings.SplitSeq(string(v), ",") {
			tag = strings.TrimSpace(tag)
			if tag == "" || strings.Contains(","+b.String()+",", ","+tag+",") {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(tag)
		}
		tags = b.String()
	}
	return user, session, tags
}

// printable reports whether v is 1 to limit bytes of printable ASCII.
func printable(v []byte, limit int) bool {
	if len(v) == 0 || len(v) > limit {
		return false
	}
	for _, b := range v {
		if b < 0x20 || b > 0x7e {
			return false
		}
	}
	return true
}

// tagText reports whether tag is 1 to maxTagBytes of [A-Za-z0-9._:/-].
func tagText(tag []byte) bool {
	if len(tag) == 0 || len(tag) > maxTagBytes {
		return false
	}
	for _, b := range tag {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9',
			b == '.', b == '_', b == ':', b == '/', b == '-':
		default:
			return false
		}
	}
	return true
}

// cutUTF8 returns s cut to at most limit bytes, at a character boundary.
func cutUTF8(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit]
}
