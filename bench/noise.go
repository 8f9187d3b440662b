package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Noise is the CPU time that other processes and interrupts took during a
// scenario, as a share of the CPUs the bench uses: what a reader needs to
// tell a slow target from a busy machine. When pinned, the bench CPU is
// compared with the bench process and the proxy CPU with the floor and the
// gateway; unpinned, all CPUs with all of them. It is approximate: the
// kernel samples some of the counters at clock ticks.
type Noise struct {
	BenchCPU float64 `json:"bench_cpu_pct"`
	ProxyCPU float64 `json:"proxy_cpu_pct,omitempty"`
	Pinned   bool    `json:"pinned"`
}

// noiseProbe reads the CPU time of the machine and of the measured
// processes.
type noiseProbe struct {
	p        pinning
	children []*child
}

// noiseSample is one reading; times are in clock ticks.
type noiseSample struct {
	at                   time.Time
	benchIdle, proxyIdle int64 // the bench CPU (all CPUs unpinned) and the proxy CPU
	self, children       int64 // the measured processes
}

func (np noiseProbe) sample() (noiseSample, error) {
	s := noiseSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, fmt.Errorf("cannot read machine CPU time: %w", err)
	}
	if np.p.on {
		if s.benchIdle, err = parseIdleTicks(stat, "cpu"+strconv.Itoa(np.p.benchCPU)); err != nil {
			return s, err
		}
		if s.proxyIdle, err = parseIdleTicks(stat, "cpu"+strconv.Itoa(np.p.proxyCPU)); err != nil {
			return s, err
		}
	} else if s.benchIdle, err = parseIdleTicks(stat, "cpu"); err != nil {
		return s, err
	}
	if s.self, err = cpuTicks(os.Getpid()); err != nil {
		return s, err
	}
	for _, c := range np.children {
		n, err := cpuTicks(c.pid)
		if err != nil {
			return s, err
		}
		s.children += n
	}
	return s, nil
}

// noise returns the share of CPU time between a and b that was neither
// idle nor used by the measured processes, in percent.
func (np noiseProbe) noise(a, b noiseSample) Noise {
	elapsed := float64(b.at.Sub(a.at)) / float64(clockTick)
	share := func(cpus int, idle, own int64) float64 {
		if elapsed <= 0 {
			return 0
		}
		total := elapsed * float64(cpus)
		return max(0, total-float64(idle+own)) * 100 / total
	}
	self, children := b.self-a.self, b.children-a.children
	if !np.p.on {
		return Noise{BenchCPU: share(np.p.cpus, b.benchIdle-a.benchIdle, self+children)}
	}
	return Noise{
		BenchCPU: share(1, b.benchIdle-a.benchIdle, self),
		ProxyCPU: share(1, b.proxyIdle-a.proxyIdle, children),
		Pinned:   true,
	}
}

// parseIdleTicks returns the idle and iowait ticks of the /proc/stat line
// named name ("cpu" for all CPUs, "cpu1" for one). The kernel keeps idle
// time precisely but samples busy time at ticks, which undercounts the
// short bursts of a proxy, so busy time is taken as elapsed time minus
// idle.
func parseIdleTicks(stat []byte, name string) (int64, error) {
	for line := range bytes.Lines(stat) {
		fields := bytes.Fields(line)
		if len(fields) == 0 || string(fields[0]) != name {
			continue
		}
		// name user nice system idle iowait ...
		const idle, iowait = 4, 5
		if len(fields) <= iowait {
			return 0, fmt.Errorf("cannot parse /proc/stat %q: want 5 counters", bytes.TrimSpace(line))
		}
		var sum int64
		for _, i := range []int{idle, iowait} {
			n, err := strconv.ParseInt(string(fields[i]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cannot parse /proc/stat %q: %w", bytes.TrimSpace(line), err)
			}
			sum += n
		}
		return sum, nil
	}
	return 0, fmt.Errorf("no %q line in /proc/stat", name)
}
