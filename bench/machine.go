package main

import (
	"bytes"
	"os"
	"runtime"
	"strings"
)

// Machine describes where the bench ran.
type Machine struct {
	CPU       string `json:"cpu"`
	CPUs      int    `json:"cpus"`
	Kernel    string `json:"kernel,omitempty"`
	GoVersion string `json:"go_version"`
	Pinned    bool   `json:"pinned"`
	Pinning   string `json:"pinning"`
}

func describeMachine(p pinning) Machine {
	m := Machine{
		CPU:       cpuModel(),
		CPUs:      p.cpus,
		GoVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Pinned:    p.on,
		Pinning:   p.note,
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range bytes.Lines(b) {
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && string(bytes.TrimSpace(name)) == "model name" {
			return string(bytes.TrimSpace(value))
		}
	}
	return runtime.GOARCH
}
