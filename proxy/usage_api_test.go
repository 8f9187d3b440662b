package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/bytedance/sonic"
)

// usageRows decodes a grouped usage answer.
func usageRows(t *testing.T, r result) []map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("usage: %d %s", r.status, r.body)
	}
	var out struct {
		Object string           `json:"object"`
		Data   []map[string]any `json:"data"`
	}
	if err := sonic.UnmarshalString(r.body, &out); err != nil || out.Object != "list" {
		t.Fatalf("usage answer %s: %v", r.body, err)
	}
	return out.Data
}

func TestUsageGroupsThroughTheAPI(t *testing.T) {
	g := startBillingGateway(t)
	g.topUp(t, "team-a", "10")
	keyA, secretA := g.newKey(t, `{"account":"team-a"}`)
	_, secretB := g.newKey(t, `{"account":"team-a"}`)
	call := func(secret, user, tags string) {
		t.Helper()
		h := append(bearer(secret), "x-switchboard-user", user)
		if tags != "" {
			h = append(h, "x-switchboard-tags", tags)
		}
		if r := g.post(t, "/v1/chat/completions", chat("mock-model", ""), h...); r.status != 200 {
			t.Fatalf("chat: %d %s", r.status, r.body)
		}
	}
	call(secretA, "alice", "team-a,nightly")
	call(secretA, "alice", "team-a")
	call(secretB, "bob", "")
	g.flush(t)

	rows := usageRows(t, g.admin(t, "GET", "/usage?group_by=user&bucket=day", ""))
	day := time.Now().UTC().Format("2006-01-02") + "T00:00:00Z"
	if len(rows) != 2 || rows[0]["user"] != "alice" || rows[0]["requests"] != float64(2) || rows[0]["bucket"] != day ||
		rows[1]["user"] != "bob" || rows[1]["requests"] != float64(1) {
		t.Fatalf("by user and day: %v", rows)
	}
	if _, ok := rows[0]["model"]; ok {
		t.Errorf("a field not grouped by is present: %v", rows[0])
	}
	if c, _ := rows[0]["cost"].(string); !strings.HasPrefix(c, "0.0000") {
		t.Errorf("cost %v: want exact decimal dollars as a string", rows[0]["cost"])
	}
	tags := map[string]float64{}
	for _, r := range usageRows(t, g.admin(t, "GET", "/usage?group_by=tag", "")) {
		tags[r["tag"].(string)] = r["requests"].(float64)
	}
	if tags["team-a"] != 2 || tags["nightly"] != 1 || tags[""] != 1 || len(tags) != 3 {
		t.Errorf("by tag: %v", tags)
	}
	if rows := usageRows(t, g.admin(t, "GET", "/usage?key="+keyA, "")); len(rows) != 1 || rows[0]["requests"] != float64(2) {
		t.Errorf("one key's total: %v", rows)
	}
	// A key holder's own usage, grouped: only its calls.
	rows = usageRows(t, g.as(t, secretB, "GET", "/api/v1/usage?group_by=model,user", ""))
	if len(rows) != 1 || rows[0]["user"] != "bob" || rows[0]["model"] != "mock-model" || rows[0]["requests"] != float64(1) {
		t.Errorf("key's own usage: %v", rows)
	}
	if r := g.as(t, secretB, "GET", "/api/v1/usage", ""); r.status != 200 || !strings.Contains(r.body, `"next_cursor":null`) {
		t.Errorf("ungrouped usage is the entry listing: %d %s", r.status, r.body)
	}
	future := time.Now().Add(time.Hour).UTC()
	if rows := usageRows(t, g.admin(t, "GET", "/usage?bucket=hour&from="+future.Format(time.RFC3339)+"&to="+future.Add(time.Hour).Format(time.RFC3339), "")); len(rows) != 0 {
		t.Errorf("empty range: %v", rows)
	}
	for q, want := range map[string]string{
		"group_by=model,team": "group_by: unknown dimension \\\"team\\\"",
		"bucket=week":         "bucket: want hour or day",
		"from=yesterday":      "from: want an RFC 3339 time",
		"from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z": "from: want a time before to",
	} {
		if r := g.admin(t, "GET", "/usage?"+q, ""); r.status != 400 || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d %s; want 400 with %s", q, r.status, r.body, want)
		}
	}
}

func TestRequestLogThroughTheAPI(t *testing.T) {
	g := startBillingGateway(t)
	g.topUp(t, "team-a", "10")
	g.topUp(t, "team-b", "10")
	_, secretA := g.newKey(t, `{"account":"team-a"}`)
	_, secretB := g.newKey(t, `{"account":"team-b"}`)
	var ids []string
	for i, secret := range []string{secretA, secretB, secretA} {
		r := g.post(t, "/v1/chat/completions", chat("mock-model", ""), append(bearer(secret), "x-switchboard-session", "s"+string(rune('0'+i%2)), "x-switchboard-tags", "ci")...)
		if r.status != 200 {
			t.Fatalf("chat: %d %s", r.status, r.body)
		}
		ids = append(ids, r.header["x-request-id"])
	}
	g.flush(t)
	var got []string
	cursor := ""
	for pages := 0; pages < 5; pages++ {
		r := g.admin(t, "GET", "/requests?limit=2&cursor="+cursor, "")
		if r.status != 200 || stringAt(t, r.body, "object") != "list" {
			t.Fatalf("requests: %d %s", r.status, r.body)
		}
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			Next *string `json:"next_cursor"`
		}
		if err := sonic.UnmarshalString(r.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Data {
			got = append(got, e.ID)
		}
		if page.Next == nil {
			break
		}
		cursor = *page.Next
	}
	if want := ids[2] + " " + ids[1] + " " + ids[0]; strings.Join(got, " ") != want {
		t.Errorf("request log %v, want newest first %s", got, want)
	}
	r := g.admin(t, "GET", "/requests?session=s0&status=200&cache_hit=false&provider=mock&model=mock-model", "")
	if n := strings.Count(r.body, `"id":"req_`); r.status != 200 || n != 2 {
		t.Errorf("filtered: %d entries: %s", n, r.body)
	}
	r = g.admin(t, "GET", "/requests/"+ids[1], "")
	for field, want := range map[string]string{
		"id": `"` + ids[1] + `"`, "account": `"team-b"`, "session": `"s1"`, "user": "null", "tags": `["ci"]`,
		"attempts": "1", "fallback_reason": "null", "provider_name": `"mock"`, "upstream_model": `"mock-model"`, "cache_hit": "false",
	} {
		if got := rawAt(t, r.body, "data", field); got != want {
			t.Errorf("request %s = %s, want %s", field, got, want)
		}
	}
	if r := g.admin(t, "GET", "/requests/req_nosuch", ""); r.status != 404 {
		t.Errorf("unknown request: %d %s", r.status, r.body)
	}
	for q, want := range map[string]string{
		"limit=501":     "limit: want an integer from 1 to 500",
		"status=abc":    "status: want an HTTP status",
		"cache_hit=yes": "cache_hit: want true or false",
		"cursor=!!":     "cursor",
	} {
		if r := g.admin(t, "GET", "/requests?"+q, ""); r.status != 400 || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d %s; want 400 with %s", q, r.status, r.body, want)
		}
	}
}
