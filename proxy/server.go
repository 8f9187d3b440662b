// Package proxy is the gateway's request path: a fasthttp server whose
// API surfaces (surface.go) share one path (request.go), through
// gateway-key auth and limits, billing, the cost savers, the attempt
// loop over the router's plan (failover.go), and the answer or SSE relay
// (answer.go, sse.go); everything that differs between wire formats is
// one row of formats (format.go), and errors.go alone writes errors.
// Health, readiness and metrics are served here too.
package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"switchboard/configs"
	"switchboard/proxy/console"
	"switchboard/router"
	"switchboard/store"
	"switchboard/store/redis"
	"switchboard/telemetry"
	"switchboard/upstream"
)

// Server serves the gateway's HTTP API. Create it with New; it is safe
// for concurrent use. What it builds from the config is its runtime
// (runtime.go), which Reload replaces; the rest lives as long as the
// Server.
type Server struct {
	rt        atomic.Pointer[runtimeState] // loaded once per request
	mu        sync.Mutex                   // serializes Reload and key-table reloads
	store     *store.Store                 // the web cache, and the response cache without Redis
	backend   store.Backend                // keys, balances, the ledger
	cache     cacheStore                   // the response cache: store's, or shared's
	shared    *redis.Client                // Redis (store.redis_url), nil without
	newLimits limiterFunc                  // the keys' limiters: in process, or shared's
	metrics   metricCache
	spend     spendCache
	log       *accessLog
	errLog    *log.Logger
	idPrefix  []byte
	idCounter uint64
	calls     atomic.Int64 // calls acquired and not yet finished
	http      *fasthttp.Server
	limits    *clientLimits
	affinity  *router.Affinity
	trim      *trimmer
	tel       *telemetry.Telemetry // nil when telemetry is off; a reload keeps it
	ws        wsSessions           // Responses over WebSocket (websocket.go)
	sessions  *console.Sessions    // the console's logins; a reload keeps them unless an admin key changes
	console   *console.Console
	stopped   sync.Once // Shutdown's flushes, once however often it is called
}

