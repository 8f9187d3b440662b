//go:build !linux

package main

import "time"

// pacer sleeps until given times, with the precision of Go's timers.
type pacer struct{}

func newPacer() (*pacer, error) { return &pacer{}, nil }

// waitUntil returns at t, or at once if t has passed.
func (p *pacer) waitUntil(t time.Time) error {
	time.Sleep(time.Until(t))
	return nil
}

func (p *pacer) close() error { return nil }
