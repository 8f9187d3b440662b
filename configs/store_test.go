package configs

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStoreDefaultsToPebble(t *testing.T) {
	c, err := Load([]byte("auth: {disabled: true}\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	s := c.Store
	if s.Backend != "pebble" || s.Postgres() || s.WhenDown.Money != "fail_closed" || s.WhenDown.Limits != "fail_open" ||
		s.LeaseMax != Dollars(1e9) || s.LeaseShare != 0.1 || s.KeyRefresh.D() != 5*time.Second {
		t.Errorf("store defaults: %+v", s)
	}
}

func TestStorePostgresFromEnvironment(t *testing.T) {
	c, err := Load([]byte(`auth: {disabled: true}
store:
  backend: postgres
  postgres_url: ${PG_URL}
  redis_url: ${REDIS_URL}
  lease_max: "0.25"
  when_down: {money: fail_open, limits: fail_closed}
`), env("PG_URL", "postgres://sb:pw@127.0.0.1:5432/sb", "REDIS_URL", "unix:///run/redis/redis.sock"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Store
	if !s.Postgres() || s.PostgresURL != "postgres://sb:pw@127.0.0.1:5432/sb" || s.RedisURL != "unix:///run/redis/redis.sock" ||
		s.LeaseMax != Dollars(25e7) || s.WhenDown.Money != "fail_open" || s.WhenDown.Limits != "fail_closed" {
		t.Errorf("store: %+v", s)
	}
	for _, u := range []string{"redis://127.0.0.1:6379/0", "rediss://:pw@cache.internal:6380", "unix:///tmp/r.sock"} {
		if _, err := Load([]byte("auth: {disabled: true}\nstore: {backend: postgres, postgres_url: 'postgresql:///sb?host=/tmp', redis_url: '"+u+"'}\n"), env()); err != nil {
			t.Errorf("redis_url %q: %v", u, err)
		}
	}
}

func TestStoreValidation(t *testing.T) {
	base := "auth: {disabled: true}\n"
	f := func(yamlText string, want ...string) {
		t.Helper()
		_, err := Load([]byte(base+yamlText), env())
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error %v does not contain %q", err, w)
			}
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error echoes a password: %v", err)
		}
	}
	f("store: {backend: postgres}\n",
		"store.postgres_url: the postgres backend keeps keys, accounts and the ledger in PostgreSQL",
		"store.redis_url: the postgres backend keeps rate limits and the response cache in Redis")
	f("store: {backend: etcd}\n", `line 2: store.backend: want "pebble" or "postgres", got "etcd"`)
	f("store:\n  backend: postgres\n  postgres_url: mysql://u:hunter2@h/db\n  redis_url: http://:hunter2@h:6379\n",
		"line 4: store.postgres_url: want a postgres:// or postgresql:// URL, got a mysql:// URL",
		"line 5: store.redis_url: want redis://host:port, rediss://host:port or unix:///path, got a http:// URL")
	f("store:\n  redis_url: unix:relative.sock\n", "line 3: store.redis_url: want unix:///absolute/path/to/redis.sock")
	f("store:\n  redis_url: redis:///0\n", "line 3: store.redis_url: want a host in redis://host:port")
	f("store:\n  when_down: {money: maybe, limits: fail_shut}\n",
		`store.when_down.money: want "fail_closed" or "fail_open", got "maybe"`,
		`store.when_down.limits: want "fail_open" or "fail_closed", got "fail_shut"`)
	f("store:\n  lease_share: 2\n  key_refresh: 100ms\n",
		"line 3: store.lease_share: want a share from 0.01 to 1, got 2",
		"line 4: store.key_refresh: want 1s to 10m, got 100ms")
}

func TestStoreIsRestartOnly(t *testing.T) {
	load := func(text string) *Config {
		t.Helper()
		c, err := Load([]byte(text), env())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	running := load("auth: {disabled: true}\n")
	next := load("auth: {disabled: true}\nstore: {backend: postgres, postgres_url: 'postgres://h/db', redis_url: 'redis://h:6379', when_down: {money: fail_open}}\n")
	kept := next.KeepRunning(running)
	if want := []string{"store.backend", "store.postgres_url", "store.redis_url", "store.when_down.money"}; !slices.Equal(kept, want) {
		t.Errorf("kept %q, want %q", kept, want)
	}
	if next.Store.Postgres() || next.Store.PostgresURL != "" {
		t.Errorf("store not kept: %+v", next.Store)
	}
}
