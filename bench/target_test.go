package main

import (
	"encoding/json"
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

func TestGatewayConfigs(t *testing.T) {
	if len(benchGateways) != 2 || benchGateways[0] != (benchGateway{targetGateway, true}) || benchGateways[1] != (benchGateway{targetGatewayNoBill, false}) {
		t.Fatalf("bench gateways %+v: want %s with billing, then %s without", benchGateways, targetGateway, targetGatewayNoBill)
	}
	for _, g := range benchGateways {
		cfg, err := configs.Load([]byte(gatewayConfig("127.0.0.1:1234", "/tmp/data-"+g.name, "http://127.0.0.1:9999", g.billing)), func(string) string { return "" })
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if cfg.Billing.Disabled == g.billing || cfg.DataDir != "/tmp/data-"+g.name {
			t.Errorf("%s: billing disabled %v, data dir %q", g.name, cfg.Billing.Disabled, cfg.DataDir)
		}
		if p, ok := cfg.Billing.Prices["mock/"+mockModel]; !ok || p.Input == nil || *p.Input != "1" || p.Output == nil || *p.Output != "2" {
			t.Errorf("%s: prices %+v", g.name, cfg.Billing.Prices)
		}
		if len(cfg.Auth.Keys) != 1 || cfg.Auth.Keys[0].RPM != benchKeyRPM || cfg.Auth.Keys[0].TPM != benchKeyTPM {
			t.Errorf("%s: keys %+v", g.name, cfg.Auth.Keys)
		}
	}
}
