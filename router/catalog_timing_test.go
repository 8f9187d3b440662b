package router

import (
	"testing"

	"switchboard/configs"
)

func BenchmarkCatalogLookup(b *testing.B) {
	c := embeddedCatalog(b)
	ids := []struct{ provider, id string }{
		{"openai", "gpt-4o"},
		{"anthropic", "claude-sonnet-4-5"},
		{"fireworks", "accounts/fireworks/models/deepseek-v3p1"},
		{"openrouter", "google/gemini-2.5-flash"},
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := ids[i%len(ids)]
			if _, ok := c.Lookup(k.provider, k.id); !ok {
				b.Fatal("not found")
			}
			i++
		}
	})
}

func BenchmarkCatalogOffering(b *testing.B) {
	c := embeddedCatalog(b)
	b.ReportAllocs()
	for b.Loop() {
		if len(c.Offering("openai/gpt-oss-120b")) == 0 {
			b.Fatal("not found")
		}
	}
}

func BenchmarkLoadCatalog(b *testing.B) {
	data := configs.Catalog
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := LoadCatalog(data); err != nil {
			b.Fatal(err)
		}
	}
}
