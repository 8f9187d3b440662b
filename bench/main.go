// Command bench measures the latency and CPU time the Switchboard gateway
// adds to OpenAI-compatible calls, the way DESIGN.md defines it: the same
// requests go straight to a mock provider ("direct"), through a bare
// fasthttp proxy ("floor") and through the gateway, the targets taking
// turns in short windows, and every figure is reported over direct and
// over floor.
//
// The gateway runs twice, from one binary and one config: "switchboard",
// billing on as shipped (each request checks its key's rate limits,
// reserves its worst-case cost on the key's account and leaves a ledger
// entry through the group-commit writer), and "switchboard-nobill", with
// billing.disabled (no reservation, no ledger entry). Each scenario
// reports the difference between the two, what metering costs; the goals
// judge the billing-on gateway.
//
//	go run ./bench                     # build the gateway, run all scenarios
//	go run ./bench -json               # the same report as JSON
//	go run ./bench -mock-listen 127.0.0.1:9999 -target other=http://127.0.0.1:4000
//
// Scenarios: c=1 latency (non-streaming), open loop at constant rates
// (-rates; latency from the scheduled send time), c=1 streaming (time
// to the first content chunk, per-chunk relay delay), cross-format (the
// c=1 and streaming scenarios again with an Anthropic Messages client,
// which the gateways serve from the mock as an OpenAI-format provider
// while direct and floor call the mock's own /v1/messages: what the
// translation costs), the features of issue 6 through the billing-on
// gateway (a response cache hit, c=1 and streaming, against direct and
// the uncached call; mock-model:web with a fake SearXNG in the bench
// process, the same query and a new one per call, against mock-model;
// context compression on and off over conversations of the corpus
// generator, with the token reduction the gateway reports), client cancel
// (streams held silent by the mock whose clients leave: how soon each
// gateway closes the upstream connection, and what the open, silent
// streams cost it in CPU), memory per open stream (-memory-streams
// streams held open and silent through the floor and the gateway: their
// RSS and file descriptors per stream; the bench raises its limit of open
// files, which the children inherit), unix socket (the billing-on gateway
// over TCP loopback against a third gateway, same config, listening on a
// unix socket), tracing (the billing-on gateway against a third gateway,
// same config but for tracing at 100% sampling to a loopback OTLP
// receiver), multinode (the billing-on gateway against a third gateway,
// same config but for its rate limits in a redis-server the bench starts:
// c=1 with direct and the floor, and an open loop at 5000/s), WebSocket
// (a 20-turn tool loop over POST /v1/responses, over a Responses
// WebSocket, and over one passed through to a provider that serves
// WebSockets), and chaos:
// the billing-on gateway's "chaos" route, two targets on which the mock
// fails at random (500s, resets, stalls past a first-byte timeout) before
// two healthy ones, against the plain model through the same gateway (the
// success rate, the latency failover adds, attempts per call, the circuit
// breakers' effect). The CPU time per request of the floor and the
// gateways comes from their /proc/PID/stat, their peak memory from VmHWM.
//
// On Linux with two CPUs or more the bench re-runs itself under
// `taskset -c 0` with the mock, and starts the floor and the gateways
// under `taskset -c 1`. The bench process does not collect garbage below
// 1 GiB of heap, so that its own pauses do not land in a target's tail.
// Each scenario reports how much CPU time other processes took meanwhile.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"switchboard/bench/mock"
)

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	// Before anything starts: the children inherit the limit.
	if err := raiseFileLimit(fdsNeeded(o.memoryStreams)); err != nil {
		logf("cannot raise the limit of open files: %v", err)
	}
	if o.floorListen != "" {
		err = serveFloor(o.floorListen, o.floorUpstream)
	} else {
		err = run(o, os.Args[1:])
	}
	var code exitCode
	switch {
	case errors.As(err, &code):
		os.Exit(int(code))
	case err != nil:
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// run measures, or re-runs itself pinned to a CPU and lets that process
// measure. args are the command-line arguments, to pass on.
func run(o *options, args []string) error {
	p, err := checkPinning(o.pin)
	if err != nil {
		return err
	}
	if !p.reexec {
		return measure(o, p)
	}
	// Build with every CPU before pinning to one.
	var extra []string
	if !o.noGateway && o.gatewayBin == "" {
		dir, err := os.MkdirTemp("", "switchboard-bench-build-")
		if err != nil {
			return fmt.Errorf("cannot create build directory: %w", err)
		}
		defer os.RemoveAll(dir)
		bin, err := buildGateway(dir)
		if err != nil {
			return err
		}
		extra = append(extra, "-gateway-bin", bin)
	}
	return reexecPinned(p, args, extra)
}

// measure starts the mock, the floor and the gateways, runs the scenarios
// and prints the report.
func measure(o *options, p pinning) error {
	// The load generator and the mock allocate a few hundred bytes a
	// request. A collection on the one bench CPU stalls the requests in
	// flight for milliseconds (mark assists), noise that would land in the
	// tails of whichever target has its turn; a default run allocates well
	// under the limit, so it never collects.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(benchMemoryLimit)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return fmt.Errorf("cannot create work directory: %w", err)
	}
	defer os.RemoveAll(dir)

	if !o.noGateway && o.gatewayBin == "" {
		if o.gatewayBin, err = buildGateway(dir); err != nil {
			return err
		}
	}

	m, err := mock.Start(o.mockListen, mock.Options{Chunks: mockChunks, ChunkDelay: o.streamGap, Seed: o.chaosSeed})
	if err != nil {
		return err
	}
	defer m.Close()
	logf("mock provider at %s (point -target gateways at %s/v1, model %q)", m.URL(), m.URL(), o.targetModel)

	var search *fakeSearch
	if !o.noGateway && o.webDur > 0 {
		if search, err = startFakeSearch(o.webDelay); err != nil {
			return err
		}
		defer search.Close()
	}
	targets, children, err := startTargets(ctx, o, p, dir, m.URL(), search)
	for _, c := range children {
		defer c.stop()
	}
	if err != nil {
		return err
	}
	if err := warmUp(targets, o); err != nil {
		return err
	}
	var cross []*target
	if o.crossLatencyDur > 0 || o.crossStreamDur > 0 {
		cross = crossTargets(targets)
		if err := warmUp(cross, o); err != nil {
			return err
		}
		if err := checkTranslated(cross, m.LastRequest, o.timeout); err != nil {
			return err
		}
	}

	r := Report{Machine: describeMachine(p), Mock: m.URL()}
	np := noiseProbe{p: p, children: children}
	scenario := func(name string, d time.Duration, run func() (Scenario, error)) error {
		if d > 0 {
			logf("%s, %s", name, d)
		} else {
			logf("%s", name)
		}
		before, errBefore := np.sample()
		s, err := run()
		if err != nil {
			return err
		}
		if after, errAfter := np.sample(); errBefore == nil && errAfter == nil {
			s.Noise = ptr(np.noise(before, after))
		}
		r.Scenarios = append(r.Scenarios, s)
		return nil
	}
	if o.latencyDur > 0 {
		_ = scenario("c=1 latency", o.latencyDur, func() (Scenario, error) { return runLatency(ctx, targets, o), nil })
	}
	for _, rate := range o.rates {
		if o.rateDur <= 0 || ctx.Err() != nil {
			break
		}
		if err := scenario(fmt.Sprintf("open loop at %d/s", rate), o.rateDur, func() (Scenario, error) { return runOpenLoop(ctx, targets, rate, o) }); err != nil {
			return err
		}
	}
	if o.streamDur > 0 && ctx.Err() == nil {
		_ = scenario("streaming c=1", o.streamDur, func() (Scenario, error) { return runStream(ctx, targets, o), nil })
	}
	if len(cross) > 0 && o.crossLatencyDur > 0 && ctx.Err() == nil {
		_ = scenario(crossName+", c=1 latency", o.crossLatencyDur, func() (Scenario, error) { return runCrossLatency(ctx, cross, o), nil })
	}
	if len(cross) > 0 && o.crossStreamDur > 0 && ctx.Err() == nil {
		_ = scenario(crossName+", streaming c=1", o.crossStreamDur, func() (Scenario, error) { return runCrossStream(ctx, cross, o), nil })
	}
	if ctx.Err() == nil {
		if err := featureScenarios(ctx, targets, search, m, o, scenario); err != nil {
			return err
		}
	}
	if o.cancelStreams > 0 && !o.noGateway && ctx.Err() == nil {
		_ = scenario(cancelName, 0, func() (Scenario, error) { return runCancel(ctx, targets, m, o), nil })
	}
	if o.memoryStreams > 0 && ctx.Err() == nil {
		_ = scenario(memoryName, 0, func() (Scenario, error) { return runMemory(ctx, targets, m, o), nil })
	}
	if tcp := findTarget(targets, targetGateway); tcp != nil && o.unixDur > 0 && ctx.Err() == nil {
		unix, c, err := startUnixTarget(ctx, o, p, dir, m.URL())
		if err != nil {
			return err
		}
		defer c.stop()
		if err := warmUp([]*target{unix}, o); err != nil {
			return err
		}
		_ = scenario(unixName, o.unixDur, func() (Scenario, error) { return runUnix(ctx, tcp, unix, o), nil })
	}
	if off := findTarget(targets, targetGateway); off != nil && o.tracingDur > 0 && ctx.Err() == nil {
		traced, rcv, stopTraced, err := startTracedTarget(ctx, o, p, dir, m.URL())
		if err != nil {
			return err
		}
		defer stopTraced()
		if err := warmUp([]*target{traced}, o); err != nil {
			return err
		}
		_ = scenario(tracingName, o.tracingDur, func() (Scenario, error) { return runTracing(ctx, off, traced, rcv, o), nil })
	}
	if pebble := findTarget(targets, targetGateway); pebble != nil && (o.multinodeDur > 0 || o.multinodeRateDur > 0) && ctx.Err() == nil {
		redis, stopRedis, err := startRedisTarget(ctx, o, p, dir, m.URL())
		if err != nil {
			return err
		}
		defer stopRedis()
		if err := warmUp([]*target{redis}, o); err != nil {
			return err
		}
		direct, floor := findTarget(targets, targetDirect), findTarget(targets, targetFloor)
		if o.multinodeDur > 0 {
			_ = scenario(multinodeName, o.multinodeDur, func() (Scenario, error) { return runMultinode(ctx, direct, floor, pebble, redis, o), nil })
		}
		if o.multinodeRateDur > 0 && ctx.Err() == nil {
			if err := scenario(fmt.Sprintf("%s %d/s", multinodeOpenLoopName, multinodeRate), o.multinodeRateDur, func() (Scenario, error) {
				return runMultinodeOpenLoop(ctx, floor, pebble, redis, o)
			}); err != nil {
				return err
			}
		}
	}
	if gw := findTarget(targets, targetGateway); gw != nil && o.wsLoops > 0 && ctx.Err() == nil {
		_ = scenario(wsName, 0, func() (Scenario, error) { return runWebSocket(ctx, gw, o), nil })
	}
	// Chaos last: its stalled mock handlers sleep on after the gateway
	// gave up on them, and nothing else should share the mock with them.
	if gw := gatewayOwnConns(targets); gw != nil && o.chaosDur > 0 && ctx.Err() == nil {
		if err := gw.warmConns(o.chaosWorkers, o.timeout); err != nil {
			logf("chaos: opening connections: %v", err)
		}
		_ = scenario(fmt.Sprintf("chaos c=%d", o.chaosWorkers), o.chaosDur, func() (Scenario, error) { return runChaos(ctx, gw, o, m.Injected), nil })
	}
	if ctx.Err() != nil {
		logf("interrupted: the report covers what ran")
	}
	r.Goals = checkGoals(r.Scenarios)
	if o.jsonOut {
		return r.writeJSON(os.Stdout)
	}
	return r.writeMarkdown(os.Stdout)
}

