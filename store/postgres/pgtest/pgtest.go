// Package pgtest starts a real PostgreSQL server for tests: initdb into a
// temporary directory, pg_ctl start on a free 127.0.0.1 port, removed
// when the test ends. It uses the Debian postgresql package's binaries
// (make test-deps installs it) and fails the test, never skips it, when
// they are missing. As root it runs the server as the postgres user
// (initdb refuses root).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a PostgreSQL server owned by one test. Its methods may be
// called from the test's goroutine only.
type Server struct {
	// URL connects to the server's postgres database as the superuser.
	URL  string
	Port int

	bin   string
	root  string // the temporary directory holding dir
	dir   string // the data directory, also the unix socket directory
	owner *user.User
}

// Start runs a new server for t and stops and removes it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartShared runs a server for a whole test binary, from TestMain,
// which calls Close after m.Run; an error means the tests cannot run
// and must fail.
func StartShared() (*Server, error) { return start() }

func start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, fmt.Errorf("%w (make test-deps installs the Debian postgresql package)", err)
	}
	root, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, root: root, dir: filepath.Join(root, "data")}
	if os.Geteuid() == 0 {
		if s.owner, err = user.Lookup("postgres"); err != nil {
			if s.owner, err = user.Lookup("nobody"); err != nil {
				s.Close()
				return nil, errors.New("running as root and no postgres or nobody user to run the server as")
			}
		}
		if err := chown(root, s.owner); err != nil {
			s.Close()
			return nil, err
		}
	}
	if out, err := s.command(filepath.Join(bin, "initdb"), "-D", s.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		s.Close()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if s.Port, err = freePort(); err != nil {
		s.Close()
		return nil, err
	}
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server and removes its files.
func (s *Server) Close() {
	_ = s.pgctl("stop", "-m", "immediate", "-w")
	_ = os.RemoveAll(s.root)
}

// Restart starts the server again after Stop, on the same port and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

func (s *Server) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c max_connections=200 -c shared_buffers=32MB", s.Port, s.dir)
	if err := s.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(s.dir, "server.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v\n%s", err, log)
	}
	return nil
}

// Stop stops the server at once (pg_ctl -m immediate): connections
// break as they would if its host went away.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.pgctl("stop", "-m", "immediate", "-w"); err != nil {
		t.Fatalf("pgtest: pg_ctl stop: %v", err)
	}
}

var dbSeq atomic.Int64

// NewDatabase creates an empty database and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}

func (s *Server) pgctl(args ...string) error {
	args = append([]string{"-D", s.dir}, args...)
	out, err := s.command(filepath.Join(s.bin, "pg_ctl"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// command runs name as the server's owner (runuser as root).
func (s *Server) command(name string, args ...string) *exec.Cmd {
	if s.owner == nil {
		return exec.Command(name, args...)
	}
	return exec.Command("runuser", append([]string{"-u", s.owner.Username, "--", name}, args...)...)
}

// binDir finds the PostgreSQL server binaries: the newest
// /usr/lib/postgresql/*/bin, else pg_ctl's directory on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (pg_ctl, initdb) in /usr/lib/postgresql/*/bin or on PATH")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func chown(dir string, u *user.User) error {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
