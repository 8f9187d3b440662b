package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchboard/bench/mock"
)

const (
	consoleMasterKey = "sk-sb-console-master-key"
	consoleViewerKey = "sk-sb-console-viewer-key"
)

// browser is one headless Chromium tab on a gateway's console, with
// every step bounded by stepTimeout.
type browser struct {
	t     *testing.T
	ctx   context.Context
	url   string
	shots string
	loads int // pages loaded, which makes each URL new
}

const stepTimeout = 30 * time.Second

// newBrowser starts a headless Chromium with a fresh profile, 1280x800,
// on url; it is stopped when the test ends.
func newBrowser(t *testing.T, url string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the console test drives a real Chromium: install Debian's chromium (make test-deps does)")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, url: url, shots: t.ArtifactDir()}
	// The first run starts the browser: it takes the long-lived context,
	// and a watchdog bounds it instead.
	start := time.AfterFunc(time.Minute, cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	start.Stop()
	t.Logf("screenshots in %s", b.shots)

	// The page's errors fail the test: an exception, a message the
	// console logs as an error, a resource the CSP refused. An answer
	// the test asks to be a 4xx is logged by Chromium too, and is not one.
	var mu sync.Mutex
	var errs []string
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if (m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleError) && !strings.HasPrefix(m.Text, "Failed to load resource: the server responded with a status of 4") {
				mu.Lock()
				errs = append(errs, m.String()+" at "+m.URL)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		for _, e := range errs {
			t.Errorf("the page logged %s", e)
		}
	})
	return b
}

// do runs steps within stepTimeout; what failed is named by step.
func (b *browser) do(step string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page text: %q)", step, err, b.text("body"))
	}
}

