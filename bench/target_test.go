package main

import (
	"encoding/json"
	"slices"
	"testing"

	"switchboard/configs"
)

func TestChatBodyIsAboutOneKiB(t *testing.T) {
	for _, stream := range []bool{false, true} {
		b := chatBody("mock-model", stream)
		var v struct {
			Model    string `json:"model"`
			Stream   bool   `json:"stream"`
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("stream=%v: %v: %s", stream, err, b)
		}
		if len(b) < 900 || len(b) > 1200 || v.Model != "mock-model" || v.Stream != stream || len(v.Messages) != 4 {
			t.Fatalf("stream=%v: %d bytes, %+v", stream, len(b), v)
		}
	}
}

func TestMessagesBodySaysWhatChatBodySays(t *testing.T) {
	type turn struct{ Role, Content string }
	for _, stream := range []bool{false, true} {
		var chat struct {
			Model       string  `json:"model"`
			Stream      bool    `json:"stream"`
			MaxTokens   int     `json:"max_tokens"`
			Temperature float64 `json:"temperature"`
			Messages    []turn  `json:"messages"`
		}
		var msgs struct {
			Model       string  `json:"model"`
			Stream      bool    `json:"stream"`
			MaxTokens   int     `json:"max_tokens"`
			Temperature float64 `json:"temperature"`
			System      string  `json:"system"`
			Messages    []turn  `json:"messages"`
		}
		b := messagesBody("mock-model", stream)
		if err := json.Unmarshal(chatBody("mock-model", stream), &chat); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &msgs); err != nil {
			t.Fatalf("stream=%v: %v: %s", stream, err, b)
		}
		if msgs.Model != chat.Model || msgs.Stream != stream || msgs.MaxTokens != chat.MaxTokens || msgs.Temperature != chat.Temperature ||
			msgs.System != chat.Messages[0].Content || !slices.Equal(msgs.Messages, chat.Messages[1:]) {
			t.Fatalf("stream=%v: Anthropic body %s\nsays something else than chat body %+v", stream, b, chat)
		}
	}
}

func TestGatewayConfigs(t *testing.T) {
	if len(benchGateways) != 2 || benchGateways[0] != (benchGateway{name: targetGateway, billing: true}) || benchGateways[1] != (benchGateway{name: targetGatewayNoBill, billing: false}) {
		t.Fatalf("bench gateways %+v: want %s with billing, then %s without", benchGateways, targetGateway, targetGatewayNoBill)
	}
	for _, g := range append(benchGateways, unixGateway) {
		listen := "127.0.0.1:1234"
		if g.unix {
			listen = "unix:" + unixSocket("/tmp/bench", g)
		}
		cfg, err := configs.Load([]byte(gatewayConfig(listen, "/tmp/data-"+g.name, "http://127.0.0.1:9999", "http://127.0.0.1:9998", g.billing)), func(string) string { return "" })
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if cfg.Billing.Disabled == g.billing || cfg.DataDir != "/tmp/data-"+g.name || cfg.Listen != listen {
			t.Errorf("%s: billing disabled %v, data dir %q, listen %q", g.name, cfg.Billing.Disabled, cfg.DataDir, cfg.Listen)
		}
		if p, ok := cfg.Billing.Prices["mock/"+mockModel]; !ok || p.Input == nil || *p.Input != "1" || p.Output == nil || *p.Output != "2" {
			t.Errorf("%s: prices %+v", g.name, cfg.Billing.Prices)
		}
		// The cross-format scenarios' Anthropic requests for mock-model
		// are translated because its provider speaks OpenAI chat.
		if len(cfg.Providers) == 0 {
			t.Fatalf("%s: no providers", g.name)
		}
		if p := cfg.Providers[0]; p.Name != "mock" || p.Format != "openai" || !slices.Contains(p.Models, mockModel) {
			t.Errorf("%s: first provider %+v, want mock in the openai format serving %s", g.name, p, mockModel)
		}
		if len(cfg.Auth.Keys) != 1 || cfg.Auth.Keys[0].RPM != benchKeyRPM || cfg.Auth.Keys[0].TPM != benchKeyTPM {
			t.Errorf("%s: keys %+v", g.name, cfg.Auth.Keys)
		}
		// The response cache is on for the cached route alone, so that
		// the other scenarios' requests do not pay for its checks.
		if cfg.Cache.Responses.Enabled {
			t.Errorf("%s: the response cache is on for every route", g.name)
		}
		var cached *configs.Route
		for i := range cfg.Routes {
			if r := &cfg.Routes[i]; r.Model == cacheModel {
				cached = r
			} else if r.Cache != nil && *r.Cache {
				t.Errorf("%s: route %s caches", g.name, r.Model)
			}
		}
		if cached == nil || cached.Cache == nil || !*cached.Cache || len(cached.Targets) != 1 || cached.Targets[0].Target != "mock/"+mockModel {
			t.Errorf("%s: cached route %+v", g.name, cached)
		}
		if w := cfg.WebSearch; w.Engine != "searxng" || w.BaseURL != "http://127.0.0.1:9998" {
			t.Errorf("%s: web search %+v", g.name, w)
		}
	}
	// Without a search engine, no web search.
	cfg, err := configs.Load([]byte(gatewayConfig("127.0.0.1:1234", "/tmp/data", "http://127.0.0.1:9999", "", true)), func(string) string { return "" })
	if err != nil || cfg.WebSearch.Engine != "" {
		t.Fatalf("web search %+v, %v", cfg.WebSearch, err)
	}
}
