package configs

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Store chooses where keys, accounts, the ledger, rate limits and the
// response cache live. All of it is read once at start: a reload keeps
// the running store and logs that a change needs a restart.
type Store struct {
	// Backend is "pebble" (the default: everything in the embedded store
	// under data_dir, one node) or "postgres": keys, accounts, plans and
	// the ledger in PostgreSQL, rate limits and the response cache in
	// Redis, so several gateways behind a load balancer share them. Each
	// node still keeps data_dir, where ledger entries wait while
	// PostgreSQL is unreachable.
	Backend string `yaml:"backend"`
	// PostgresURL is the PostgreSQL connection URL,
	// postgres://user:password@host:5432/db?sslmode=require (a unix
	// socket: postgres:///db?host=/run/postgresql). Required by the
	// postgres backend; usually written as ${SWITCHBOARD_POSTGRES_URL}.
	PostgresURL Secret `yaml:"postgres_url"`
	// RedisURL is the Redis (or Valkey) URL: redis://[:password@]host:6379/0,
	// rediss:// for TLS, or unix:///path/to/redis.sock. Required by the
	// postgres backend; usually written as ${SWITCHBOARD_REDIS_URL}.
	RedisURL Secret `yaml:"redis_url"`
	// LeaseMax caps the credit one node leases from an account's balance
	// at a time, in dollars. Default "1": a node holds at most this much
	// of an account that other nodes cannot spend until it is returned.
	LeaseMax Dollars `yaml:"lease_max"`
	// LeaseShare is the share of an account's available balance one
	// lease takes, from 0.01 to 1, before LeaseMax caps it. Default 0.1.
	LeaseShare float64 `yaml:"lease_share"`
	// KeyRefresh is how often a node reloads every key from PostgreSQL,
	// besides the change notifications that reach it at once; it bounds
	// how long a missed notification goes unnoticed. Default 5s, 1s to
	// 10m.
	KeyRefresh Duration `yaml:"key_refresh"`
	// WhenDown says what a node does while a shared backend is
	// unreachable.
	WhenDown WhenDown `yaml:"when_down"`
}

// WhenDown is the behaviour per class of check while its backend is
// unreachable: "fail_closed" refuses the call, "fail_open" serves it.
type WhenDown struct {
	// Money governs credit checks while PostgreSQL is down and the
	// node's lease of an account is spent: fail_closed (the default)
	// answers 402, fail_open serves and bills the call into the local
	// spool, which may overspend the account. Ledger entries are spooled
	// either way and reach PostgreSQL when it is back.
	Money string `yaml:"money"`
	// Limits governs RPM/TPM limits while Redis is down: fail_open (the
	// default) serves without limits, fail_closed answers 503
	// (rate_limits_unavailable, retry-after: 1).
	Limits string `yaml:"limits"`
}

// Store backends and WhenDown values.
const (
	BackendPebble   = "pebble"
	BackendPostgres = "postgres"
	FailOpen        = "fail_open"
	FailClosed      = "fail_closed"
)

// Postgres reports whether the store is the postgres backend.
func (s *Store) Postgres() bool { return s.Backend == BackendPostgres }

func (s *Store) applyDefaults() {
	setDefault(&s.Backend, BackendPebble)
	setDefault(&s.LeaseMax, Dollars(1_000_000_000)) // $1 in nano-dollars
	setDefault(&s.LeaseShare, 0.1)
	setDefault(&s.KeyRefresh, Duration(5*time.Second))
	setDefault(&s.WhenDown.Money, FailClosed)
	setDefault(&s.WhenDown.Limits, FailOpen)
}

func (s *Store) validate() []problem {
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, path + ": " + fmt.Sprintf(format, args...)})
	}
	switch s.Backend {
	case BackendPebble:
	case BackendPostgres:
		if s.PostgresURL == "" {
			add("store.postgres_url", "the postgres backend keeps keys, accounts and the ledger in PostgreSQL: want postgres://user:password@host:5432/db (often ${SWITCHBOARD_POSTGRES_URL}), got nothing")
		}
		if s.RedisURL == "" {
			add("store.redis_url", "the postgres backend keeps rate limits and the response cache in Redis, shared by every node: want redis://host:6379, rediss:// or unix:///path (often ${SWITCHBOARD_REDIS_URL}), got nothing")
		}
	default:
		add("store.backend", `want "pebble" or "postgres", got %q`, s.Backend)
	}
	if s.PostgresURL != "" {
		if u, err := url.Parse(string(s.PostgresURL)); err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
			add("store.postgres_url", "want a postgres:// or postgresql:// URL, got %s", redactedURL(string(s.PostgresURL)))
		}
	}
	if s.RedisURL != "" {
		u, err := url.Parse(string(s.RedisURL))
		switch {
		case err != nil:
			add("store.redis_url", "want redis://host:port, rediss://host:port or unix:///path, got %s", redactedURL(string(s.RedisURL)))
		case u.Scheme == "redis" || u.Scheme == "rediss":
			if u.Host == "" {
				add("store.redis_url", "want a host in %s://host:port", u.Scheme)
			}
		case u.Scheme == "unix":
			if !strings.HasPrefix(u.Path, "/") {
				add("store.redis_url", "want unix:///absolute/path/to/redis.sock, got %s", redactedURL(string(s.RedisURL)))
			}
		default:
			add("store.redis_url", "want redis://host:port, rediss://host:port or unix:///path, got %s", redactedURL(string(s.RedisURL)))
		}
	}
	if s.LeaseMax <= 0 {
		add("store.lease_max", "want a positive dollar amount")
	}
	if !(s.LeaseShare >= 0.01 && s.LeaseShare <= 1) {
		add("store.lease_share", "want a share from 0.01 to 1, got %v", s.LeaseShare)
	}
	if s.KeyRefresh < Duration(time.Second) || s.KeyRefresh > Duration(10*time.Minute) {
		add("store.key_refresh", "want 1s to 10m, got %v", s.KeyRefresh.D())
	}
	if m := s.WhenDown.Money; m != FailClosed && m != FailOpen {
		add("store.when_down.money", `want "fail_closed" or "fail_open", got %q`, m)
	}
	if l := s.WhenDown.Limits; l != FailClosed && l != FailOpen {
		add("store.when_down.limits", `want "fail_open" or "fail_closed", got %q`, l)
	}
	return ps
}

// redactedURL names a URL's scheme for an error, never its password:
// "a redis:// URL", or "an unparsable URL".
func redactedURL(s string) string {
	if scheme, _, ok := strings.Cut(s, "://"); ok && scheme != "" && !strings.ContainsAny(scheme, "@:/") {
		return fmt.Sprintf("a %s:// URL", scheme)
	}
	return "a value that is no URL"
}
