//go:build !linux

package main

import "syscall"

// childAttr returns no attributes: only Linux can tie a child's life to
// the bench's.
func childAttr() *syscall.SysProcAttr { return nil }

// allowedCPUs returns nil: pinning is Linux-only.
func allowedCPUs() []int { return nil }

// raiseFileLimit does nothing: the memory scenario reads /proc, which is
// Linux's.
func raiseFileLimit(int) error { return nil }

// fileLimit returns a limit no scenario exceeds: the memory scenario
// fails on its /proc reads instead.
func fileLimit() int { return 1 << 30 }
