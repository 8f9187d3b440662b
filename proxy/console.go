package proxy

import (
	"strings"

	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/proxy/console"
)

// serveConsole answers a request for the operator console under /ui/
// (package console), its errors in the OpenAI shape like the admin
// API's, and logs it. It is off the proxied calls' path: route sends
// only /ui and /ui/... here.
func (s *Server) serveConsole(ctx *fasthttp.RequestCtx, rt *runtimeState, path string) {
	if path == "/ui" {
		ctx.Redirect("/ui/", fasthttp.StatusMovedPermanently)
		return
	}
	s.serveAPILike(ctx, func() error {
		return s.console.Serve(ctx, strings.TrimPrefix(path, "/ui/"), rt.console)
	})
}

// consoleBackend is what the console reads of runtime rt.
func consoleBackend(rt *runtimeState, cfg *configs.Config) *console.Backend {
	plans := make([]string, len(cfg.Billing.Plans))
	for i, p := range cfg.Billing.Plans {
		plans[i] = p.Name
	}
	return &console.Backend{Login: rt.api.Login, Models: rt.modelList.openAI.all, Plans: plans}
}

// adminKeysChanged reports whether a reload from prev to cfg changes an
// admin key, which ends the console's sessions.
func adminKeysChanged(prev, cfg *configs.Config) bool {
	return prev.Auth.MasterKey != cfg.Auth.MasterKey || prev.Auth.ViewerKey != cfg.Auth.ViewerKey
}
