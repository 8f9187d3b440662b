package proxy

import (
	"strings"
	"testing"

	"switchboard/bench/mock"
)

func TestAttributionIsRecordedInTheEntry(t *testing.T) {
	g := startAnthropicGateway(t, "")
	secret := billingTestKey(t, g, "team", 100*1e9, nil)
	f := func(name string, r result, user, session, tags string) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", name, r.status, r.body)
		}
		e := entryOf(t, g, r)
		if e.User != user || e.Session != session || e.Tags != tags || e.Attempts != 1 || e.FallbackReason != "" {
			t.Errorf("%s: user %q session %q tags %q attempts %d fallback %q; want %q %q %q 1 \"\"",
				name, e.User, e.Session, e.Tags, e.Attempts, e.FallbackReason, user, session, tags)
		}
	}
	auth := bearer(secret)
	f("headers", g.post(t, "/v1/chat/completions", chat("mock-model", `,"user":"bob"`), append(auth,
		"x-switchboard-user", "alice", "X-Claude-Code-Session-Id", "cc-1", "x-switchboard-tags", " team-a, nightly,team-a")...),
		"alice", "cc-1", "team-a,nightly")
	f("body user", g.post(t, "/v1/chat/completions", chat("mock-model", `,"user":"bob"`), append(auth, "session_id", "codex-7")...),
		"bob", "codex-7", "")
	f("own session header first", g.post(t, "/v1/chat/completions", chat("mock-model", ""), append(auth,
		"x-switchboard-session", "mine", "X-Claude-Code-Session-Id", "cc-1")...), "", "mine", "")
	f("long body user is cut", g.post(t, "/v1/chat/completions", chat("mock-model", `,"user":"`+strings.Repeat("é", 100)+`"`), auth...),
		strings.Repeat("é", 64), "", "")
	f("bad CLI session header is skipped", g.post(t, "/v1/chat/completions", chat("mock-model", ""), append(auth,
		"session_id", strings.Repeat("s", 200), "X-Claude-Code-Session-Id", "cc-2")...), "", "cc-2", "")
	f("anthropic metadata.user_id", g.post(t, "/v1/messages", messagesBody("anth/claude-mock", `,"metadata":{"user_id":"user-42"}`),
		append(anthropicHeaders(secret), "x-switchboard-tags", "ci")...), "user-42", "", "ci")
	f("user in a streamed call", g.post(t, "/v1/chat/completions", chat("mock-model", `,"stream":true,"user":"carol"`), auth...),
		"carol", "", "")
}

func TestBadAttributionHeaderIs400BeforeUpstream(t *testing.T) {
	g := startAnthropicGateway(t, "")
	before := g.Mock.Requests()
	for _, c := range []struct {
		name, header, value, want string
	}{
		{"long user", "x-switchboard-user", strings.Repeat("u", 129), "x-switchboard-user: want 1 to 128 bytes of printable ASCII"},
		{"non-ASCII user", "x-switchboard-user", "zoë", "x-switchboard-user: want 1 to 128 bytes"},
		{"long session", "x-switchboard-session", strings.Repeat("s", 129), "x-switchboard-session: want 1 to 128 bytes"},
		{"bad tag character", "x-switchboard-tags", "team a", `x-switchboard-tags: want tags of 1 to 64 characters from A-Z a-z 0-9 . _ : / -`},
		{"long tag", "x-switchboard-tags", strings.Repeat("t", 65), "x-switchboard-tags: want tags of 1 to 64"},
		{"empty tag", "x-switchboard-tags", "a,,b", "x-switchboard-tags: want tags"},
		{"nine tags", "x-switchboard-tags", "a,b,c,d,e,f,g,h,i", "x-switchboard-tags: want at most 8 comma-separated tags"},
	} {
		r := g.post(t, "/v1/chat/completions", chat("mock-model", ""), "Authorization", "Bearer "+testKey, c.header, c.value)
		if r.status != 400 || !strings.Contains(r.body, c.want) || !strings.Contains(r.body, `"error":{"message":`) {
			t.Errorf("%s: %d %s; want 400 with %q", c.name, r.status, r.body, c.want)
		}
	}
	// In the client's own error shape.
	r := g.post(t, "/v1/messages", messagesBody("anth/claude-mock", ""), append(anthropicHeaders(testKey), "x-switchboard-tags", "a b")...)
	if r.status != 400 || !strings.HasPrefix(r.body, `{"type":"error","error":{"type":"invalid_request_error"`) || !strings.Contains(r.body, "x-switchboard-tags") {
		t.Errorf("anthropic: %d %s", r.status, r.body)
	}
	if n := g.Mock.Requests() - before; n != 0 {
		t.Errorf("the mock got %d requests", n)
	}
}

func TestFallbackIsRecordedInTheEntry(t *testing.T) {
	g := startGateway(t, mock.Options{}, failoverYAML)
	r := g.post(t, "/v1/chat/completions", chat("after-500", ""))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	e := entryOf(t, g, r)
	if e.Attempts != 2 || e.FallbackReason != "mock/mock-model+status=500 (500)" {
		t.Errorf("attempts %d, fallback %q", e.Attempts, e.FallbackReason)
	}
}