// New builds a Server for cfg that routes with r (whose targets carry
// their catalog prices), caches in st and meters calls in b (st itself
// with the pebble backend). It loads b's keys and marks the accounts of
// the config's operator keys unlimited. Access-log lines (when enabled)
// and error lines go to logOut.
func New(cfg *configs.Config, r *router.Router, st *store.Store, b store.Backend, logOut io.Writer) (*Server, error) {
	var prefix [4]byte
	_, _ = rand.Read(prefix[:])
	s := &Server{
		store:     st,
		backend:   b,
		errLog:    log.New(logOut, "switchboard: ", log.LstdFlags),
		idPrefix:  []byte(hex.EncodeToString(prefix[:])),
		affinity:  router.NewAffinity(affinityTTL, affinitySize),
		cache:     st,
		newLimits: localLimits,
		sessions:  console.NewSessions(console.MaxSessions, console.SessionTTL),
	}
	if url := string(cfg.Store.RedisURL); url != "" {
		c, err := redis.Open(url)
		if err != nil {
			return nil, err
		}
		s.shared, s.cache = c, c
		s.newLimits = sharedLimiter(c, cfg.Store.WhenDown.Limits == configs.FailClosed)
	}
	s.console = console.New(s.sessions)
	rt, err := s.newRuntime(cfg, r, nil)
	if err != nil {
		s.closeShared()
		return nil, err
	}
	s.rt.Store(rt)
	warmCodecs()
	if s.tel, err = telemetry.New(cfg.Telemetry, s.errLog); err != nil {
		return nil, err
	}
	s.trim = startTrimmer()
	if *cfg.Log.Access {
		s.log = newAccessLog(logOut)
	}
	s.limits = newClientLimits(cfg.Server)
	fasthttp.SetBodySizePoolLimit(pooledBodyMax, -1)
	s.http = &fasthttp.Server{
		Handler:                       s.recovering(s.route),
		ErrorHandler:                  s.requestError,
		Name:                          "switchboard",
		Logger:                        s.errLog,
		ReadTimeout:                   cfg.Server.HeaderTimeout.D(), // the request line and headers
		HeaderReceived:                s.limits.headerReceived,      // the body's deadline: see clientLimits
		IdleTimeout:                   cfg.Server.IdleTimeout.D(),
		MaxRequestBodySize:            int(cfg.Server.MaxBodyBytes),
		ReadBufferSize:                int(cfg.Server.MaxHeaderBytes),
		ReduceMemoryUsage:             true, // the read buffer goes back to the pool once a request is read, not held for a whole stream
		DisablePreParseMultipartForm:  true,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
		DisableHeaderNamesNormalizing: false,
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown, at most
// server.max_conns at once.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(s.limits.listen(ln)) }

// Shutdown drains the server: it stops accepting, waits for open
// requests (streams included) and WebSocket sessions (each ends after
// its turn, an idle one at once, with close code 1001) to end or ctx to
// expire, flushes the access
// log, exports the telemetry still queued (within ctx) and stops the
// memory trimmer. When ctx expires first it closes the client connections
// still open, so that their calls end at once (a stream is billed for
// what it produced, like one its client abandons), and waits up to
// cutWait for them to settle; the caller then closes the store, which
// flushes the ledger. It returns ctx's error in that case. Calling it
// again only waits for what is still open.
func (s *Server) Shutdown(ctx context.Context) error {
	wsDone := s.ws.close() // fasthttp does not wait for the connections it handed over
	err := s.http.ShutdownWithContext(ctx)
	if err == nil {
		select {
		case <-wsDone:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		n := s.limits.closeAll()
		deadline := time.Now().Add(cutWait)
		for s.calls.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		err = fmt.Errorf("%w: cut %d connections still open, %d calls not settled", err, n, s.calls.Load())
	}
	s.stopped.Do(func() {
		if s.log != nil {
			s.log.Close()
		}
		if terr := s.tel.Shutdown(ctx); terr != nil {
			s.errLog.Printf("telemetry: %v", terr)
		}
		s.trim.close()
		s.closeShared()
	})
	return err
}

// closeShared closes the Redis client, if any, once its last token
// charges are written. It runs once, and leaves s.shared set: a call cut
// by the drain may still read it, and gets the closed client's errors.
func (s *Server) closeShared() {
	if s.shared != nil {
		s.shared.Close()
	}
}

// cacheStore is where the response cache lives: the store's Pebble (one
// node), or Redis (store/redis), which every node shares.
type cacheStore interface {
	CacheGet(dst []byte, ns store.CacheNamespace, key [32]byte, now time.Time) ([]byte, store.CacheMeta, bool, error)
	CachePut(ns store.CacheNamespace, key [32]byte, value []byte, ttl time.Duration, now time.Time) error
	SetCacheLimit(bytes int64) error
	WriteCacheMetrics(w io.Writer)
}

// cutWait bounds how long Shutdown waits for the calls it cut to settle:
// a cut call ends at its next write or upstream read, within moments.
const cutWait = 5 * time.Second

// route dispatches a request to its API surface. "/v1" may be left out of
// the OpenAI paths, for clients whose base URL is the host root.
func (s *Server) route(ctx *fasthttp.RequestCtx) {
	rt := s.rt.Load()          // the whole request runs on this config
	path := string(ctx.Path()) // no allocation: compared, never kept
	switch path {
	case "/healthz":
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("ok\n")
		return
	case "/readyz":
		s.ready(ctx)
		return
	case "/openapi.json":
		openAPI(ctx)
		return
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4")
		metrics.WritePrometheus(ctx, true)
		s.cache.WriteCacheMetrics(ctx)
		return
	case "/v1beta/models":
		s.geminiModels(ctx, rt, "")
		return
	default:
		// A GET of a Gemini model; its calls (":generateContent", ...)
		// are POSTs.
		if id, ok := strings.CutPrefix(path, "/v1beta/models/"); ok && ctx.IsGet() {
			s.geminiModels(ctx, rt, id)
			return
		}
	}
	if path == "/ui" || strings.HasPrefix(path, "/ui/") {
		s.serveConsole(ctx, rt, path)
		return
	}
	if rest, ok := strings.CutPrefix(path, "/api/v1/"); ok {
		s.serveAPI(ctx, rt, strings.Clone(rest)) // a copy: path must not escape
		return
	}
	if sf, _, ok := geminiSurface(path); ok {
		s.serve(ctx, rt, sf)
		return
	}
	path = strings.TrimPrefix(path, "/v1")
	switch path {
	case "/chat/completions":
		s.serve(ctx, rt, surfaceChat)
	case "/completions":
		s.serve(ctx, rt, surfaceCompletions)
	case "/embeddings":
		s.serve(ctx, rt, surfaceEmbeddings)
	case "/messages":
		s.serve(ctx, rt, surfaceMessages)
	case "/messages/count_tokens":
		s.serve(ctx, rt, surfaceCountTokens)
	case "/responses":
		if isWebSocketUpgrade(ctx) {
			s.upgradeResponses(ctx, rt)
			return
		}
		s.serve(ctx, rt, surfaceResponses)
	case "/responses/compact":
		s.serve(ctx, rt, surfaceCompact)
	case "/models":
		s.models(ctx, rt, "")
	case "/dashboard/billing/credits":
		s.serveAPI(ctx, rt, "dashboard/billing/credits")
	default:
		if id, ok := strings.CutPrefix(path, "/models/"); ok {
			s.models(ctx, rt, id)
			return
		}
		writeErrorIn(ctx, formatOf(unknownPathFormat(path)), errNotFound)
	}
}

// unknownPathFormat is the wire format whose error shape answers an
// unknown path (with "/v1" cut from its start): Google's under /v1beta,
// Anthropic's under /v1/messages, else the gateway's own, OpenAI's.
func unknownPathFormat(path string) upstream.Format {
	switch {
	case strings.HasPrefix(path, "beta/"), path == "beta":
		return upstream.FormatGemini
	case strings.HasPrefix(path, "/messages/"):
		return upstream.FormatAnthropic
	}
	return upstream.FormatOpenAI
}

// serveAPI answers a request of the management API (package api) for
// path, the part after /api/v1/ (or "dashboard/billing/credits" for
// OpenAI's legacy path) on runtime rt.
func (s *Server) serveAPI(ctx *fasthttp.RequestCtx, rt *runtimeState, path string) {
	s.serveAPILike(ctx, func() error { return rt.api.Serve(ctx, path) })
}

// serveAPILike answers a request of the management API or the console
// with serve, or its error in the OpenAI shape, under a request id of
// its own, and logs it.
func (s *Server) serveAPILike(ctx *fasthttp.RequestCtx, serve func() error) {
	start := time.Now()
	id := s.appendRequestID(nil)
	err := serve()
	if err != nil {
		writeError(ctx, err)
	}
	ctx.Response.Header.SetBytesV(headerRequestID, id)
	if s.log != nil {
		s.log.writeAPI(ctx, id, start, time.Now(), err)
	}
}

var (
	errNotFound         = fmt.Errorf("%w: no such endpoint; see /v1/chat/completions, /v1/responses, /v1/messages, /v1beta/models/{model}:generateContent, /v1/completions, /v1/embeddings, /v1/models", errNoRoute)
	errNoRoute          = errors.New("not found")
	errMethodNotAllowed = errors.New("method not allowed")
	errUnknownModelID   = fmt.Errorf("%w: no such model; GET /v1/models lists them", router.ErrUnknownModel)
)

// ready answers 200 "ready" when the config is loaded (it is, or there
// would be no server) and the store is open, 503 when it is not. With
// the postgres backend it answers 200 "degraded: <reason>" while
// PostgreSQL is unreachable or ledger entries wait in the local spool:
// the node still serves, from its leases.
func (s *Server) ready(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain")
	err := s.store.Ready()
	if err == nil {
		err = s.backend.Ready()
	}
	if err == nil {
		d := s.backend.Degraded()
		if d == nil && s.shared != nil {
			d = s.shared.Degraded()
		}
		if d != nil {
			ctx.SetBodyString("degraded: " + d.Error() + "\n")
			return
		}
	}
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("not ready: " + err.Error() + "\n")
		return
	}
	ctx.SetBodyString("ready\n")
}

// recovering turns a panic in h into a 500 answer and a log line, so bad
// input can never take the process down.
func (s *Server) recovering(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if v := recover(); v != nil {
				s.logPanic(v)
				writeError(ctx, fmt.Errorf("panic: %v", v))
			}
		}()
		h(ctx)
	}
}

func (s *Server) logPanic(v any) {
	s.errLog.Printf("BUG: recovered panic: %v\n%s", v, debug.Stack())
}

// requestError answers requests fasthttp could not read: body over the
// limit (413, before the body is buffered), a client too slow to send its
// request (408), headers over the limit (431), anything else malformed
// (400). None of these is the upstream's fault, so never 502.
func (s *Server) requestError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, err)
	case errors.As(err, &small):
		writeError(ctx, errHeadersTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		writeError(ctx, errRequestTimeout)
	default:
		writeError(ctx, fmt.Errorf("%w: cannot read request: %v", errBadRequest, err))
	}
	ctx.SetConnectionClose()
}

var (
	errHeadersTooLarge = errors.New("request headers are larger than the gateway's limit (server.max_header_bytes)")
	errRequestTimeout  = errors.New("request not received in time: headers within server.header_timeout, a body within server.read_timeout plus its length at server.body_min_rate")
)
