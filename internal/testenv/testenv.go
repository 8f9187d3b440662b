// Package testenv starts the real components the multi-node tests run
// against, on loopback or a unix socket in a temp dir, and stops them
// after the test: redis-server (Redis) and nginx. A component missing
// from the machine is installed from its Debian package first, as
// `make test-deps` does. It is imported by tests, and by the bench for
// its Redis (RunRedis).
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

var (
	aptMu      sync.Mutex
	aptUpdated bool
)

// Need makes sure command is on PATH, installing the Debian package pkg
// when it is not (apt-get update once per process, then apt-get install).
// The test fails when that is not possible.
func Need(t testing.TB, command, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(command); err == nil {
		return p
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	if p, err := exec.LookPath(command); err == nil {
		return p
	}
	if !aptUpdated {
		if out, err := exec.Command("apt-get", "update").CombinedOutput(); err != nil {
			t.Fatalf("%s is missing and apt-get update failed: %v\n%s", command, err, out)
		}
		aptUpdated = true
	}
	cmd := exec.Command("apt-get", "install", "-y", pkg)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s is missing and apt-get install %s failed: %v\n%s", command, pkg, err, out)
	}
	p, err := exec.LookPath(command)
	if err != nil {
		t.Fatalf("%s is still missing after apt-get install %s", command, pkg)
	}
	return p
}

// FreePort returns a loopback TCP port nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ShortTempDir is a temp dir removed after the test, with a path short
// enough for a unix socket inside it (t.TempDir's can pass the 108 bytes
// of sun_path).
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// process is a started child and its exit.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

func start(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitFor polls ready every 10ms until it returns nil, the process
// exits, or timeout passes.
func (p *process) waitFor(name string, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready: %v", name, p.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready in %v: %v", name, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
