//go:build !linux

package upstream

// Without epoll a Watch never arms: a call polls its client while it
// waits for the first byte, and learns that a streaming client left from
// the next write to it.

func (w *Watch) arm(*timedConn) bool { return false }

func (w *Watch) disarm() {}

func watcherSetConn(w *Watch, c *timedConn) { w.conn.Store(c) }
