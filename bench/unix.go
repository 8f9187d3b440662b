package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"
)

// The unix-socket scenario: the billing-on gateway over TCP loopback
// against a second gateway with the same binary and config but for
// `listen: unix:/path`, one request at a time in alternating windows.
// It shows what a same-host sidecar saves by dialling the socket.

const (
	unixName          = "unix socket vs TCP loopback, c=1 latency"
	featureUnix       = "unix-socket"
	targetGatewayUnix = "switchboard-unix"
)

// unixGateway is the gateway the scenario starts: billing on, as
// targetGateway, on a unix socket.
var unixGateway = benchGateway{name: targetGatewayUnix, billing: true, unix: true}

// startUnixTarget starts unixGateway and returns its target, whose client
// dials the socket.
func startUnixTarget(ctx context.Context, o *options, p pinning, dir, mockURL string) (*target, *child, error) {
	c, base, err := startGateway(ctx, p, dir, o.gatewayBin, mockURL, "", unixGateway)
	if err != nil {
		return nil, nil, err
	}
	t, err := newTarget(targetGatewayUnix, base, gatewayKey, mockModel, c, o.workers, o.timeout)
	if err != nil {
		c.stop()
		return nil, nil, err
	}
	t.client.Dial = unixDialer(unixSocket(dir, unixGateway))
	return t, c, nil
}

// unixSocket is where g listens when g.unix: in the bench's work
// directory, well under the 108 bytes a socket path may have.
func unixSocket(dir string, g benchGateway) string {
	return filepath.Join(dir, g.name+".sock")
}

// unixDialer dials the socket at path whatever address it is asked for.
func unixDialer(path string) func(string) (net.Conn, error) {
	return func(string) (net.Conn, error) { return net.DialTimeout("unix", path, time.Second) }
}

// runUnix measures the TCP gateway and the unix one, and their
// difference.
func runUnix(ctx context.Context, tcp, unix *target, o *options) Scenario {
	s := latencyScenario(ctx, []*target{tcp, unix}, o, unixName, o.unixDur,
		fmt.Sprintf("non-streaming, %s over TCP loopback and %s, the same binary and config listening on a unix socket", tcp.name, unix.name))
	s.Feature = featureUnix
	s.Billing = nil
	s.Deltas = rowDeltas(s.Rows, [2]string{unix.name, tcp.name})
	return s
}
