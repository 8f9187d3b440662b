package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// options are the bench's flags.
type options struct {
	gatewayBin   string
	noGateway    bool
	targets      targetList
	targetModel  string
	key          string
	mockListen   string
	pin          bool
	jsonOut      bool
	timeout      time.Duration
	warmup       int
	maxRequests  int
	window       time.Duration
	latencyDur   time.Duration
	unixDur      time.Duration
	tracingDur   time.Duration
	wsLoops      int
	rates        rateList
	rateWindow   time.Duration
	leadIn       time.Duration
	rateDur      time.Duration
	workers      int
	streamDur    time.Duration
	streamGap    time.Duration
	streamChunks int

	crossLatencyDur time.Duration
	crossStreamDur  time.Duration

	cacheDur       time.Duration
	cacheStreamDur time.Duration

	webDur   time.Duration
	webDelay time.Duration

	compressionRounds        int
	compressionConversations int
	compressionSeed          uint64

	cancelStreams int
	cancelIdle    time.Duration

	memoryStreams  int
	memoryRate     int
	memoryDeadline time.Duration

	only string

	multinodeDur     time.Duration
	multinodeRateDur time.Duration

	chaosDur         time.Duration
	chaosWindow      time.Duration
	chaosWorkers     int
	chaosMaxRequests int
	chaosSeed        uint64

	// Internal: run as the floor child process.
	floorListen   string
	floorUpstream string
}

// extraTarget is a gateway given with -target name=URL.
type extraTarget struct {
	name string
	url  string
}

// targetList collects repeated -target flags.
type targetList []extraTarget

