package proxy

import (
	"fmt"
	"time"

	"switchboard/configs"
	"switchboard/proxy/api"
	"switchboard/proxy/compress"
	"switchboard/proxy/console"
	"switchboard/router"
)

// runtimeState is everything the gateway builds from one config: the router
// (providers and their pools, routes, Healths), the config's keys, the
// billing rules, the cost savers' settings and the model lists. It is
// immutable once built (the Healths and key limiters inside change, as
// they are shared).
//
// A Server holds its runtime behind one atomic pointer, loaded once at
// the top of each request and carried in its call, so that a request
// never sees parts of two configs: a reload (Server.Reload) builds a
// whole new runtime beside the running one and swaps the pointer; calls
// that started before it, streams included, finish on the runtime they
// loaded, and the old one is garbage once the last of them ends. A
// lock or a copy of each setting per request was rejected: the load is
// one atomic read and allocates nothing.
type runtimeState struct {
	cfg          *configs.Config // the config in effect, restart-only fields as at start
	router       *router.Router
	modelList    *modelList
	keys         *keyIndex
	billing      *billing
	targets      *targetMetrics
	api          *api.API // /api/v1 and the legacy credit summary
	console      *console.Backend
	keepalive    time.Duration
	writeTimeout time.Duration
	promptCache  promptCache
	respCache    responseCache
	web          webSearch
	compressions map[*configs.Compression]compress.Options
}

// newRuntime builds the runtimeState of cfg routed by r. prev is the running
// runtime, nil at start: its keys' rate-limit windows and its metric
// series carry over. The caller holds s.mu (or owns s alone). Nothing
// the running gateway uses changes unless it returns nil.
func (s *Server) newRuntime(cfg *configs.Config, r *router.Router, prev *runtimeState) (*runtimeState, error) {
	rt := &runtimeState{
		cfg:          cfg,
		router:       r,
		modelList:    newModelList(r.Models()),
		billing:      newBilling(cfg, s.backend),
		keepalive:    cfg.Server.SSEKeepalive.D(),
		writeTimeout: cfg.Server.WriteTimeout.D(),
		promptCache:  newPromptCache(cfg.Cache.Prompt),
		respCache:    newResponseCache(cfg.Cache.Responses),
	}
	var err error
	if rt.web, err = newWebSearch(cfg.WebSearch); err != nil {
		return nil, err
	}
	if rt.compressions, err = compressionOptions(cfg); err != nil {
		return nil, err
	}
	var prevKeys *keyIndex
	if prev != nil {
		prevKeys = prev.keys
	}
	rt.keys = newKeyIndex(cfg.Auth, prevKeys, s.newLimits)
	if err := rt.keys.reload(s.backend); err != nil {
		return nil, fmt.Errorf("cannot load keys: %w", err)
	}
	for _, k := range append(rt.keys.config, anonymous) {
		if err := s.backend.SetUnlimited(k.Account); err != nil {
			return nil, fmt.Errorf("cannot open operator account %q: %w", k.Account, err)
		}
	}
	rt.api = api.New(api.Options{
		Store:        s.backend,
		Plans:        cfg.Billing.Plans,
		MasterKey:    cfg.Auth.MasterKey,
		ViewerKey:    cfg.Auth.ViewerKey,
		Secret:       presentedSecret,
		Authenticate: rt.keys.authenticateCaller,
		ReloadKeys:   s.ReloadKeys,
		Session:      s.sessions.Principal,
	})
	rt.console = consoleBackend(rt, cfg)
	if err := s.cache.SetCacheLimit(int64(cfg.Cache.Responses.MaxBytes)); err != nil {
		return nil, fmt.Errorf("cannot size the response cache: %w", err)
	}
	var prevTargets *targetMetrics
	if prev != nil {
		prevTargets = prev.targets
	}
	rt.targets = newTargetMetrics(r, prevTargets) // last: it retires prev's series
	return rt, nil
}

// ReloadKeys rebuilds the running runtime's key table from the backend,
// after the admin API changed a key (or, with the postgres backend,
// another node did). It takes s.mu, so a config reload running at the
// same time cannot swap in a table read before the change.
func (s *Server) ReloadKeys() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rt.Load().keys.reload(s.backend)
}

// Reload makes cfg, a config loaded and validated by configs.Load, the
// gateway's config, routed by r (router.Build with Router as its
// previous Router, so unchanged providers keep their pools). Fields a
// reload cannot apply keep their running value and are returned by path
// (configs.Config.KeepRunning). On an error nothing changed. Requests
// that arrive after Reload returns see the new config; those already
// open finish on the one they started with. Safe for concurrent use.
func (s *Server) Reload(cfg *configs.Config, r *router.Router) (kept []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.rt.Load()
	kept = cfg.KeepRunning(prev.cfg)
	rt, err := s.newRuntime(cfg, r, prev)
	if err != nil {
		return nil, err
	}
	s.rt.Store(rt)
	if adminKeysChanged(prev.cfg, cfg) {
		s.sessions.Clear()
	}
	return kept, nil
}

// Router returns the router requests are planned with now, for the
// next reload's router.Build.
func (s *Server) Router() *router.Router { return s.rt.Load().router }

// Config returns the config in effect: the last one Reload swapped in
// (with its restart-only fields as at start), else New's.
func (s *Server) Config() *configs.Config { return s.rt.Load().cfg }