// benchMemoryLimit is the heap size at which the bench process collects
// garbage.
const benchMemoryLimit = 1 << 30

// mockChunks is the number of content chunks the mock streams.
const mockChunks = 8

// startTargets starts the floor and the gateways and returns every target:
// direct, floor, the gateway with billing on, the gateway with billing
// off, then the -target gateways; the gateways search the web with
// search, if not nil. The children are returned even on error, to be
// stopped.
func startTargets(ctx context.Context, o *options, p pinning, dir, mockURL string, search *fakeSearch) ([]*target, []*child, error) {
	var children []*child
	add := func(name, base, key, model string, proc *child) (*target, error) {
		return newTarget(name, base, key, model, proc, o.workers, o.timeout)
	}
	direct, err := add(targetDirect, mockURL, gatewayKey, mockModel, nil)
	if err != nil {
		return nil, children, err
	}
	targets := []*target{direct}

	fc, floorURL, err := startFloor(ctx, p, dir, mockURL)
	if err != nil {
		return nil, children, err
	}
	children = append(children, fc)
	t, err := add(targetFloor, floorURL, gatewayKey, mockModel, fc)
	if err != nil {
		return nil, children, err
	}
	targets = append(targets, t)

	if !o.noGateway {
		for _, g := range benchGateways {
			searchURL := ""
			if search != nil {
				searchURL = search.URL()
			}
			gc, gatewayURL, err := startGateway(ctx, p, dir, o.gatewayBin, mockURL, searchURL, g)
			if err != nil {
				return nil, children, err
			}
			children = append(children, gc)
			if t, err = add(g.name, gatewayURL, gatewayKey, mockModel, gc); err != nil {
				return nil, children, err
			}
			targets = append(targets, t)
		}
	}
	for _, x := range o.targets {
		if t, err = add(x.name, x.url, o.key, o.targetModel, nil); err != nil {
			return nil, children, err
		}
		targets = append(targets, t)
	}
	return targets, children, nil
}

// findTarget returns the target named name, or nil.
func findTarget(targets []*target, name string) *target {
	for _, t := range targets {
		if t.name == name {
			return t
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
