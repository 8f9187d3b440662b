// Command switchboard is a self-hosted AI API gateway: one OpenAI- and
// Anthropic-compatible endpoint in front of many model providers, on
// pooled direct connections, with a ledger of what every call cost.
//
//	switchboard [-config FILE] [-listen ADDR] [-check] [-version]
//	switchboard mock [-listen ADDR]
//	switchboard keys create|list|revoke ..., switchboard accounts topup|show ...
//	switchboard version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"switchboard/bench/mock"
	"switchboard/configs"
	"switchboard/proxy"
	"switchboard/router"
	"switchboard/store"
	"switchboard/store/money"
	"switchboard/store/postgres"
	"switchboard/upstream"
)

const usage = `switchboard: an AI API gateway.

Usage:
  switchboard [flags]          run the gateway
  switchboard mock [flags]     run the mock provider, which speaks OpenAI, Anthropic, Responses and Gemini (for tests and benchmarks)
  switchboard keys create|list|revoke, switchboard accounts topup|show
                               call a running gateway's admin API ("switchboard keys --help")
  switchboard version          print the version and exit

With no -config, the embedded default config (configs/switchboard.yaml) is
used: providers turn on when their API key is in the environment
(OPENAI_API_KEY, GROQ_API_KEY, ...), and clients authenticate with
SWITCHBOARD_API_KEY. SWITCHBOARD_MASTER_KEY turns on the admin API, and
SWITCHBOARD_DATA_DIR moves the store (default ./data).

Signals: SIGHUP re-reads the config and swaps it in for new requests
(open ones finish on the old one; a config with errors is logged and the
running one kept; listen, data_dir and server limits need a restart).
SIGTERM or SIGINT stops accepting, lets open requests finish for up to
server.drain_timeout, cuts the rest (billed for what they produced),
flushes the ledger and exits.

Flags:
`

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "mock":
			os.Exit(runMock(os.Args[2:]))
		case "keys", "accounts":
			os.Exit(runAdmin(os.Args[1:], os.Stdout, os.Stderr))
		case "version":
			fmt.Println(version())
			os.Exit(0)
		}
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("switchboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (default: the embedded configs/switchboard.yaml)")
	listen := fs.String("listen", "", "address to serve on, host:port or unix:/path, overriding the config's listen")
	check := fs.Bool("check", false, "validate the config and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stderr, version())
		return 0
	}
	logger := log.New(stderr, "switchboard: ", log.LstdFlags)

	source := "embedded default config"
	if *configPath != "" {
		source = *configPath
	}
	cfg, err := loadConfig(*configPath, *listen)
	if err != nil {
		logger.Printf("%s: %v", source, err)
		return 1
	}
	rt, err := router.Build(cfg, configs.Catalog, nil)
	if err != nil {
		logger.Printf("%s: %v", source, err)
		return 1
	}
	providers := rt.Providers()
	if *check {
		fmt.Fprintf(stderr, "%s: ok (%d providers enabled)\n", source, countEnabled(providers))
		for _, line := range providerLines(providers) {
			fmt.Fprintln(stderr, "  "+line)
		}
		return 0
	}

	opts := store.Options{SyncInterval: cfg.Billing.SyncInterval.D(), Outbox: cfg.Store.Postgres()}
	if cfg.Billing.SyncInterval.Always() {
		opts.SyncInterval = store.SyncAlways
	}
	st, err := store.OpenWith(cfg.DataDir, opts)
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer st.Close() // on the early returns; the shutdown closes it itself, to report its error
	backend, pg, err := openBackend(cfg, st, logger)
	if err != nil {
		logger.Print(err)
		return 1
	}
	if pg != nil {
		defer pg.Close(context.Background()) //nolint:errcheck // on the early returns; the shutdown reports its error
	}
	ln, err := openListener(cfg.Listen, os.FileMode(cfg.Server.SocketMode))
	if err != nil {
		logger.Printf("cannot listen on %q: %v", cfg.Listen, err)
		return 1
	}
	defer ln.Close() // a unix socket's file goes with it
	srv, err := proxy.New(cfg, rt, st, backend, stderr)
	if err != nil {
		logger.Print(err)
		return 1
	}
	if pg != nil {
		pg.WatchKeys(srv.ReloadKeys)
	}
	admin := "on"
	switch {
	case cfg.Auth.MasterKey != "":
	case cfg.Auth.ViewerKey != "":
		admin = "read-only: auth.viewer_key only"
	case *configPath == "":
		admin = "off: set SWITCHBOARD_MASTER_KEY"
	default:
		admin = "off: set auth.master_key"
	}
	logger.Printf("%s serving on %s (%s, %d providers enabled, auth %s, admin API %s)",
		version(), servingOn(ln), source, countEnabled(providers), map[bool]string{true: "off", false: "on"}[cfg.Auth.Disabled], admin)
	for _, line := range providerLines(providers) {
		logger.Print(line)
	}
	warmProviders(providers, logger)

	// Catch the signals before serving: a SIGTERM right after the first
	// answer (say, to /readyz) must shut down gracefully, not kill.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	for stop := false; !stop; {
		select {
		case err := <-done:
			logger.Printf("server stopped: %v", err)
			return 1
		case s := <-sig:
			if s == syscall.SIGHUP {
				reload(srv, *configPath, *listen, source, logger)
				continue
			}
			logger.Printf("%v: shutting down, waiting up to %v for open requests (server.drain_timeout)", s, srv.Config().Server.DrainTimeout.D())
			stop = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), srv.Config().Server.DrainTimeout.D())
	defer cancel()
	code := 0
	if err := srv.Shutdown(ctx); err != nil {
		logger.Printf("shutdown: %v", err)
		code = 1
	}
	if pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := pg.Close(ctx)
		cancel()
		if err != nil {
			// What is left stays in the local spool for the next start.
			logger.Printf("cannot ship the ledger to PostgreSQL: %v", err)
			code = 1
		}
	}
	if err := st.Close(); err != nil {
		logger.Printf("cannot flush the ledger: %v", err)
		return 1
	}
	logger.Print("ledger flushed; exiting")
	return code
}

