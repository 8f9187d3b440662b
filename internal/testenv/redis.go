package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server on a unix socket in a temp dir, without
// persistence. It is stopped at the end of the test.
type Redis struct {
	// URL is the server's address for store.redis_url: unix:///.../redis.sock.
	URL string
	// Socket is the unix socket's path.
	Socket string

	t    testing.TB
	bin  string
	dir  string
	proc *process
}

// StartRedis starts a redis-server (Debian redis-server, installed when
// missing) and waits until it answers PING.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r, err := RunRedis(Need(t, "redis-server", "redis-server"), ShortTempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	r.t = t
	t.Cleanup(r.Stop)
	return r
}

// RunRedis starts bin, a redis-server, on a socket in dir, outside a
// test (the bench); the caller stops it.
func RunRedis(bin, dir string) (*Redis, error) {
	r := &Redis{bin: bin, dir: dir}
	r.Socket = filepath.Join(r.dir, "redis.sock")
	r.URL = "unix://" + r.Socket
	return r, r.run()
}

// Start starts the server again after Stop, on the same socket and empty.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.run(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *Redis) run() error {
	cmd := exec.Command(r.bin, "--port", "0", "--unixsocket", r.Socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	p, err := start(cmd)
	if err != nil {
		return fmt.Errorf("cannot start redis-server: %w", err)
	}
	r.proc = p
	if err := p.waitFor("redis-server", 20*time.Second, r.ping); err != nil {
		p.stop(time.Second)
		return err
	}
	return nil
}

// Stop stops the server (SIGTERM, SIGKILL after 5s); the socket is gone
// when it returns. Stopping a stopped server does nothing.
func (r *Redis) Stop() {
	if r.proc != nil {
		r.proc.stop(5 * time.Second)
	}
}

// Do sends one command (its words, none with spaces or newlines) and
// returns the server's first reply line: "+PONG", ":3", "$5" ...
func (r *Redis) Do(words ...string) (string, error) {
	c, err := net.DialTimeout("unix", r.Socket, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", strings.Join(words, " ")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

func (r *Redis) ping() error {
	line, err := r.Do("PING")
	if err == nil && line != "+PONG" {
		err = fmt.Errorf("PING answered %q", line)
	}
	return err
}
