package main

import (
	"encoding/json"
	"testing"
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
