package configs

import (
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaultConfigEnablesProvidersWithKeys(t *testing.T) {
	c, err := Load(Default, env("SWITCHBOARD_API_KEY", "sk-sb-test", "GROQ_API_KEY", "gsk-1"))
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	enabled := map[string]bool{}
	for _, p := range c.Providers {
		enabled[p.Name] = !p.Disabled
	}
	want := []string{"openai", "azure", "anthropic", "gemini", "groq", "together", "fireworks", "deepseek", "mistral", "xai",
		"openrouter", "deepinfra", "cerebras", "perplexity", "ollama", "vllm", "lmstudio"}
	for _, name := range want {
		on, ok := enabled[name]
		if !ok {
			t.Errorf("preset %q missing", name)
		}
		if on != (name == "groq") {
			t.Errorf("provider %q enabled=%v, want only groq enabled", name, on)
		}
	}
	if c.Listen != "127.0.0.1:8080" || c.Server.MaxBodyBytes != 32<<20 || c.Server.ReadTimeout.D() != 60*time.Second {
		t.Errorf("defaults not applied: listen=%q body=%d read=%v", c.Listen, c.Server.MaxBodyBytes, c.Server.ReadTimeout.D())
	}
	if got := c.Providers[0].Timeouts.Connect.D(); got != 5*time.Second {
		t.Errorf("connect timeout default = %v, want 5s", got)
	}
	// A disabled preset names the variables that would enable it.
	for _, p := range c.Providers {
		if p.Name == "openai" && strings.Join(p.DisabledBy, ",") != "OPENAI_API_KEY" {
			t.Errorf("openai disabled by %q, want OPENAI_API_KEY", p.DisabledBy)
		}
		if p.Name == "groq" && len(p.DisabledBy) != 0 {
			t.Errorf("groq, enabled, disabled by %q", p.DisabledBy)
		}
	}
}

func TestDefaultConfigWithoutKeyRefusesToStart(t *testing.T) {
	_, err := Load(Default, env())
	if err == nil || !strings.Contains(err.Error(), "auth.keys") || !strings.Contains(err.Error(), "SWITCHBOARD_API_KEY") {
		t.Fatalf("want auth.keys error naming SWITCHBOARD_API_KEY, got %v", err)
	}
}

func TestLoadReportsFieldAndLine(t *testing.T) {
	f := func(yamlText string, want ...string) {
		t.Helper()
		_, err := Load([]byte(yamlText), env())
		if err == nil {
			t.Fatalf("want error containing %q, got none", want)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}
	base := "auth: {disabled: true}\n"
	f(base+"providers:\n  - name: a\n    base_url: ftp://x\n", `line 4: providers[0].base_url: want http(s) URL, got "ftp://x"`)
	f(base+"providers:\n  - name: a\n    base_url: http://x\n    bogus: 1\n", "line 5: providers[0].bogus: unknown field")
	f(base+"server:\n  read_timeout: soon\n", `line 3: server.read_timeout: want a duration like "30s", got "soon"`)
	f(base+"server:\n  max_body_bytes: lots\n", `line 3: server.max_body_bytes: want a size like 1048576 or "32MiB", got "lots"`)
	// Shapes and types name the field, and every problem is reported in
	// one pass, not only the first.
	f(base+"providers:\n  - name: a\n    base_url: http://x\n    models: gpt-4o\n    max_conns: many\n    bogus: 1\n    other: 2\n",
		`line 5: providers[0].models: want a list, got "gpt-4o"`,
		`line 6: providers[0].max_conns: want a whole number, got "many"`,
		"line 7: providers[0].bogus: unknown field",
		"line 8: providers[0].other: unknown field")
	f(base+"log: {access: maybe}\nrouting: 1\n", `line 2: log.access: want true or false, got "maybe"`, "line 3: routing: unknown field")
	f(base+"server: 8080\n", `line 2: server: want an object of key: value fields, got "8080"`)
	f(base+"routes:\n  - {model: r, targets: [a/m], retry: {attempts: two, budget: 1h30}}\n",
		`line 3: routes[0].retry.attempts: want a whole number, got "two"`, `line 3: routes[0].retry.budget: want a duration like "30s", got "1h30"`)
	f(base+"aliases: [a, b]\n", "line 2: aliases: want an object of key: value entries, got a list")
	f(base+"server:\n  max_conns: -1\n", `line 3: server.max_conns: want a positive number, got -1`)
	f(base+"server:\n  header_timeout: -1s\n", `server: durations must not be negative`)
	f(base+"providers:\n  - {name: a, base_url: 'http://x', max_conns: 8, max_idle_conns: 9}\n", `providers[0].max_idle_conns: want 1 to max_conns (8), got 9`)
	f(base+"providers:\n  - {name: a, base_url: 'http://x', idle_conn_timeout: -1s}\n", `providers[0].idle_conn_timeout: want a positive duration, got -1s`)
	f(base+"providers:\n  - name: a\n    base_url: http://x\n    models: [claude-*, '*-instruct', 'gpt-**', 'gpt-?*', 'two words']\n",
		`line 5: providers[0].models[1]: want a pattern that starts with the model family, like "claude-*", got "*-instruct"`,
		`providers[0].models[2]: want one '*' per wildcard, got "gpt-**"`,
		`providers[0].models[3]: want '*' as the only wildcard (no ?, [ ], { }), got "gpt-?*"`,
		`providers[0].models[4]: want a model id without spaces, or a pattern like "claude-*", got "two words"`)
	f(base+"aliases:\n  x: nowhere/model\n", `aliases.x: unknown provider "nowhere"`)
	f(base+"routes:\n  - model: r\n    targets: []\n", "line 4: routes[0].targets: want at least one")
	f(base+"providers:\n  - {name: a, base_url: 'http://x'}\n  - {name: a, base_url: 'http://y'}\n", `duplicate provider "a"`)
	f("auth:\n  keys:\n    - {name: k, key: plain}\n", `line 3: auth.keys[0].key: want a key starting with "sk-sb-"`)
	f(base+"listen: ${BAD-NAME}\n", "line 2: listen: bad environment reference")
	f(base+"listen: 'unix:'\n", `listen: want unix:/path/to/socket, got "unix:"`)
	f(base+"listen: localhost\n", `listen: want host:port or unix:/path, got "localhost"`)
	f(base+"server:\n  socket_mode: 0999\n", `server.socket_mode: want octal permission bits like 0660, got "0999"`)
	f("", "empty")
	f("listen: [\n", "cannot parse config")
}

func TestClientAndPoolLimitDefaults(t *testing.T) {
	text := "auth: {disabled: true}\nproviders:\n  - {name: a, base_url: 'http://x'}\n  - {name: b, base_url: 'http://y', max_conns: 8}\n"
	c, err := Load([]byte(text), env())
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	if s.HeaderTimeout.D() != 10*time.Second || s.ReadTimeout.D() != 60*time.Second || s.BodyMinRate != 64<<10 || s.MaxConns != 16384 {
		t.Errorf("server defaults: header %v read %v min rate %d max conns %d", s.HeaderTimeout.D(), s.ReadTimeout.D(), s.BodyMinRate, s.MaxConns)
	}
	a, b := c.Providers[0], c.Providers[1]
	if a.MaxIdleConns != 64 || a.IdleConnTimeout.D() != 4*time.Second {
		t.Errorf("provider defaults: max_idle_conns %d idle_conn_timeout %v", a.MaxIdleConns, a.IdleConnTimeout.D())
	}
	if b.MaxIdleConns != 8 {
		t.Errorf("max_idle_conns with max_conns 8 = %d, want 8", b.MaxIdleConns)
	}
}

func TestEnvExpansionCannotInjectYAML(t *testing.T) {
	text := "auth: {disabled: true}\nproviders:\n  - name: a\n    base_url: http://x\n    api_key: ${KEY}\n"
	c, err := Load([]byte(text), env("KEY", "k\nlisten: 0.0.0.0:1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || string(c.Providers[0].APIKey) != "k\nlisten: 0.0.0.0:1" {
		t.Fatalf("env value leaked into YAML structure: listen=%q", c.Listen)
	}
}

func TestEnvExpansionDefaultsAndTypes(t *testing.T) {
	text := "auth: {disabled: true}\nlisten: 127.0.0.1:${PORT:-9999}\nproviders:\n  - name: a\n    base_url: http://x\n    max_conns: ${CONNS}\n"
	c, err := Load([]byte(text), env("CONNS", "7"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Providers[0].MaxConns != 7 {
		t.Fatalf("listen=%q max_conns=%d", c.Listen, c.Providers[0].MaxConns)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("sk-live-123")
	for _, got := range []string{s.String(), s.GoString()} {
		if strings.Contains(got, "123") {
			t.Fatalf("secret printed: %q", got)
		}
	}
}

func TestBillingConfig(t *testing.T) {
	base := "auth:\n  master_key: sk-sb-master\n  keys: [{name: a, key: sk-sb-a, rpm: 5}]\n"
	c, err := Load([]byte(base+`billing:
  plans: [{name: pro, price: "25"}, {name: weekly, price: "2.50", period: 168h}]
  prices: {openai/gpt-4o: {input: "2", output: "8"}}
`), env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Billing.Unpriced != "refuse" || c.Billing.DefaultMaxOutput != 4096 || c.Auth.Keys[0].Account != "operator" || c.Auth.Keys[0].RPM != 5 {
		t.Fatalf("defaults: %+v %+v", c.Billing, c.Auth.Keys[0])
	}
	if si := *c.Billing.SyncInterval; si.Always() || si.D() != 100*time.Millisecond {
		t.Fatalf("sync_interval default %v, want 100ms", si.D())
	}
	pro, weekly := c.Billing.Plans[0], c.Billing.Plans[1]
	if pro.Price != 25e9 || pro.Period != "monthly" || weekly.Price != 2.5e9 {
		t.Fatalf("plans %+v", c.Billing.Plans)
	}
	if d, err := weekly.PeriodDuration(); err != nil || d != 168*time.Hour {
		t.Fatalf("weekly period %v %v", d, err)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"billing: {unpriced: maybe}", "billing.unpriced"},
		{`billing: {plans: [{name: x, price: "-1"}]}`, "non-negative dollar amount"},
		{`billing: {plans: [{name: x, price: "1e3"}]}`, "non-negative dollar amount"},
		{`billing: {plans: [{name: x, price: "0"}]}`, "billing.plans[0].price"},
		{`billing: {plans: [{name: x, price: "5", period: fortnightly}]}`, "billing.plans[0].period"},
		{`billing: {plans: [{name: x, price: "5"}, {name: x, price: "6"}]}`, "duplicate plan"},
		{`billing: {prices: {gpt-4o: {input: "1"}}}`, "provider/model"},
		{"billing: {default_max_output: -1}", "default_max_output"},
		{"billing: {sync_interval: 0s}", `billing.sync_interval: want "always" or a duration from 1ms to 10s, got 0s`},
		{"billing: {sync_interval: 500us}", "billing.sync_interval: want"},
		{"billing: {sync_interval: 11s}", "got 11s"},
		{"billing: {sync_interval: -1ns}", "got -1ns"},
		{"billing: {sync_interval: sometimes}", `want a duration like "100ms" or "always", got "sometimes"`},
	} {
		_, err := Load([]byte(base+bad.yaml), env())
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want it to mention %q", bad.yaml, err, bad.want)
		}
	}
	for text, want := range map[string]SyncInterval{
		"always": SyncAlways,
		"1ms":    SyncInterval(time.Millisecond),
		"250ms":  SyncInterval(250 * time.Millisecond),
		"10s":    SyncInterval(10 * time.Second),
	} {
		c, err := Load([]byte(base+"billing: {sync_interval: "+text+"}\n"), env())
		if err != nil {
			t.Errorf("sync_interval %s: %v", text, err)
		} else if got := *c.Billing.SyncInterval; got != want {
			t.Errorf("sync_interval %s: got %d, want %d", text, got, want)
		}
	}
	if _, err := Load([]byte("auth:\n  master_key: sk-sb-a\n  keys: [{name: a, key: sk-sb-a}]\n"), env()); err == nil ||
		!strings.Contains(err.Error(), "auth.master_key") {
		t.Errorf("master key equal to a gateway key: %v", err)
	}
	for _, viewer := range []string{"sk-sb-a", "sk-sb-master", "viewer"} {
		if _, err := Load([]byte(base+"  viewer_key: "+viewer+"\n"), env()); err == nil || !strings.Contains(err.Error(), "auth.viewer_key") {
			t.Errorf("viewer key %s: %v", viewer, err)
		}
	}
	c, err = Load([]byte(base+"  viewer_key: ${VIEWER}\n"), func(k string) string { return map[string]string{"VIEWER": "sk-sb-viewer"}[k] })
	if err != nil || c.Auth.ViewerKey != "sk-sb-viewer" {
		t.Errorf("viewer key from the environment: %v, %v", c, err)
	}
}

func TestRouteConfig(t *testing.T) {
	base := "auth: {disabled: true}\nproviders:\n  - {name: a, base_url: 'http://x', models: [m1]}\n  - {name: b, base_url: 'http://y'}\n"
	c, err := Load([]byte(base+`aliases: {fast: a/m1}
routes:
  - model: plain
    targets: [a/m1, b/m2]
  - model: tuned
    strategy: default
    targets: [a/m1, {target: b/m2, weight: 3}]
    fallbacks: [plain, fast, m1, b/anything, plain:floor]
    retry: {attempts: 5, on_status: [429, 529]}
  - model: only-transport
    targets: [a/m1]
    retry: {on_status: []}
`), env())
	if err != nil {
		t.Fatal(err)
	}
	plain, tuned, transport := c.Routes[0], c.Routes[1], c.Routes[2]
	def := DefaultRetry()
	if plain.Strategy != "priority" || plain.Targets[1] != (RouteTarget{Target: "b/m2", Weight: 1}) ||
		plain.Retry.Attempts != 3 || plain.Retry.Budget.D() != time.Minute || len(plain.Retry.OnStatus) != len(def.OnStatus) {
		t.Fatalf("defaults: %+v", plain)
	}
	if tuned.Strategy != "default" || tuned.Targets[0].Weight != 1 || tuned.Targets[1] != (RouteTarget{Target: "b/m2", Weight: 3}) ||
		len(tuned.Fallbacks) != 5 || tuned.Retry.Attempts != 5 || tuned.Retry.Budget.D() != time.Minute || len(tuned.Retry.OnStatus) != 2 {
		t.Fatalf("tuned: %+v", tuned)
	}
	if transport.Retry.OnStatus == nil || len(transport.Retry.OnStatus) != 0 || transport.Retry.Attempts != 3 {
		t.Fatalf("on_status: [] became %+v", transport.Retry)
	}

	f := func(routes string, want ...string) {
		t.Helper()
		_, err := Load([]byte(base+"routes:\n"+routes), env())
		if err == nil {
			t.Fatalf("%s: no error, want %q", routes, want)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}
	f("  - model: r\n    strategy: fastest\n    targets: [a/m1]\n",
		`line 7: routes[0].strategy: want one of priority, weighted, latency, throughput, price, default, got "fastest"`)
	f("  - model: r\n    targets: [{target: a/m1, weight: 0}]\n", "line 7: routes[0].targets[0].weight: want 1 to 1000000, got 0")
	f("  - model: r\n    targets: [{target: a/m1, weight: -2}]\n", "routes[0].targets[0].weight: want 1 to 1000000, got -2")
	f("  - model: r\n    targets: [{target: a/m1, wieght: 2}]\n", "line 7: routes[0].targets[0].wieght: unknown field")
	f("  - model: r\n    targets: [{target: c/m1}]\n", `routes[0].targets[0]: unknown provider "c" in "c/m1"`)
	f("  - model: r\n    targets: [{weight: 2}]\n", `routes[0].targets[0]: want provider/model, got ""`)
	f("  - model: r\n    targets: [a/m1]\n    fallbacks: [r, nowhere, c/x]\n",
		`routes[0].fallbacks[0]: "r" falls back to itself`,
		`routes[0].fallbacks[1]: "nowhere" is no route, alias, provider model or provider/model`,
		`routes[0].fallbacks[2]: "c/x" is no route`)
	f("  - model: r\n    targets: [a/m1]\n    retry:\n      attempts: 0\n", "line 9: routes[0].retry.attempts: want 1 to 10, got 0")
	f("  - model: r\n    targets: [a/m1]\n    retry: {attempts: 11}\n", "routes[0].retry.attempts: want 1 to 10, got 11")
	f("  - model: r\n    targets: [a/m1]\n    retry: {budget: 0s}\n", "routes[0].retry.budget: want a positive duration, got 0s")
	f("  - model: r\n    targets: [a/m1]\n    retry: {budget: soon}\n", `want a duration like "30s", got "soon"`)
	f("  - model: r\n    targets: [a/m1]\n    retry: {on_status: [500, 200, 500, 600]}\n",
		"routes[0].retry.on_status[1]: want an error status from 400 to 599, got 200",
		"routes[0].retry.on_status[2]: duplicate status 500",
		"routes[0].retry.on_status[3]: want an error status from 400 to 599, got 600")
	f("  - model: r\n    targets: [a/m1]\n    retry: {tries: 2}\n", "routes[0].retry.tries: unknown field")
	f("  - model: r\n    targets: [a/m1, b/m2]\n    hedge: {after: p99}\n", `line 8: routes[0].hedge.after: want "p95" or a duration like "200ms", got "p99"`)
	f("  - model: r\n    targets: [a/m1, b/m2]\n    hedge: {max: 1}\n", `routes[0].hedge.after: want "p95" or a positive duration, got 0s`)
	f("  - model: r\n    targets: [a/m1, b/m2]\n    hedge: {after: 100ms, max: 2}\n", `routes[0].hedge.max: want 1 (one hedge per call), got 2`)
	f("  - model: r\n    targets: [a/m1]\n    hedge: {after: p95}\n", `routes[0].hedge: want a second target or a fallback to hedge with`)
	f("  - model: r\n    targets: [a/m1, b/m2]\n    hedge: {after: p95}\n    retry: {attempts: 1}\n",
		`routes[0].hedge: a hedge is an attempt: want retry.attempts of at least 2, got 1`)
}

func TestRouteHedge(t *testing.T) {
	base := "auth: {disabled: true}\nproviders:\n  - {name: a, base_url: 'http://x', models: [m1]}\n  - {name: b, base_url: 'http://y'}\n"
	cfg, err := Load([]byte(base+`routes:
  - {model: p, targets: [a/m1, b/m2], hedge: {after: p95}}
  - {model: fixed, targets: [a/m1], fallbacks: [b/m2], hedge: {after: 250ms, max: 1}}
  - {model: none, targets: [a/m1, b/m2]}
`), env())
	if err != nil {
		t.Fatal(err)
	}
	p, fixed, none := cfg.Routes[0].Hedge, cfg.Routes[1].Hedge, cfg.Routes[2].Hedge
	if p == nil || !p.After.P95() || p.Max != 1 {
		t.Fatalf("after: p95 loaded as %+v", p)
	}
	if fixed == nil || fixed.After.P95() || fixed.After.D() != 250*time.Millisecond || fixed.Max != 1 {
		t.Fatalf("after: 250ms loaded as %+v", fixed)
	}
	if none != nil {
		t.Fatalf("a route without hedge got %+v", none)
	}
}

func TestRouteExampleInDefaultConfigLoads(t *testing.T) {
	var example []string
	on := false
	for _, line := range strings.Split(string(Default), "\n") {
		switch {
		case strings.HasPrefix(line, "  #- model: coder"):
			on = true
		case on && !strings.HasPrefix(line, "  #"):
			on = false
		}
		if on {
			example = append(example, strings.Replace(line, "#", "", 1))
		}
	}
	if len(example) == 0 {
		t.Fatal("example route not found in switchboard.yaml")
	}
	text := strings.Replace(string(Default), "routes:\n", "routes:\n"+strings.Join(example, "\n")+"\n", 1)
	c, err := Load([]byte(text), env("SWITCHBOARD_API_KEY", "sk-sb-test"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if r.Model != "coder" || r.Strategy != "default" || r.Targets[0].Weight != 2 || r.Retry.Attempts != 4 || r.Retry.Budget.D() != 30*time.Second {
		t.Fatalf("example route %+v", r)
	}
}

func TestTelemetryIsOffByDefaultAndValidated(t *testing.T) {
	base := "auth: {disabled: true}\n"
	c, err := Load([]byte(base), env())
	if err != nil {
		t.Fatal(err)
	}
	if tel := c.Telemetry; tel.Enabled() || *tel.SampleRatio != 1 || tel.ServiceName != "switchboard" || tel.QueueSize != 4096 {
		t.Errorf("telemetry defaults: %+v", tel)
	}
	c, err = Load([]byte(base+"telemetry:\n  otlp_endpoint: http://127.0.0.1:4318/\n  sample_ratio: 0\n  headers:\n    x-honeycomb-team: ${HC_KEY}\n"), env("HC_KEY", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if tel := c.Telemetry; !tel.Enabled() || tel.OTLPEndpoint != "http://127.0.0.1:4318" || *tel.SampleRatio != 0 || tel.Headers["x-honeycomb-team"] != "k1" {
		t.Errorf("telemetry: %+v", tel)
	}
	f := func(yamlText string, want ...string) {
		t.Helper()
		_, err := Load([]byte(base+yamlText), env())
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error %v does not contain %q", err, w)
			}
		}
	}
	f("telemetry:\n  otlp_endpoint: grpc://x:4317\n", `line 3: telemetry.otlp_endpoint: want the collector's OTLP/HTTP base URL, such as http://127.0.0.1:4318, got "grpc://x:4317"`)
	f("telemetry:\n  sample_ratio: 1.5\n  queue_size: -1\n  metrics_interval: 10ms\n",
		"line 3: telemetry.sample_ratio: want a share from 0 to 1, got 1.5",
		"line 4: telemetry.queue_size: want 1 to 1048576 spans, got -1",
		"line 5: telemetry.metrics_interval: want at least 1s, got 10ms")
	f("telemetry:\n  sample_ratio: all\n", `line 3: telemetry.sample_ratio: want a number, got "all"`)
}
