package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// startHeaderProxy serves a stand-in for the gateway's features in front
// of the mock at upstream: it relays each request and sets on the answer
// the headers decide gives for the request. It returns its base URL.
func startHeaderProxy(t *testing.T, upstream string, decide func(req *fasthttp.Request, h *fasthttp.ResponseHeader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := &fasthttp.HostClient{Addr: strings.TrimPrefix(upstream, "http://")}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		req := &ctx.Request
		if err := client.Do(req, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			return
		}
		decide(req, &ctx.Response.Header)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// withFeatureGateway returns the targets and a target named as the
// billing-on gateway at a header proxy in front of the mock.
func withFeatureGateway(t *testing.T, targets []*target, o *options, decide func(req *fasthttp.Request, h *fasthttp.ResponseHeader)) []*target {
	t.Helper()
	base := startHeaderProxy(t, findTarget(targets, targetDirect).base, decide)
	gw, err := newTarget(targetGateway, base, gatewayKey, mockModel, nil, o.workers, o.timeout)
	if err != nil {
		t.Fatal(err)
	}
	return append(targets, gw)
}

// bodyModel returns the model of a chat request body.
func bodyModel(req *fasthttp.Request) string {
	_, rest, _ := strings.Cut(string(req.Body()), `"model":"`)
	model, _, _ := strings.Cut(rest, `"`)
	return model
}

func TestGatewayOwnConns(t *testing.T) {
	targets, o := testTargets(t)
	if gatewayOwnConns(targets) != nil {
		t.Fatal("a feature gateway without the gateway")
	}
	targets = withFakeGateways(t, targets, o)
	gw, fg := findTarget(targets, targetGateway), gatewayOwnConns(targets)
	if fg.client == gw.client || fg.client.Addr != gw.client.Addr || fg.client.MaxIdemponentCallAttempts != 1 || fg.client.MaxConns != gw.client.MaxConns || fg.name != gw.name {
		t.Fatalf("feature gateway %+v, gateway %+v", fg, gw)
	}
	if err := fg.call(fg.request(false), new(fasthttp.Response), time.Now().Add(o.timeout)); err != nil {
		t.Fatal(err)
	}
}
