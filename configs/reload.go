package configs

import (
	"reflect"
	"slices"
	"strings"
)

// reloadable are the config paths a reload (SIGHUP) applies to the
// running gateway: what it builds per config and swaps in one piece
// (providers and their pools, routes, keys, billing, caches, web
// search), and the server settings it reads per call or at shutdown. A
// field under one of these paths is reloadable too, new ones included.
// Every other field is read once at start (the listener, the store, the
// server's limits, logging, telemetry): a reload keeps its running value
// and logs that it needs a restart.
var reloadable = []string{
	"server.write_timeout",
	"server.drain_timeout",
	"server.sse_keepalive",
	"server.websocket",
	"auth",
	"billing.disabled",
	"billing.unpriced",
	"billing.default_max_output",
	"billing.plans",
	"billing.prices",
	"cache",
	"web_search",
	"aliases",
	"routes",
	"providers",
}

// KeepRunning sets every field of c that a reload cannot apply to its
// value in running, the config the gateway runs on, and returns the paths
// of those that differed ("listen", "server.max_conns"), in field order.
// c is then the config the gateway runs on after the reload.
func (c *Config) KeepRunning(running *Config) []string {
	var kept []string
	keepRunning(reflect.ValueOf(c).Elem(), reflect.ValueOf(running).Elem(), "", &kept)
	return kept
}

func keepRunning(dst, src reflect.Value, prefix string, kept *[]string) {
	t := dst.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue // derived from other fields
		case "":
			name = t.Field(i).Name
		}
		path := prefix + name
		switch {
		case slices.Contains(reloadable, path):
		case t.Field(i).Type.Kind() == reflect.Struct:
			keepRunning(dst.Field(i), src.Field(i), path+".", kept)
		case !reflect.DeepEqual(dst.Field(i).Interface(), src.Field(i).Interface()):
			dst.Field(i).Set(src.Field(i))
			*kept = append(*kept, path)
		}
	}
}
