//go:build !linux

package main

import "syscall"

// childAttr returns no attributes: only Linux can tie a child's life to
// the bench's.
func childAttr() *syscall.SysProcAttr { return nil }

// allowedCPUs returns nil: pinning is Linux-only.
func allowedCPUs() []int { return nil }
