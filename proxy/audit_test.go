package proxy

import (
	"strings"
	"testing"

	"github.com/bytedance/sonic"
)

// auditEntries reads the whole audit log, newest first.
func auditEntries(t *testing.T, g *gateway) []map[string]any {
	t.Helper()
	r := g.admin(t, "GET", "/audit?limit=500", "")
	if r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	var page struct {
		Data []map[string]any `json:"data"`
	}
	if err := sonic.UnmarshalString(r.body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Data
}

func TestEveryAdminActionLandsInTheAuditLog(t *testing.T) {
	g := startBillingGateway(t)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/accounts", `{"id":"team"}`},
		{"POST", "/accounts/team/topup", `{"amount":"10"}`},
		{"PUT", "/accounts/team/credits", `{"amount":"7"}`},
		{"PUT", "/accounts/team/plan", `{"plan":"pro"}`},
	} {
		if r := g.admin(t, c.method, c.path, c.body); r.status/100 != 2 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	id, secret := g.newKey(t, `{"account":"team","rpm":5}`)
	if r := g.admin(t, "PATCH", "/keys/"+id, `{"rpm":9}`); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := g.admin(t, "DELETE", "/keys/"+id, ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := g.admin(t, "PATCH", "/keys/"+id, `{"rpm":-1}`); r.status != 400 {
		t.Fatalf("bad patch: %d %s", r.status, r.body)
	}
	entries := auditEntries(t, g)
	var got []string
	for _, e := range entries {
		if e["principal"] != "master" {
			t.Errorf("principal %v", e["principal"])
		}
		got = append(got, e["action"].(string)+" "+e["target"].(string))
	}
	want := "keys.revoke " + id + ",keys.patch " + id + ",keys.create " + id +
		",accounts.plan team,accounts.credits team,accounts.topup team,accounts.create team"
	if strings.Join(got, ",") != want {
		t.Fatalf("audit log %v,\nwant %s", got, want)
	}
	patch := entries[1]
	if b, a := patch["before"].(map[string]any), patch["after"].(map[string]any); b["rpm"] != float64(5) || a["rpm"] != float64(9) {
		t.Errorf("patch before %v after %v", patch["before"], patch["after"])
	}
	if entries[2]["before"] != nil || entries[6]["before"] != nil {
		t.Errorf("a create has a before: %v %v", entries[2]["before"], entries[6]["before"])
	}
	topUp := entries[5]
	if topUp["before"].(map[string]any)["credits"] != float64(0) || topUp["after"].(map[string]any)["credits"] != float64(10) {
		t.Errorf("top-up before %v after %v", topUp["before"], topUp["after"])
	}
	r := g.admin(t, "GET", "/audit", "")
	if strings.Contains(r.body, secret) || strings.Contains(r.body, "hash") || strings.Contains(r.body, masterKey) {
		t.Errorf("the audit log shows a secret: %s", r.body)
	}
	if r := g.admin(t, "GET", "/audit?limit=2", ""); strings.Count(r.body, `"action"`) != 2 || rawAt(t, r.body, "next_cursor") == "null" {
		t.Errorf("page of 2: %s", r.body)
	}
	if r := g.admin(t, "GET", "/audit?limit=0", ""); r.status != 400 || !strings.Contains(r.body, "limit") {
		t.Errorf("limit 0: %d %s", r.status, r.body)
	}
}

func TestViewerKeyReadsOnly(t *testing.T) {
	g := startBillingGateway(t)
	g.topUp(t, "team", "5")
	viewer := func(method, path, body string) result {
		return g.do(t, method, "/api/v1/admin"+path, body, "x-api-key", viewerKey, "Authorization", "")
	}
	for _, path := range []string{"/keys", "/accounts", "/accounts/team", "/usage", "/requests", "/audit"} {
		if r := viewer("GET", path, ""); r.status != 200 {
			t.Errorf("viewer GET %s: %d %s", path, r.status, r.body)
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/keys", `{"account":"team"}`},
		{"POST", "/accounts/team/topup", `{"amount":"1"}`},
		{"PUT", "/accounts/team/plan", `{"plan":"pro"}`},
		{"DELETE", "/keys/sk-sb-nosuch", ""},
	} {
		r := viewer(c.method, c.path, c.body)
		if r.status != 403 || !strings.Contains(r.body, "auth.master_key") || !strings.Contains(r.body, `"code":"read_only_key"`) {
			t.Errorf("viewer %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := g.admin(t, "GET", "/accounts/team", ""); moneyAt(t, r.body, "data", "credits") != dollarsOf(t, "5") {
		t.Errorf("the viewer changed the account: %s", r.body)
	}
	if n := len(auditEntries(t, g)); n != 1 { // the top-up by the master key
		t.Errorf("%d audit entries, want 1", n)
	}
}
