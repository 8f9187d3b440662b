package main

import (
	"context"
	"fmt"
	"os/exec"

	"switchboard/internal/testenv"
	"switchboard/store/postgres/pgtest"
)

// The multinode scenario: the billing-on gateway (Pebble, its limits in
// process) against two gateways with the same binary and config but for
// their store: store.redis_url, a redis-server the bench starts on a unix
// socket (the bench key's RPM/TPM limits are then checked in Redis on
// every request, one Lua script round trip, and its tokens charged
// there), and that plus store.backend: postgres on a PostgreSQL the bench
// starts (pgtest; its ledger shipped there, its credit from leases), as
// one node of several behind a load balancer. c=1 in alternating windows
// with direct and the floor, for "over floor", then an open loop at
// multinodeRate against the floor and the three gateways, for the
// errors. Redis and PostgreSQL inherit the bench's CPU (0), as the mock
// does.

const (
	multinodeName         = "several-node store (Redis, PostgreSQL) vs Pebble"
	featureMultinode      = "multinode"
	targetGatewayRedis    = "switchboard-redis"
	targetGatewayPG       = "switchboard-postgres"
	multinodeRate         = 5000
	multinodeOpenLoopName = "several-node store vs Pebble, open loop"
)

// startMultinodeTargets starts a redis-server, a PostgreSQL server, the
// gateway whose limits live in Redis and the one on both, and returns
// the gateways' targets; stop ends them all.
func startMultinodeTargets(ctx context.Context, o *options, p pinning, dir, mockURL string) (redis, pg *target, stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("multinode scenario: redis-server is not installed (apt-get install redis-server, or make test-deps), or skip it with -only")
	}
	r, err := testenv.RunRedis(bin, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	stops = append(stops, r.Stop)
	pgs, err := pgtest.StartShared()
	if err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("multinode scenario: %w", err)
	}
	stops = append(stops, pgs.Close)
	for _, g := range []benchGateway{
		{name: targetGatewayRedis, billing: true, redisURL: r.URL},
		{name: targetGatewayPG, billing: true, redisURL: r.URL, postgresURL: pgs.URL},
	} {
		c, base, err := startGateway(ctx, p, dir, o.gatewayBin, mockURL, "", g)
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		stops = append(stops, c.stop)
		t, err := newTarget(g.name, base, gatewayKey, mockModel, c, o.workers, o.timeout)
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		if redis == nil {
			redis = t
		} else {
			pg = t
		}
	}
	return redis, pg, stop, nil
}

// runMultinode measures c=1 latency of direct, the floor, the Pebble
// gateway, the Redis one and the PostgreSQL one, with their differences
// from the Pebble one.
func runMultinode(ctx context.Context, direct, floor, pebble, redis, pg *target, o *options) Scenario {
	s := latencyScenario(ctx, []*target{direct, floor, pebble, redis, pg}, o, multinodeName, o.multinodeDur,
		fmt.Sprintf("non-streaming, %s (limits in process), %s (the same binary and config with store.redis_url on a unix socket: a rate check in Redis per request) and %s (that and store.backend: postgres on loopback TCP)", pebble.name, redis.name, pg.name))
	s.Feature = featureMultinode
	s.Deltas = rowDeltas(s.Rows, [2]string{redis.name, pebble.name}, [2]string{pg.name, pebble.name})
	return s
}

// runMultinodeOpenLoop runs the floor and the three gateways at
// multinodeRate.
func runMultinodeOpenLoop(ctx context.Context, floor, pebble, redis, pg *target, o *options) (Scenario, error) {
	oo := *o
	oo.rateDur = o.multinodeRateDur
	s, err := runOpenLoop(ctx, []*target{floor, pebble, redis, pg}, multinodeRate, &oo)
	if err != nil {
		return s, err
	}
	s.Name = fmt.Sprintf("%s %d/s", multinodeOpenLoopName, multinodeRate)
	s.Feature = featureMultinode
	s.Deltas = rowDeltas(s.Rows, [2]string{redis.name, pebble.name}, [2]string{pg.name, pebble.name})
	return s, nil
}