// openBackend opens what keys, accounts and the ledger live in: st
// itself with the pebble backend, else PostgreSQL (pg), migrated, with st
// as this node's lease holder and spool.
func openBackend(cfg *configs.Config, st *store.Store, logger *log.Logger) (store.Backend, *postgres.Store, error) {
	if !cfg.Store.Postgres() {
		return st, nil, nil
	}
	node, err := postgres.NodeID(cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read or make the node id in %q: %w", cfg.DataDir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pg, err := postgres.Open(ctx, string(cfg.Store.PostgresURL), st, postgres.Options{
		Node:       node,
		LeaseMax:   money.Money(cfg.Store.LeaseMax),
		LeaseShare: cfg.Store.LeaseShare,
		KeyRefresh: cfg.Store.KeyRefresh.D(),
		FailOpen:   cfg.Store.WhenDown.Money == configs.FailOpen,
		Logf:       logger.Printf,
	})
	if err != nil {
		return nil, nil, err
	}
	logger.Printf("store: PostgreSQL, node %s", node)
	return pg, pg, nil
}

// loadConfig reads and validates the config file at path (the embedded
// default when path is ""), with the -listen flag's address, when
// given, over the file's.
func loadConfig(path, listen string) (*configs.Config, error) {
	data := configs.Default
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("cannot read config: %w", err)
		}
	}
	cfg, err := configs.Load(data, os.Getenv)
	if err != nil {
		return nil, err
	}
	if listen != "" {
		cfg.Listen = listen
	}
	return cfg, nil
}

// configReloads counts the config reloads (SIGHUP) by result: ok, or
// error when the new config was rejected and the running one kept.
var (
	configReloadsOK    = metrics.NewCounter(`switchboard_config_reloads_total{result="ok"}`)
	configReloadsError = metrics.NewCounter(`switchboard_config_reloads_total{result="error"}`)
)