// String implements flag.Value.
func (l *targetList) String() string {
	var parts []string
	for _, t := range *l {
		parts = append(parts, t.name+"="+t.url)
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value.
func (l *targetList) Set(s string) error {
	name, raw, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=URL, got %q", s)
	}
	switch name {
	case targetDirect, targetFloor, targetGateway, targetGatewayNoBill, targetChaos:
		return fmt.Errorf("name %q is taken by a built-in target", name)
	}
	for _, t := range *l {
		if t.name == name {
			return fmt.Errorf("target %q given twice", name)
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("target %q: want a base URL like http://127.0.0.1:4000 (no /v1), got %q", name, raw)
	}
	*l = append(*l, extraTarget{name: name, url: "http://" + u.Host})
	return nil
}

// rateList is a comma-separated list of request rates per second.
type rateList []int

// String implements flag.Value.
func (l *rateList) String() string {
	var parts []string
	for _, r := range *l {
		parts = append(parts, strconv.Itoa(r))
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value.
func (l *rateList) Set(s string) error {
	var rates rateList
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		r, err := strconv.Atoi(part)
		if err != nil || r <= 0 || r > 1_000_000 {
			return fmt.Errorf("want rates per second in [1, 1000000], got %q", part)
		}
		rates = append(rates, r)
	}
	*l = rates
	return nil
}

// parseFlags parses args; output receives usage and errors.
func parseFlags(args []string, output io.Writer) (*options, error) {
	o := &options{rates: rateList{1000, 5000}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: go run ./bench [flags]\n\n"+
			"Measures the latency and CPU the gateway adds over calling the mock provider\n"+
			"directly and over a bare fasthttp proxy (the floor), with billing on and off.\n"+
			"Prints markdown tables.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.gatewayBin, "gateway-bin", "", "gateway binary to run; default: build the module root with `go build`")
	fs.BoolVar(&o.noGateway, "no-gateway", false, "measure only direct, floor and -target targets (neither built-in gateway)")
	fs.Var(&o.targets, "target", "extra OpenAI-compatible gateway as `name=URL`, already configured for the mock (see -mock-listen); repeatable. Start it pinned to the proxy CPU (taskset -c 1) for comparable figures")
	fs.StringVar(&o.targetModel, "target-model", "mock-model", "model name extra targets are called with")
	fs.StringVar(&o.key, "key", gatewayKey, "bearer token for extra targets")
	fs.StringVar(&o.mockListen, "mock-listen", "127.0.0.1:0", "address of the mock provider")
	fs.BoolVar(&o.pin, "pin", true, "on Linux with 2+ CPUs: bench and mock on CPU 0, gateways and floor on CPU 1")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&o.warmup, "warmup", 300, "unmeasured requests per target before the scenarios")
	fs.IntVar(&o.maxRequests, "max-requests", 200000, "most requests per target in each scenario")
	fs.DurationVar(&o.window, "window", 150*time.Millisecond, "c=1 scenarios: length of each target's turn")
	fs.DurationVar(&o.latencyDur, "latency-duration", 15*time.Second, "c=1 latency scenario: total time")
	fs.Var(&o.rates, "rates", "open-loop scenario: comma-separated `rates` per second; empty skips it (default 1000,5000)")
	fs.DurationVar(&o.rateWindow, "rate-window", 500*time.Millisecond, "open-loop scenario: length of each target's turn")
	fs.DurationVar(&o.leadIn, "lead-in", 100*time.Millisecond, "open-loop scenario: the start of each window, sent on schedule but not measured (errors still count), so that a target waking from its idle turn does not put the wake-up in its tail")
	fs.DurationVar(&o.rateDur, "rate-duration", 12*time.Second, "open-loop scenario: total time per rate")
	fs.IntVar(&o.workers, "workers", 512, "open-loop scenario: most requests in flight per target")
	fs.DurationVar(&o.streamDur, "stream-duration", 10*time.Second, "streaming scenario: total time; 0 skips it")
	fs.DurationVar(&o.streamGap, "stream-gap", time.Millisecond, "streaming scenario: the mock's delay between chunks")
	fs.DurationVar(&o.crossLatencyDur, "cross-latency-duration", 4*time.Second, "cross-format c=1 latency scenario (Anthropic Messages through an OpenAI-format provider): total time; 0 skips it")
	fs.DurationVar(&o.crossStreamDur, "cross-stream-duration", 8*time.Second, "cross-format streaming scenario (Anthropic Messages through an OpenAI-format provider): total time; 0 skips it")
	fs.DurationVar(&o.cacheDur, "cache-duration", 3*time.Second, "response cache scenario (a temperature-0 request answered from the gateway's cache vs direct and the uncached call), c=1 non-streaming: total time; 0 skips it")
	fs.DurationVar(&o.cacheStreamDur, "cache-stream-duration", 3*time.Second, "response cache scenario, streaming (the hit replayed as SSE): total time; 0 skips it")
	fs.DurationVar(&o.webDur, "web-duration", 4*time.Second, ":web scenario (mock-model:web with the bench's fake SearXNG, the same query and a new one per call, vs mock-model): total time; 0 skips it")
	fs.DurationVar(&o.webDelay, "web-delay", 0, ":web scenario: how long the fake search engine waits before answering")
	fs.IntVar(&o.compressionRounds, "compression-rounds", 5, "compression scenario: rounds, in each of which every target sends every conversation once; 0 skips it")
	fs.IntVar(&o.compressionConversations, "compression-conversations", 20, "compression scenario: conversations of the corpus generator")
	fs.Uint64Var(&o.compressionSeed, "compression-seed", 1, "compression scenario: seed of the corpus generator")
	fs.IntVar(&o.cancelStreams, "cancel-streams", 200, "cancel scenario: streams each target holds open at once, their clients then leaving one at a time; 0 skips it")
	fs.DurationVar(&o.cancelIdle, "cancel-idle", time.Second, "cancel scenario: how long the streams stay open and silent while the gateways' CPU time is read")
	fs.IntVar(&o.memoryStreams, "memory-streams", 10000, "memory scenario: streams the floor and the gateway each hold open and idle at once, for their RSS and file descriptors per stream; 0 skips it")
	fs.IntVar(&o.memoryRate, "memory-rate", 2000, "memory scenario: streams opened per second")
	fs.DurationVar(&o.memoryDeadline, "memory-deadline", 60*time.Second, "memory scenario: most time per target, from the first stream to the last one's end")
	fs.StringVar(&o.only, "only", "", "run only these `scenarios`, comma-separated: "+strings.Join(scenarioNames(), ", "))
	fs.DurationVar(&o.unixDur, "unix-duration", 3*time.Second, "unix socket scenario (the billing-on gateway over TCP loopback vs the same on a unix socket), c=1 non-streaming: total time; 0 skips it")
	fs.IntVar(&o.wsLoops, "websocket-loops", 20, "WebSocket scenario (a 20-turn tool loop through the billing-on gateway over HTTP, over a Responses WebSocket, and over one passed through to a WebSocket provider, loop by loop in turns): loops per way; 0 skips it")
	fs.DurationVar(&o.tracingDur, "tracing-duration", 3*time.Second, "tracing scenario (the billing-on gateway with telemetry off vs the same with tracing at 100% sampling to a loopback OTLP receiver), c=1 non-streaming: total time; 0 skips it")
	fs.DurationVar(&o.multinodeDur, "multinode-duration", 4*time.Second, "multinode scenario (the billing-on gateway against the same with its limits in a redis-server the bench starts), c=1 non-streaming with direct and the floor: total time; 0 skips it")
	fs.DurationVar(&o.multinodeRateDur, "multinode-rate-duration", 4*time.Second, "multinode scenario: open loop at 5000/s, the floor and both gateways: total time; 0 skips it")
	fs.DurationVar(&o.chaosDur, "chaos-duration", 8*time.Second, "chaos scenario: total time, both targets; 0 skips it")
	fs.DurationVar(&o.chaosWindow, "chaos-window", 250*time.Millisecond, "chaos scenario: length of each target's turn")
	fs.IntVar(&o.chaosWorkers, "chaos-workers", 4, "chaos scenario: calls in flight")
	fs.IntVar(&o.chaosMaxRequests, "chaos-max-requests", 5000, "chaos scenario: most calls per target")
	fs.Uint64Var(&o.chaosSeed, "chaos-seed", 1, "chaos scenario: seed of the mock's random faults")
	fs.StringVar(&o.floorListen, "floor-listen", "", "internal: serve the floor proxy on this address")
	fs.StringVar(&o.floorUpstream, "floor-upstream", "", "internal: the floor's upstream URL")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.streamChunks = mockChunks
	if err := o.keepOnly(); err != nil {
		return nil, err
	}
	return o, o.validate()
}

// scenarioSwitches are the scenarios -only names, each with how it is
// turned off: the setting its flag says skips it.
var scenarioSwitches = []struct {
	name string
	off  func(o *options)
}{
	{"latency", func(o *options) { o.latencyDur = 0 }},
	{"open-loop", func(o *options) { o.rates = nil }},
	{"stream", func(o *options) { o.streamDur = 0 }},
	{"cross-latency", func(o *options) { o.crossLatencyDur = 0 }},
	{"cross-stream", func(o *options) { o.crossStreamDur = 0 }},
	{"cache", func(o *options) { o.cacheDur = 0 }},
	{"cache-stream", func(o *options) { o.cacheStreamDur = 0 }},
	{"web", func(o *options) { o.webDur = 0 }},
	{"compression", func(o *options) { o.compressionRounds = 0 }},
	{"cancel", func(o *options) { o.cancelStreams = 0 }},
	{"memory", func(o *options) { o.memoryStreams = 0 }},
	{"unix", func(o *options) { o.unixDur = 0 }},
	{"tracing", func(o *options) { o.tracingDur = 0 }},
	{"multinode", func(o *options) { o.multinodeDur, o.multinodeRateDur = 0, 0 }},
	{"websocket", func(o *options) { o.wsLoops = 0 }},
	{"chaos", func(o *options) { o.chaosDur = 0 }},
}

// scenarioNames returns the names -only takes, in the order the bench
// runs them.
func scenarioNames() []string {
	names := make([]string, len(scenarioSwitches))
	for i, s := range scenarioSwitches {
		names[i] = s.name
	}
	return names
}

// keepOnly turns off every scenario that -only, when given, leaves out.
func (o *options) keepOnly() error {
	if o.only == "" {
		return nil
	}
	keep := map[string]bool{}
	for _, name := range strings.Split(o.only, ",") {
		name = strings.TrimSpace(name)
		known := false
		for _, s := range scenarioSwitches {
			known = known || s.name == name
		}
		if !known {
			return fmt.Errorf("-only: unknown scenario %q, want some of %s", name, strings.Join(scenarioNames(), ", "))
		}
		keep[name] = true
	}
	for _, s := range scenarioSwitches {
		if !keep[s.name] {
			s.off(o)
		}
	}
	return nil
}

func (o *options) validate() error {
	var errs []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	check(o.timeout > 0, "-timeout: want > 0, got %s", o.timeout)
	check(o.warmup >= 1, "-warmup: want >= 1, got %d", o.warmup)
	check(o.maxRequests >= 1, "-max-requests: want >= 1, got %d", o.maxRequests)
	check(o.window >= time.Millisecond, "-window: want >= 1ms, got %s", o.window)
	check(o.latencyDur >= 0, "-latency-duration: want >= 0, got %s", o.latencyDur)
	check(o.rateWindow >= 10*time.Millisecond, "-rate-window: want >= 10ms, got %s", o.rateWindow)
	check(o.leadIn >= 0 && o.leadIn < o.rateWindow, "-lead-in: want >= 0 and shorter than -rate-window (%s), got %s", o.rateWindow, o.leadIn)
	check(o.rateDur >= 0, "-rate-duration: want >= 0, got %s", o.rateDur)
	check(o.workers >= 1, "-workers: want >= 1, got %d", o.workers)
	check(o.streamDur >= 0, "-stream-duration: want >= 0, got %s", o.streamDur)
	check(o.streamGap >= 0, "-stream-gap: want >= 0, got %s", o.streamGap)
	check(o.crossLatencyDur >= 0, "-cross-latency-duration: want >= 0, got %s", o.crossLatencyDur)
	check(o.crossStreamDur >= 0, "-cross-stream-duration: want >= 0, got %s", o.crossStreamDur)
	check(o.cacheDur >= 0, "-cache-duration: want >= 0, got %s", o.cacheDur)
	check(o.cacheStreamDur >= 0, "-cache-stream-duration: want >= 0, got %s", o.cacheStreamDur)
	check(o.webDur >= 0, "-web-duration: want >= 0, got %s", o.webDur)
	check(o.webDelay >= 0 && o.webDelay <= time.Second, "-web-delay: want 0 to 1s, got %s", o.webDelay)
	check(o.compressionRounds >= 0 && o.compressionRounds <= 100, "-compression-rounds: want 0 to 100, got %d", o.compressionRounds)
	check(o.compressionConversations >= 1 && o.compressionConversations <= 200, "-compression-conversations: want 1 to 200, got %d", o.compressionConversations)
	check(o.cancelStreams >= 0 && o.cancelStreams <= 2000, "-cancel-streams: want 0 to 2000, got %d", o.cancelStreams)
	check(o.cancelIdle >= 0 && o.cancelIdle <= 10*time.Second, "-cancel-idle: want 0 to 10s, got %s", o.cancelIdle)
	check(o.memoryStreams >= 0 && o.memoryStreams <= maxMemoryStreams, "-memory-streams: want 0 to %d, got %d", maxMemoryStreams, o.memoryStreams)
	check(o.memoryRate >= 1 && o.memoryRate <= 100000, "-memory-rate: want 1 to 100000, got %d", o.memoryRate)
	check(o.memoryDeadline >= time.Second && o.memoryDeadline <= 10*time.Minute, "-memory-deadline: want 1s to 10m, got %s", o.memoryDeadline)
	check(o.chaosDur >= 0, "-chaos-duration: want >= 0, got %s", o.chaosDur)
	check(o.chaosWindow >= 10*time.Millisecond, "-chaos-window: want >= 10ms, got %s", o.chaosWindow)
	check(o.chaosWorkers >= 1 && o.chaosWorkers <= 64, "-chaos-workers: want 1 to 64, got %d", o.chaosWorkers)
	check(o.chaosMaxRequests >= 1, "-chaos-max-requests: want >= 1, got %d", o.chaosMaxRequests)
	check((o.floorListen == "") == (o.floorUpstream == ""), "-floor-listen and -floor-upstream go together")
	if len(errs) > 0 {
		return fmt.Errorf("bad flags:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
