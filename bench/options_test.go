package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsDefaults(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.rates.String() != "1000,5000" || o.window != 150*time.Millisecond || !o.pin || o.streamChunks != mockChunks {
		t.Fatalf("defaults: %+v", o)
	}
	// The default scenarios, without warm-up and start-up, fit well inside
	// the 2 minutes a default `make bench` may take on 2 vCPUs; the
	// compression scenario is bounded by its rounds and compressionBudget.
	total := o.latencyDur + time.Duration(len(o.rates))*o.rateDur + o.streamDur + o.crossLatencyDur + o.crossStreamDur + o.chaosDur +
		o.cacheDur + o.cacheStreamDur + o.webDur
	if total > 82*time.Second {
		t.Fatalf("default scenarios take %s", total)
	}
	if o.compressionRounds < 1 || o.compressionRounds > 5 || o.compressionConversations != 20 || compressionBudget > 30*time.Second {
		t.Errorf("compression defaults: %d rounds of %d conversations, at most %s", o.compressionRounds, o.compressionConversations, compressionBudget)
	}
	if o.webDelay != 0 {
		t.Errorf("the fake search engine waits %s by default", o.webDelay)
	}
	// The chaos run is bounded in time and calls, and gives each of its two
	// targets 16 windows.
	if o.chaosDur > 10*time.Second || o.chaosMaxRequests > 5000 || o.chaosWorkers > 8 || rounds(o.chaosDur, o.chaosWindow, 2) < 16 {
		t.Errorf("chaos defaults: %s, %d calls per target, c=%d, %s windows", o.chaosDur, o.chaosMaxRequests, o.chaosWorkers, o.chaosWindow)
	}
	// With the four built-in targets (direct, floor, the gateway with
	// billing on and off), each still gets as many windows as each of three
	// got before the second gateway: 25 at c=1, 6 per open-loop rate, 16
	// streaming.
	const builtIn = 4
	for _, c := range []struct {
		name          string
		total, window time.Duration
		want          int
	}{
		{"c=1 latency", o.latencyDur, o.window, 25},
		{"open loop", o.rateDur, o.rateWindow, 6},
		{"streaming", o.streamDur, o.window, 16},
		// The cross-format scenarios, on the same four targets, are
		// shorter: the translation's cost is the difference to judge.
		{"cross-format c=1 latency", o.crossLatencyDur, o.window, 6},
		{"cross-format streaming", o.crossStreamDur, o.window, 13},
	} {
		if got := rounds(c.total, c.window, builtIn); got < c.want {
			t.Errorf("%s: %d rounds per target, want at least %d", c.name, got, c.want)
		}
	}
	// The feature scenarios: the response cache on direct, floor, hit and
	// uncached; :web on direct, floor, plain, same query and new query.
	for _, c := range []struct {
		name          string
		total, window time.Duration
		targets, want int
	}{
		{"response cache c=1", o.cacheDur, o.window, 4, 5},
		{"response cache streaming", o.cacheStreamDur, o.window, 4, 5},
		{":web c=1", o.webDur, o.window, 5, 5},
	} {
		if got := rounds(c.total, c.window, c.targets); got < c.want {
			t.Errorf("%s: %d rounds per target, want at least %d", c.name, got, c.want)
		}
	}
}

func TestTargetFlag(t *testing.T) {
	o, err := parseFlags([]string{"-target", "bifrost=http://127.0.0.1:8081", "-target", "litellm=http://localhost:4000/"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.targets.String(); got != "bifrost=http://127.0.0.1:8081,litellm=http://localhost:4000" {
		t.Fatalf("targets = %s", got)
	}
	for _, bad := range []string{"noequals", "=http://x:1", "x=ftp://x:1", "x=http://x:1/v1", "direct=http://x:1", "floor=http://x:1", "switchboard=http://x:1", "switchboard-nobill=http://x:1", "switchboard chaos=http://x:1"} {
		if _, err := parseFlags([]string{"-target", bad}, io.Discard); err == nil {
			t.Errorf("-target %q accepted", bad)
		}
	}
	if _, err := parseFlags([]string{"-target", "a=http://x:1", "-target", "a=http://x:2"}, io.Discard); err == nil {
		t.Error("a target name given twice was accepted")
	}
}

func TestRatesFlag(t *testing.T) {
	o, err := parseFlags([]string{"-rates", " 2000, 10000 "}, io.Discard)
	if err != nil || o.rates.String() != "2000,10000" {
		t.Fatalf("rates %v, %v", o.rates, err)
	}
	if o, err := parseFlags([]string{"-rates", ""}, io.Discard); err != nil || len(o.rates) != 0 {
		t.Fatalf("empty -rates: %v, %v", o.rates, err)
	}
	for _, bad := range []string{"0", "-5", "fast", "1000,x"} {
		if _, err := parseFlags([]string{"-rates", bad}, io.Discard); err == nil {
			t.Errorf("-rates %q accepted", bad)
		}
	}
}

func TestValidateReportsEveryBadFlag(t *testing.T) {
	_, err := parseFlags([]string{"-timeout", "0s", "-window", "0s", "-workers", "0", "-floor-listen", "127.0.0.1:1", "-lead-in", "1s",
		"-chaos-duration", "-1s", "-chaos-window", "1ms", "-chaos-workers", "0", "-chaos-max-requests", "0",
		"-cross-latency-duration", "-1s", "-cross-stream-duration", "-1s",
		"-cache-duration", "-1s", "-cache-stream-duration", "-1s", "-web-duration", "-1s", "-web-delay", "2s",
		"-compression-rounds", "-1", "-compression-conversations", "0"}, io.Discard)
	if err == nil {
		t.Fatal("bad flags accepted")
	}
	for _, want := range []string{"-timeout", "-window", "-workers", "-floor-listen", "-lead-in", "-chaos-duration", "-chaos-window", "-chaos-workers", "-chaos-max-requests",
		"-cross-latency-duration", "-cross-stream-duration",
		"-cache-duration", "-cache-stream-duration", "-web-duration", "-web-delay", "-compression-rounds", "-compression-conversations"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestParsePinnedEnv(t *testing.T) {
	p, err := parsePinnedEnv("2,3,8")
	if err != nil {
		if strings.Contains(err.Error(), "taskset") {
			t.Skip("no taskset")
		}
		t.Fatal(err)
	}
	if !p.on || p.benchCPU != 2 || p.proxyCPU != 3 || p.cpus != 8 || !strings.Contains(p.note, "CPU 3") {
		t.Fatalf("pinning %+v", p)
	}
	for _, bad := range []string{"", "1", "0,1", "0,1,x", "0,-1,2", "0,1,2,3"} {
		if _, err := parsePinnedEnv(bad); err == nil || !strings.Contains(err.Error(), pinnedEnv) {
			t.Errorf("parsePinnedEnv(%q) = %v, want an error naming %s", bad, err, pinnedEnv)
		}
	}
}
