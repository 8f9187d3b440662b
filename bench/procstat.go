package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which Linux fixes at 100 on every architecture Go supports
// (sysconf(_SC_CLK_TCK) returns it; Go cannot call sysconf without cgo).
const clockTick = 10 * time.Millisecond

// cpuTicks returns the user plus system CPU time of process pid, in clock
// ticks, from /proc/PID/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cannot read CPU time of process %d: %w", pid, err)
	}
	return parseStatTicks(b)
}

// parseStatTicks returns utime+stime, fields 14 and 15 of a /proc/PID/stat
// line. The command name (field 2) is in parentheses and may itself hold
// spaces and parentheses, so fields are counted from the last ')'.
func parseStatTicks(stat []byte) (int64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("cannot parse /proc stat %.40q: no ')' after the command name", stat)
	}
	fields := bytes.Fields(stat[i+1:])
	// fields[0] is field 3 (state), so field n is fields[n-3].
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("cannot parse /proc stat %.40q: %d fields after the command name, want more than %d", stat, len(fields), stime)
	}
	var total int64
	for _, f := range [][]byte{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil || n < 0 || n > math.MaxInt64/2 {
			return 0, fmt.Errorf("cannot parse /proc stat CPU field %q: want a tick count", f)
		}
		total += n
	}
	return total, nil
}

// peakRSS returns the peak resident set size of process pid in bytes, from
// VmHWM in /proc/PID/status.
func peakRSS(pid int) (int64, error) { return statusBytes(pid, "VmHWM") }

// currentRSS returns the resident set size of process pid in bytes, from
// VmRSS in /proc/PID/status.
func currentRSS(pid int) (int64, error) { return statusBytes(pid, "VmRSS") }

// statusBytes returns the field of /proc/PID/status in bytes.
func statusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("cannot read memory use of process %d: %w", pid, err)
	}
	return parseStatusKB(b, field)
}

// parseStatusKB returns the line "field: N kB" of a /proc/PID/status file
// in bytes.
func parseStatusKB(status []byte, field string) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte(field+":"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("cannot parse %q: want %s: N kB", bytes.TrimSpace(line), field)
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64>>10 {
			return 0, fmt.Errorf("cannot parse %q: want %s: N kB", bytes.TrimSpace(line), field)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line in /proc status", field)
}

// openFDs returns how many file descriptors process pid has open, from
// /proc/PID/fd.
func openFDs(pid int) (int, error) {
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, fmt.Errorf("cannot count the open files of process %d: %w", pid, err)
	}
	return len(entries), nil
}
