package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"switchboard/internal/testenv"
)

// The multinode scenario: the billing-on gateway (Pebble, its limits in
// process) against a gateway with the same binary and config but for
// store.redis_url, a redis-server the bench starts on a unix socket: the
// bench key's RPM/TPM limits are then checked in Redis on every request
// (one Lua script round trip) and its tokens charged there, as on each
// node of several behind a load balancer. c=1 in alternating windows with
// direct and the floor, for "over floor", then an open loop at
// multinodeRate against the floor and both gateways, for the errors.
// Redis inherits the bench's CPU (0), as the mock does.

const (
	multinodeName         = "limits in Redis (store.redis_url) vs in process"
	featureMultinode      = "multinode"
	targetGatewayRedis    = "switchboard-redis"
	multinodeRate         = 5000
	multinodeOpenLoopName = "limits in Redis vs in process, open loop"
)

// startRedisTarget starts a redis-server and the gateway whose limits
// live there, and returns the gateway's target; stop ends both.
func startRedisTarget(ctx context.Context, o *options, p pinning, dir, mockURL string) (t *target, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, fmt.Errorf("multinode scenario: redis-server is not installed (apt-get install redis-server, or make test-deps), or skip it with -multinode-duration 0")
	}
	r, err := testenv.RunRedis(bin, filepath.Join(dir))
	if err != nil {
		return nil, nil, err
	}
	g := benchGateway{name: targetGatewayRedis, billing: true, redisURL: r.URL}
	c, base, err := startGateway(ctx, p, dir, o.gatewayBin, mockURL, "", g)
	if err != nil {
		r.Stop()
		return nil, nil, err
	}
	stop = func() { c.stop(); r.Stop() }
	if t, err = newTarget(targetGatewayRedis, base, gatewayKey, mockModel, c, o.workers, o.timeout); err != nil {
		stop()
		return nil, nil, err
	}
	return t, stop, nil
}

// runMultinode measures c=1 latency of direct, the floor, the Pebble
// gateway and the Redis one, with the Redis one's difference.
func runMultinode(ctx context.Context, direct, floor, pebble, redis *target, o *options) Scenario {
	s := latencyScenario(ctx, []*target{direct, floor, pebble, redis}, o, multinodeName, o.multinodeDur,
		fmt.Sprintf("non-streaming, %s (limits in process) and %s, the same binary and config with store.redis_url on a unix socket: a rate check in Redis per request", pebble.name, redis.name))
	s.Feature = featureMultinode
	s.Deltas = rowDeltas(s.Rows, [2]string{redis.name, pebble.name})
	return s
}

// runMultinodeOpenLoop runs the floor and both gateways at multinodeRate.
func runMultinodeOpenLoop(ctx context.Context, floor, pebble, redis *target, o *options) (Scenario, error) {
	oo := *o
	oo.rateDur = o.multinodeRateDur
	s, err := runOpenLoop(ctx, []*target{floor, pebble, redis}, multinodeRate, &oo)
	if err != nil {
		return s, err
	}
	s.Name = fmt.Sprintf("%s %d/s", multinodeOpenLoopName, multinodeRate)
	s.Feature = featureMultinode
	s.Deltas = rowDeltas(s.Rows, [2]string{redis.name, pebble.name})
	return s, nil
}
