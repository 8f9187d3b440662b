package router

import (
	"testing"
	"time"
)

func BenchmarkOrder(b *testing.B) {
	r := selectRouter(b, 0)
	for _, name := range []string{"a", "b", "c"} {
		health(r, name).Success(t0, time.Millisecond)
	}
	prefs := &ProviderPrefs{Order: []string{"c"}, Ignore: []string{"d"}}
	for _, bc := range []struct {
		model string
		prefs *ProviderPrefs
	}{{"prio", nil}, {"weighted", nil}, {"latency", nil}, {"price", nil}, {"default", nil}, {"default", prefs}, {"a/m", nil}} {
		name := bc.model
		if name == "a/m" {
			name = "single"
		}
		if bc.prefs != nil {
			name += "+prefs"
		}
		b.Run(name, func(b *testing.B) {
			var rt Route
			if err := r.Resolve(bc.model, &rt); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var buf [8]Target
				for pb.Next() {
					if _, err := r.Order(buf[:0], &rt, bc.prefs, t0, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
