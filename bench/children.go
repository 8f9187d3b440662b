package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// child is a process the bench started and stops: the floor or the
// gateway. Its output goes to a log file, shown when it fails.
type child struct {
	name    string
	pid     int
	logPath string
	exited  chan struct{}
	waitErr error // set before exited closes
	stopped bool
	process *os.Process
}

// startChild starts name with args, pinned as p says, its output in
// logPath.
func startChild(p pinning, name, logPath, bin string, args ...string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create log for %s: %w", name, err)
	}
	defer logFile.Close()
	cmd := p.command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s (%s): %w", name, bin, err)
	}
	// taskset execs the program, so the PID is the program's own.
	c := &child{name: name, pid: cmd.Process.Pid, logPath: logPath, exited: make(chan struct{}), process: cmd.Process}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// stop asks the child to exit, kills it after a grace period, and waits.
func (c *child) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	_ = c.process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		_ = c.process.Kill()
		<-c.exited
	}
}

// failure describes why the child is not serving: its exit status, if it
// exited, and the end of its log.
func (c *child) failure() string {
	status := "still running"
	select {
	case <-c.exited:
		status = fmt.Sprintf("exited: %v", c.waitErr)
	default:
	}
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return fmt.Sprintf("%s %s; the end of its output:\n%s", c.name, status, bytes.TrimSpace(b))
}

// waitReady polls GET url until ready accepts the status, the child exits
// or timeout passes.
func (c *child) waitReady(ctx context.Context, client *fasthttp.Client, url string, timeout time.Duration, ready func(status int) bool) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		status, body, err := client.GetTimeout(nil, url, time.Second)
		switch {
		case err != nil:
			last = err.Error()
		case ready(status):
			return nil
		default:
			last = fmt.Sprintf("status %d: %.200s", status, body)
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s did not get ready at %s: %s", c.name, url, c.failure())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after %s (last: %s): %s", c.name, url, timeout, last, c.failure())
		}
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago, for a child to listen on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
