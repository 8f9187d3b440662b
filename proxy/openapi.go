package proxy

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// openAPIDocument is the OpenAPI 3.1 document of the gateway's own
// endpoints (health, metrics, models, billing and admin), served at
// GET /openapi.json without auth. TestOpenAPIMatchesRoutes holds it to
// the routes the server registers.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI answers GET /openapi.json.
func openAPI(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		writeError(ctx, errMethodNotAllowed)
		return
	}
	ctx.SetContentTypeBytes(contentTypeJSON)
	ctx.SetBody(openAPIDocument)
}
