package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/valyala/fasthttp"

	"switchboard/bench/floor"
)

// serveFloor is the floor child process: it proxies listen to upstream
// until killed.
func serveFloor(listen, upstream string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("cannot start floor on %q: %w", listen, err)
	}
	return floor.Serve(ln, upstream)
}

// startFloor starts the floor proxy in front of mockURL as a child process
// (this program with -floor-listen) and waits until it answers.
func startFloor(ctx context.Context, p pinning, dir, mockURL string) (*child, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("cannot find own executable to run the floor: %w", err)
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	c, err := startChild(p, "floor", filepath.Join(dir, "floor.log"), exe, "-floor-listen", listen, "-floor-upstream", mockURL)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + listen
	// Any answer, relayed from the mock, means the floor serves.
	if err := c.waitReady(ctx, &fasthttp.Client{}, base+"/readyz", readyTimeout, func(int) bool { return true }); err != nil {
		c.stop()
		return nil, "", err
	}
	return c, base, nil
}
