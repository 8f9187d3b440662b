package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatTicks(t *testing.T) {
	f := func(stat string, want int64) {
		t.Helper()
		got, err := parseStatTicks([]byte(stat))
		if err != nil || got != want {
			t.Fatalf("parseStatTicks(%q) = %d, %v; want %d", stat, got, err, want)
		}
	}
	rest := " S 1 2 3 4 5 6 7 8 9 10 %s %s 13 14 20 0 8 0 100 1000 200 18446744073709551615\n"
	line := func(comm, utime, stime string) string {
		return "4242 (" + comm + ")" + strings.Replace(strings.Replace(rest, "%s", utime, 1), "%s", stime, 1)
	}
	f(line("switchboard", "150", "25"), 175)
	f(line("we ird) (name", "7", "0"), 7) // a command name with spaces and parentheses
	f(line("x", "0", "0"), 0)
}

func TestParseStatTicksRejectsBadLines(t *testing.T) {
	for _, stat := range []string{
		"",
		"4242 switchboard S 1 2",
		"4242 (switchboard) S 1 2 3",
		"4242 (switchboard) S 1 2 3 4 5 6 7 8 9 10 abc 3 13",
		"4242 (switchboard) S 1 2 3 4 5 6 7 8 9 10 -1 3 13",
		"4242 (switchboard) S 1 2 3 4 5 6 7 8 9 10 9223372036854775807 9223372036854775807 13",
	} {
		if got, err := parseStatTicks([]byte(stat)); err == nil {
			t.Errorf("parseStatTicks(%q) = %d, want an error", stat, got)
		}
	}
}

func TestCPUTicksOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := cpuTicks(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if rss, err := peakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("peakRSS = %d, %v", rss, err)
	}
	if _, err := cpuTicks(-1); err == nil {
		t.Fatal("cpuTicks of a missing process: no error")
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tswitchboard\nVmPeak:\t 1300000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   19000 kB\n"
	if got, err := parseStatusKB([]byte(status), "VmHWM"); err != nil || got != 20480<<10 {
		t.Fatalf("VmHWM = %d, %v; want %d", got, err, 20480<<10)
	}
	if got, err := parseStatusKB([]byte(status), "VmRSS"); err != nil || got != 19000<<10 {
		t.Fatalf("VmRSS = %d, %v; want %d", got, err, 19000<<10)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t 12 MB\n", "VmHWM:\t x kB\n", "VmHWM:\n", "VmHWM:\t 9223372036854775807 kB\n"} {
		if got, err := parseStatusKB([]byte(bad), "VmHWM"); err == nil {
			t.Errorf("parseStatusKB(%q) = %d, want an error", bad, got)
		}
	}
}

func TestParseIdleTicks(t *testing.T) {
	stat := []byte("cpu  113073 0 53100 1440433 815 0 3943 0 0 0\ncpu0 55655 0 26501 720907 125 0 2139 0 0 0\ncpu1 57418 0 26598 719525 689 0 1804 0 0 0\nintr 1 2 3\n")
	f := func(name string, want int64) {
		t.Helper()
		if got, err := parseIdleTicks(stat, name); err != nil || got != want {
			t.Fatalf("parseIdleTicks(%s) = %d, %v; want %d", name, got, err, want)
		}
	}
	f("cpu", 1440433+815)
	f("cpu1", 719525+689)
	for _, name := range []string{"cpu2", "intr", "cpu0 "} {
		if _, err := parseIdleTicks(stat, name); err == nil {
			t.Errorf("parseIdleTicks(%q): no error", name)
		}
	}
	if _, err := parseIdleTicks([]byte("cpu0 1 2 3 x 5\n"), "cpu0"); err == nil {
		t.Error("a bad counter was accepted")
	}
}

func TestNoiseIsTimeNeitherIdleNorOwn(t *testing.T) {
	start := time.Unix(0, 0)
	a := noiseSample{at: start, benchIdle: 1000, proxyIdle: 2000, self: 50, children: 70}
	// 2 s = 200 ticks: the bench CPU idled 100 and the bench used 90,
	// so 10 ticks (5%) went elsewhere; the proxy CPU idled 150 and the
	// proxies used 60, more than the rest: no noise, not a negative one.
	b := noiseSample{at: start.Add(2 * time.Second), benchIdle: 1100, proxyIdle: 2150, self: 140, children: 130}
	n := noiseProbe{p: pinning{on: true}}.noise(a, b)
	if n.BenchCPU < 4.99 || n.BenchCPU > 5.01 || n.ProxyCPU != 0 || !n.Pinned {
		t.Fatalf("pinned noise %+v, want 5%% and 0%%", n)
	}
	// Unpinned, two CPUs: 400 ticks, 100 idle, 150 own: 150 elsewhere.
	n = noiseProbe{p: pinning{cpus: 2}}.noise(a, b)
	if n.BenchCPU < 37.49 || n.BenchCPU > 37.51 || n.Pinned {
		t.Fatalf("unpinned noise %+v, want 37.5%%", n)
	}
}

func FuzzProcParsers(f *testing.F) {
	f.Add("4242 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14")
	f.Add("VmHWM:\t 12 kB\n")
	f.Add("cpu0 1 2 3 4 5 6 7 8\n")
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseStatTicks([]byte(s)); err == nil && n < 0 {
			t.Fatalf("parseStatTicks(%q) = %d", s, n)
		}
		if n, err := parseStatusKB([]byte(s), "VmHWM"); err == nil && n < 0 {
			t.Fatalf("parseStatusKB(%q) = %d", s, n)
		}
		_, _ = parseIdleTicks([]byte(s), "cpu0")
	})
}
