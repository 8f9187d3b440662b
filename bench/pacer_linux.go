package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pacer sleeps until given times with microsecond precision. Go's timers
// wake an idle process at millisecond granularity (the runtime's
// epoll_wait timeout is in milliseconds), which at thousands of requests
// per second would make the open loop send in bursts and charge the
// targets up to a millisecond of the bench's own lateness. A timerfd read
// through the runtime's poller wakes it when due instead. It is not safe
// for concurrent use.
type pacer struct {
	fd int
	f  *os.File
}

func newPacer() (*pacer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("cannot create timerfd: %w", err)
	}
	// A non-blocking fd given to os.NewFile is registered with the poller,
	// so Read parks the goroutine instead of blocking a thread.
	return &pacer{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}, nil
}

// waitUntil returns at t, or at once if t has passed.
func (p *pacer) waitUntil(t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	// Relative to when the timer is armed, a moment after d was computed:
	// it may fire a little late, never early.
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(p.fd, 0, &spec, nil); err != nil {
		return fmt.Errorf("cannot arm timerfd: %w", err)
	}
	var expirations [8]byte
	if _, err := p.f.Read(expirations[:]); err != nil {
		return fmt.Errorf("cannot wait on timerfd: %w", err)
	}
	return nil
}

func (p *pacer) close() error { return p.f.Close() }