// reload re-reads and validates the config (SIGHUP) and swaps it into
// srv whole (proxy.Server.Reload): requests from then on see it, open
// ones finish on the old one. A config that does not read, load or
// build is rejected with its errors, field paths included, and the
// running one is kept; a field that cannot change without a restart
// keeps its running value and is logged.
func reload(srv *proxy.Server, path, listen, source string, logger *log.Logger) {
	err := func() error {
		cfg, err := loadConfig(path, listen)
		if err != nil {
			return err
		}
		rt, err := router.Build(cfg, configs.Catalog, srv.Router())
		if err != nil {
			return err
		}
		kept, err := srv.Reload(cfg, rt)
		if err != nil {
			return err
		}
		for _, field := range kept {
			logger.Printf("reload: %s changed and needs a restart; keeping the running value", field)
		}
		logger.Printf("reload: %s applied (%d providers enabled)", source, countEnabled(rt.Providers()))
		return nil
	}()
	if err != nil {
		configReloadsError.Inc()
		logger.Printf("reload: %s rejected, keeping the running config: %v", source, err)
		return
	}
	configReloadsOK.Inc()
}

// warmProviders connects to every enabled provider's host once, in the
// background, so the first call finds the address and a TLS session
// cached (see upstream.Provider.Warm); a host it cannot reach is logged,
// since its calls will fail the same way.
func warmProviders(providers []*upstream.Provider, logger *log.Logger) {
	for _, p := range providers {
		if p.Disabled {
			continue
		}
		go func() {
			if err := p.Warm(); err != nil {
				logger.Printf("provider %s: cannot connect at start: %v", p.Name, err)
			}
		}()
	}
}

// openListener opens the listener for a config's listen address. For
// unix:/path it first removes a stale socket left at path by a process
// that did not exit cleanly (anything else there is an error, never
// removed), and sets the socket file's mode; closing the listener
// removes the file.
func openListener(addr string, mode os.FileMode) (net.Listener, error) {
	network, address := configs.ListenNetwork(addr)
	if network != "unix" {
		return net.Listen(network, address)
	}
	if fi, err := os.Lstat(address); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket; move it or choose another path", address)
		}
		if err := os.Remove(address); err != nil {
			return nil, fmt.Errorf("cannot remove the stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", address)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(address, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cannot set the socket's mode (server.socket_mode): %w", err)
	}
	return ln, nil
}

// servingOn names where ln serves, as the start line logs it:
// http://host:port or unix:/path.
func servingOn(ln net.Listener) string {
	if a := ln.Addr(); a.Network() == "unix" {
		return "unix:" + a.String()
	}
	return "http://" + ln.Addr().String()
}

// providerLines describes the providers at start: one line per enabled
// provider with the models it serves by name and by pattern, and one line for the
// disabled ones with the environment variables that would enable them.
func providerLines(ps []*upstream.Provider) []string {
	var lines, off []string
	for _, p := range ps {
		switch {
		case !p.Disabled:
			var ids int
			var patterns []string
			for _, m := range p.Models {
				if configs.IsModelPattern(m) {
					patterns = append(patterns, m)
				} else {
					ids++
				}
			}
			serves := fmt.Sprintf("%d models by name", ids)
			if len(patterns) > 0 {
				serves += " and " + strings.Join(patterns, ", ")
			}
			lines = append(lines, fmt.Sprintf("provider %s: on, %s (%s)", p.Name, serves, p.Format))
		case len(p.EnableWith) > 0:
			off = append(off, p.Name+" ("+strings.Join(p.EnableWith, ", ")+")")
		default:
			off = append(off, p.Name+" (its base_url and api_key)")
		}
	}
	if len(off) > 0 {
		lines = append(lines, "providers off until their variables are set: "+strings.Join(off, ", "))
	}
	return lines
}

func countEnabled(ps []*upstream.Provider) int {
	n := 0
	for _, p := range ps {
		if !p.Disabled {
			n++
		}
	}
	return n
}

func runMock(args []string) int {
	fs := flag.NewFlagSet("switchboard mock", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9090", "address to serve the mock provider on")
	latency := fs.Duration("latency", 0, "fixed delay before every answer")
	chunks := fs.Int("chunks", 8, "content chunks per streamed answer")
	gap := fs.Duration("chunk-delay", 0, "delay between streamed chunks")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fmt.Fprintf(os.Stderr, "mock provider on http://%s/v1\n", *listen)
	if err := mock.ListenAndServe(*listen, mock.Options{Latency: *latency, Chunks: *chunks, ChunkDelay: *gap}); err != nil {
		fmt.Fprintf(os.Stderr, "mock: %v\n", err)
		return 1
	}
	return 0
}
