package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// pinnedEnv marks the bench process that runs pinned, so that it
// re-executes itself under taskset only once. Its value is
// "BENCHCPU,PROXYCPU,NCPU".
const pinnedEnv = "SWITCHBOARD_BENCH_PINNED"

// pinning is the CPU layout of a run. When on, the load generator and the
// mock share one CPU and the proxies under test get another to themselves,
// so that neither side steals cycles from the other and the CPU time read
// from a proxy's /proc/PID/stat is its own.
type pinning struct {
	on       bool   // this process runs on benchCPU; children go to proxyCPU
	reexec   bool   // this process must re-execute itself under taskset
	taskset  string // path of taskset
	benchCPU int
	proxyCPU int
	cpus     int    // CPUs available before pinning
	note     string // the layout, or why pinning is off
}

// checkPinning decides the CPU layout of a run that wants pinning or not.
func checkPinning(want bool) (pinning, error) {
	if env := os.Getenv(pinnedEnv); env != "" {
		return parsePinnedEnv(env)
	}
	cpus := allowedCPUs()
	p := pinning{cpus: max(len(cpus), runtime.NumCPU())}
	switch {
	case !want:
		p.note = "off (-pin=false)"
	case runtime.GOOS != "linux":
		p.note = "off: not Linux"
	case len(cpus) < 2:
		p.note = fmt.Sprintf("off: %d CPU available", len(cpus))
	default:
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			p.note = "off: taskset (util-linux) not found"
			break
		}
		p.reexec, p.taskset, p.benchCPU, p.proxyCPU, p.cpus = true, taskset, cpus[0], cpus[1], len(cpus)
	}
	return p, nil
}

func parsePinnedEnv(env string) (pinning, error) {
	bad := fmt.Errorf("%s=%q: want BENCHCPU,PROXYCPU,NCPU", pinnedEnv, env)
	parts := strings.Split(env, ",")
	if len(parts) != 3 {
		return pinning{}, bad
	}
	var n [3]int
	for i, part := range parts {
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return pinning{}, bad
		}
		n[i] = v
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return pinning{}, fmt.Errorf("pinned bench cannot find taskset: %w", err)
	}
	return pinning{
		on: true, taskset: taskset, benchCPU: n[0], proxyCPU: n[1], cpus: n[2],
		note: fmt.Sprintf("bench and mock on CPU %d, gateways and floor on CPU %d (taskset)", n[0], n[1]),
	}, nil
}

// command returns a command running name, pinned to the proxy CPU when
// pinning is on.
func (p pinning) command(name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if p.on {
		cmd = exec.Command(p.taskset, append([]string{"-c", strconv.Itoa(p.proxyCPU), name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.SysProcAttr = childAttr()
	return cmd
}

// reexecPinned runs this program again under `taskset -c BENCHCPU` with
// args and extra, forwarding signals, and returns its failure, if any.
func reexecPinned(p pinning, args, extra []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find own executable to re-run pinned: %w", err)
	}
	cmd := exec.Command(p.taskset, append(append([]string{"-c", strconv.Itoa(p.benchCPU), exe}, args...), extra...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d,%d", pinnedEnv, p.benchCPU, p.proxyCPU, p.cpus))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = childAttr()
	// The pinned process stops its own children; this one waits for it.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(sigs)
		close(sigs)
	}()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot re-run pinned under %s: %w", p.taskset, err)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitCode(exit.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("pinned bench: %w", err)
	}
	return nil
}

// exitCode is a failure a pinned bench process already reported.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