// eval returns the value of a JavaScript expression (promises awaited).
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// text is the visible text of the first element matching the CSS
// selector sel, "" when there is none.
func (b *browser) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ""`, sel)))
	return s
}

// count is how many elements match the CSS selector sel.
func (b *browser) count(sel string) int {
	return eval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// waitText waits until the visible text of sel contains every one of
// want.
func (b *browser) waitText(sel string, want ...string) {
	b.t.Helper()
	js, _ := json.Marshal(want)
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(
		`(() => { const t = document.querySelector(%q)?.innerText ?? ""; return %s.every(w => t.includes(w)); })()`, sel, js),
		chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		b.t.Fatalf("waiting for %q in %s: %v; it reads %q", want, sel, err, b.text(sel))
	}
}

// page loads the console afresh on its hash route and waits until the
// page has rendered its data and its heading reads heading.
func (b *browser) page(route, heading string) {
	b.t.Helper()
	b.loads++
	b.do("open "+route, chromedp.Navigate(fmt.Sprintf("%s/ui/?load=%d#/%s", b.url, b.loads, route)))
	b.waitText("main .page[data-ready] h1", heading)
}

// shot saves a screenshot of the viewport as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// set sets the value of the form control sel as a person's edit does:
// the control then fires input and change.
func (b *browser) set(sel, value string) {
	b.t.Helper()
	eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, value))
}

// fetchStatus makes the page call the gateway with fetch and returns
// the answer's status: what a script on the console's page could do.
func (b *browser) fetchStatus(method, path, headers, body string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf(`fetch(%q, {method: %q, headers: %s, body: %s, credentials: "same-origin"}).then(r => r.status)`,
		path, method, headers, body))
}

// login logs in with key by keyboard alone: type it, press Enter.
func (b *browser) login(key string) {
	b.t.Helper()
	b.do("open the console", chromedp.Navigate(b.url+"/ui/"))
	b.waitText("main h1", "Log in")
	b.do("log in", chromedp.SendKeys(chromedp.CSS("#login-key"), key+"\r"))
	b.waitText("main h1", "Overview")
}

// TestConsoleInARealBrowser drives the console in headless Chromium the
// way an operator would, against a real gateway process in front of
// the mock: log in, make an account and a key, call the mock with the
// key, find the call in the request log, its page and the usage chart,
// revoke the key and see the next call refused, and find every change
// in the audit log under the console login; then the viewer, who sees
// no change controls and whose forced change is a 403, and a change
// without the CSRF token, also a 403. Every page is saved at 1280x800
// and at phone width.
func TestConsoleInARealBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and Chromium")
	}
	bin := switchboardBinary(t)
	m, err := mock.Start("127.0.0.1:0", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	dir := t.TempDir()
	config := filepath.Join(dir, "switchboard.yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %q
log: {access: false}
auth: {master_key: %s, viewer_key: %s}
billing:
  plans: [{name: pro, price: "25", period: monthly}]
  prices: {mock/mock-model: {input: "1", output: "2"}}
providers: [{name: mock, base_url: %q, api_key: sk-upstream, models: [mock-model]}]
`, filepath.Join(dir, "data"), consoleMasterKey, consoleViewerKey, m.URL()+"/v1")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startGateway(t, "gateway", exec.Command(bin, "-config", config))
	b := newBrowser(t, p.url)

	b.do("open the console", chromedp.Navigate(p.url+"/ui/"))
	b.waitText("main h1", "Log in")
	b.shot("login")
	b.do("log in with a wrong key", chromedp.SendKeys(chromedp.CSS("#login-key"), "sk-sb-wrong\r"))
	b.waitText("main [role=alert]", "not the master key")
	b.login(consoleMasterKey)
	b.waitText("header", "console:master")
	b.waitText("main .cards", "Spend today", "$0")
	b.waitText("main", "mock", "mock-model", "closed")
	if n := b.count("nav a[aria-current=page]"); n != 1 {
		t.Errorf("%d current nav links, want 1", n)
	}

	// An account with credits.
	b.page("accounts", "Accounts")
	b.do("create an account",
		chromedp.SendKeys(chromedp.CSS("form[aria-label='New account'] input"), "team"),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Create account"]`)))
	b.waitText("main p.status", "Created account team")
	b.waitText("main table", "team")
	b.do("open it", chromedp.Click(chromedp.Search(`//a[normalize-space()="team"]`)))
	b.waitText("main h1", "Account team")
	// A double submit sends the same idempotency key twice: the credits
	// come once.
	b.do("top up, twice at once",
		chromedp.SendKeys(chromedp.CSS("form[aria-label='Top up'] input"), "5"),
		chromedp.Evaluate[chromedp.Void](`{ const f = document.querySelector("form[aria-label='Top up']"); f.requestSubmit(); f.requestSubmit(); }`))
	b.waitText("main p.status", "Added $5 to team")
	b.waitText("main .panel", "Credits", "$5", "Topped up")
	if got := b.text("main .panel dl"); strings.Contains(got, "$10") {
		t.Errorf("a double-submitted top-up of $5 counted twice: %q", got)
	}
	b.set("form[aria-label='Plan'] select", "pro")
	b.do("assign a plan",
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Assign plan"]`)))
	b.waitText("main p.status", "Plan pro assigned to team")
	b.waitText("main .panel", "pro: $0 of $50 used")

	if v := eval[string](b, `document.querySelector("form[aria-label='Plan'] select").value`); v != "pro" {
		t.Errorf("plan control after assigning pro: %q", v)
	}

	// By keyboard: from the brand, Tab reaches the page links, each with
	// a visible focus ring, and Enter follows one.
	b.do("tab to the nav", chromedp.Click(chromedp.CSS("header .brand")), chromedp.KeyEvent("\t"))
	if f := eval[string](b, `document.activeElement.textContent`); f != "Overview" {
		t.Errorf("first Tab stop after the brand: %q, want the Overview link", f)
	}
	b.do("tab on", chromedp.KeyEvent("\t"))
	if f, ring := eval[string](b, `document.activeElement.textContent`), eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); f != "Keys" || ring == "none" {
		t.Errorf("Tab stop: %q with outline %q, want the Keys link with a focus ring", f, ring)
	}
	b.do("follow it", chromedp.KeyEvent("\r"))
	b.waitText("main .page[data-ready] h1", "Keys")

	// A key, its secret shown once.
	b.waitText("main", "No keys yet.")
	b.do("new key form", chromedp.Click(chromedp.Search(`//button[normalize-space()="New key"]`)))
	b.do("fill it",
		chromedp.SendKeys(chromedp.CSS("input[name=name]"), "ci-console"),
		chromedp.SendKeys(chromedp.CSS("input[name=account]"), "team"),
		chromedp.SendKeys(chromedp.CSS("input[name=allowed_models]"), "mock-model"),
		chromedp.SendKeys(chromedp.CSS("input[name=rpm]"), "60"),
		chromedp.SendKeys(chromedp.CSS("input[name=daily_limit]"), "2"),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Create key"]`)))
	b.waitText("main", "shown this once")
	secret := b.text("#new-secret")
	if !strings.HasPrefix(secret, "sk-sb-") || len(secret) < 30 {
		t.Fatalf("secret shown: %q", secret)
	}
	b.waitText("main table", "ci-console", "team", "mock-model", "60", "$2", "active")
	if n := b.count("main tbody tr"); n != 1 {
		t.Errorf("%d keys listed, want 1", n)
	}
	keyID := secret[:len("sk-sb-")+6]
	b.waitText("main table", keyID)
	b.do("copy it", chromedp.Click(chromedp.Search(`//button[normalize-space()="Copy"]`)))
	b.waitText("main .secret", "Copied.")
	b.shot("keys-created")
	b.do("edit it", chromedp.Click(chromedp.CSS(fmt.Sprintf("button[aria-label='Edit %s']", keyID))))
	b.set("input[name=rpm]", "")
	b.do("change the RPM",
		chromedp.SendKeys(chromedp.CSS("input[name=rpm]"), "120"),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Save"]`)))
	b.waitText("main p.status", "Saved "+keyID)
	b.waitText("main table", "120")
	b.page("keys", "Keys")
	b.waitText("main table", "ci-console", "120")
	if strings.Contains(b.text("main"), secret) {
		t.Error("the secret shows again after a reload")
	}

	// A call with the key, seen everywhere.
	chat := func() (int, string, float64) {
		req, _ := http.NewRequest("POST", p.url+"/v1/chat/completions", strings.NewReader(string(chatBody)))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-switchboard-user", "alice")
		req.Header.Set("x-switchboard-session", "sess-42")
		req.Header.Set("x-switchboard-tags", "nightly")
		resp, err := p.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Usage struct{ Cost float64 }
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, resp.Header.Get("x-request-id"), body.Usage.Cost
	}
	calledAt := time.Now().UTC()
	status, reqID, cost := chat()
	if status != 200 || reqID == "" || cost <= 0 {
		t.Fatalf("chat with the console's key: %d %q cost %v", status, reqID, cost)
	}
	costText := "$" + strconv.FormatFloat(cost, 'f', -1, 64) // the console's format for a cost under $1 with at most 6 decimals

	b.page("requests", "Request log")
	b.waitText("main table", reqID, keyID, "mock-model", "mock", "200", costText, "alice", "sess-42")
	b.waitText("main p.status", "1 request")
	b.shot("requests")
	b.do("filter by another user",
		chromedp.SendKeys(chromedp.CSS("#f-user"), "bob"),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Filter"]`)))
	b.waitText("main", "No requests match.")
	b.waitText("main p.status", "0 requests")
	b.set("#f-user", "")
	b.do("filter by this user",
		chromedp.SendKeys(chromedp.CSS("#f-user"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#f-status"), "200\r"))
	b.waitText("main p.status", "1 request")
	b.do("open the request", chromedp.Click(chromedp.Search(`//a[normalize-space()="`+reqID+`"]`)))
	b.waitText("main h1", "Request "+reqID)
	b.waitText("main", "Tokens by kind", "prompt", "completion", "Cost by component", costText,
		"Upstream model", "mock-model", "Provider", "mock", "Attempts", "Fallbacks", "none", "Cache hit", "Compression saved",
		"alice", "sess-42", "nightly", "Gateway overhead")
	b.shot("request")

	b.page("usage", "Usage")
	b.waitText("main table", "mock-model", "1", costText)
	if n := b.count("main svg rect.bar"); n != 1 {
		t.Errorf("usage chart: %d bars, want 1 (one call, one model, one hour)", n)
	}
	b.set("#u-by", "user")
	b.waitText("main .legend", "alice")
	b.waitText("main table", "alice", costText)
	b.shot("usage")

	b.page("overview", "Overview")
	if now := time.Now().UTC(); now.Format(time.DateOnly) == calledAt.Format(time.DateOnly) { // else the call was yesterday (UTC)
		b.waitText("main .cards", "Spend today", costText, "Spend this month")
	}
	// Live: the next refresh has two samples to give a rate from.
	b.do("the next refresh", chromedp.Poll[chromedp.Void](`/^\d+\.\d\d$/.test(document.querySelector("main .cards .card .value").innerText)`))
	b.waitText("main .cards .card", "Requests/s", "1 since start")
	b.shot("overview")

	b.page("models", "Models")
	b.waitText("main table", "mock-model", "mock", "$1", "$2")
	b.waitText("main p.status", "1 of 1 models")
	b.shot("models")

	b.page("accounts/team", "Account team")
	b.waitText("main table", reqID, costText)

	// Revoke the key, and its next call is refused.
	b.page("keys", "Keys")
	b.do("revoke", chromedp.Click(chromedp.CSS(fmt.Sprintf("button[aria-label='Revoke %s']", keyID))))
	b.waitText("dialog", "Revoke "+keyID)
	b.shot("keys-revoke-dialog")
	b.do("confirm", chromedp.Click(chromedp.Search(`//button[normalize-space()="Revoke key"]`)))
	b.waitText("main p.status", "Revoked "+keyID)
	b.waitText("main table", "revoked")
	if n := b.count("main button.danger"); n != 0 {
		t.Errorf("a revoked key still has %d revoke buttons", n)
	}
	if status, _, _ := chat(); status != 401 {
		t.Errorf("chat with the revoked key: %d, want 401", status)
	}

	// Every change, in the audit log, under the console login.
	b.page("audit", "Audit log")
	b.waitText("main table", "keys.revoke", "keys.patch", "keys.create", "accounts.plan", "accounts.topup", "accounts.create")
	audited := b.count("main tbody tr")
	if who := eval[int](b, `[...document.querySelectorAll("main tbody tr")].filter(r => r.innerText.includes("console:master")).length`); audited < 6 || who != audited {
		t.Errorf("audit log: %d rows, %d by console:master; want at least 6, all by console:master: %q", audited, who, b.text("main table"))
	}
	for _, action := range []string{"keys.revoke", "keys.patch", "keys.create", "accounts.plan", "accounts.create"} {
		if n := eval[int](b, fmt.Sprintf(`[...document.querySelectorAll("main tbody tr")].filter(r => r.cells[2].innerText === %q).length`, action)); n != 1 {
			t.Errorf("audit log: %d %s rows, want 1", n, action)
		}
	}
	b.shot("audit")

	// A change without the session's CSRF token is refused, even from the
	// console's own page with its cookie.
	if s := b.fetchStatus("POST", "/api/v1/admin/accounts", `{"Content-Type": "application/json"}`, `'{"id":"no-csrf"}'`); s != 403 {
		t.Errorf("change without a CSRF token: %d, want 403", s)
	}
	if s := b.fetchStatus("POST", "/api/v1/admin/accounts", `{"Content-Type": "application/json", "X-CSRF-Token": "forged"}`, `'{"id":"no-csrf"}'`); s != 403 {
		t.Errorf("change with a wrong CSRF token: %d, want 403", s)
	}

	// Every page at phone width: nothing wider than the screen.
	b.do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, pg := range []struct{ route, heading string }{
		{"overview", "Overview"}, {"keys", "Keys"}, {"accounts", "Accounts"}, {"accounts/team", "Account team"},
		{"usage", "Usage"}, {"requests", "Request log"}, {"requests/" + reqID, "Request " + reqID},
		{"models", "Models"}, {"audit", "Audit log"},
	} {
		b.page(pg.route, pg.heading)
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s at 390px is %dpx wide", pg.route, w)
		}
		b.shot("phone-" + strings.ReplaceAll(pg.route, "/", "-"))
	}
	b.do("desktop width", chromedp.EmulateViewport(1280, 800))
	for _, pg := range []struct{ route, heading string }{{"keys", "Keys"}, {"accounts", "Accounts"}, {"accounts/team", "Account team"}} {
		b.page(pg.route, pg.heading)
		b.shot(strings.ReplaceAll(pg.route, "/", "-"))
	}

	// Logging out ends the session: its cookie opens nothing.
	b.do("log out", chromedp.Click(chromedp.CSS("#logout")))
	b.waitText("main", "Logged out.")
	b.do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.shot("phone-login")
	b.do("desktop width", chromedp.EmulateViewport(1280, 800))
	if s := b.fetchStatus("GET", "/api/v1/admin/keys", "{}", "undefined"); s != 401 {
		t.Errorf("admin API after logout: %d, want 401", s)
	}

	// The viewer sees everything and can change nothing.
	b.login(consoleViewerKey)
	b.waitText("header", "console:viewer (read-only)")
	b.page("keys", "Keys")
	b.waitText("main table", "ci-console", "revoked")
	b.page("accounts/team", "Account team")
	b.waitText("main table", reqID)
	b.shot("viewer-account")
	b.page("accounts", "Accounts")
	b.waitText("main table", "team")
	b.shot("viewer-accounts")
	for _, route := range []string{"keys", "accounts", "accounts/team"} {
		b.page(route, "")
		if n := b.count("main button, main form input"); n != 0 {
			t.Errorf("viewer on %s: %d change controls, want none: %q", route, n, b.text("main"))
		}
	}
	csrf := eval[string](b, `fetch("/ui/api/session").then(r => r.json()).then(s => s.csrf)`)
	if s := b.fetchStatus("POST", "/api/v1/admin/accounts", fmt.Sprintf(`{"Content-Type": "application/json", "X-CSRF-Token": %q}`, csrf), `'{"id":"by-viewer"}'`); s != 403 {
		t.Errorf("viewer's forced change: %d, want 403", s)
	}
	b.page("audit", "Audit log")
	if n := b.count("main tbody tr"); n != audited {
		t.Errorf("audit log after the viewer: %d rows, want %d as before", n, audited)
	}
}
