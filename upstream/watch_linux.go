package upstream

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// watcher is the process-wide client watcher of Watch: one epoll set and
// the goroutine that waits on it, started by the first arm. Its table
// maps the slot an event names to the Watch armed there.
var watcher struct {
	once sync.Once
	epfd atomic.Int32 // -1: epoll is unavailable, nothing arms

	mu    sync.Mutex
	slots []*Watch
	free  []int32
	seq   uint32
}

// watchEvents are the events a client socket is watched for: the client
// closed or shut down its side (EPOLLRDHUP), or the socket broke
// (EPOLLHUP and EPOLLERR, which epoll always reports); once.
const watchEvents = unix.EPOLLRDHUP | unix.EPOLLONESHOT

// aLongTimeAgo is the read deadline that wakes a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

func startWatcher() {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		watcher.epfd.Store(-1)
		return
	}
	watcher.epfd.Store(int32(fd))
	go watchClients(fd)
}

// watchClients is the watcher goroutine. It blocks one thread in
// epoll_wait, which is what an idle stream costs: nothing per stream.
func watchClients(epfd int) {
	var events [128]unix.EpollEvent
	for {
		n, err := unix.EpollWait(epfd, events[:], -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// EBADF or EINVAL: the set is broken. Calls already armed
			// keep their fallback, the first-byte and idle timeouts.
			watcher.epfd.Store(-1)
			return
		}
		wake(events[:n])
	}
}

// wake marks the watches events name as gone and wakes their reads.
func wake(events []unix.EpollEvent) {
	watcher.mu.Lock()
	defer watcher.mu.Unlock()
	for _, ev := range events {
		i := int(ev.Fd)
		if i < 0 || i >= len(watcher.slots) {
			continue
		}
		w := watcher.slots[i]
		if w == nil || w.seq != uint32(ev.Pad) {
			continue // disarmed after epoll_wait returned it
		}
		w.gone.Store(true)
		if c := w.conn.Load(); c != nil {
			_ = c.Conn.SetReadDeadline(aLongTimeAgo)
		}
	}
}

// arm registers w's client socket with the watcher, c being the
// upstream connection to wake. It reports false when the client has no
// socket or epoll refuses it; the call then polls.
func (w *Watch) arm(c *timedConn) bool {
	watcher.once.Do(startWatcher)
	epfd := int(watcher.epfd.Load())
	if epfd < 0 {
		return false
	}
	fd := w.clientFD()
	if fd < 0 {
		return false
	}
	watcher.mu.Lock()
	var i int32
	if k := len(watcher.free); k > 0 {
		i = watcher.free[k-1]
		watcher.free = watcher.free[:k-1]
	} else {
		i = int32(len(watcher.slots))
		watcher.slots = append(watcher.slots, nil)
	}
	watcher.seq++
	watcher.slots[i] = w
	w.seq, w.slot, w.fd = watcher.seq, i+1, fd
	w.conn.Store(c)
	watcher.mu.Unlock()
	// Added after the slot is filled, so that an event, even an
	// immediate one (the client left already), finds it.
	ev := unix.EpollEvent{Events: watchEvents, Fd: i, Pad: int32(w.seq)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.freeSlot()
		return false
	}
	return true
}

// disarm ends w's registration, if any: no event for it is acted on
// after disarm returns.
func (w *Watch) disarm() {
	if w.slot == 0 {
		return
	}
	if epfd := int(watcher.epfd.Load()); epfd >= 0 {
		_ = unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, w.fd, nil)
	}
	w.freeSlot()
}

// freeSlot gives w's table slot back.
func (w *Watch) freeSlot() {
	watcher.mu.Lock()
	watcher.slots[w.slot-1] = nil
	watcher.free = append(watcher.free, w.slot-1)
	w.conn.Store(nil)
	watcher.mu.Unlock()
	w.slot, w.fd = 0, -1
}

// watcherSetConn changes the upstream connection an armed w wakes.
func watcherSetConn(w *Watch, c *timedConn) {
	watcher.mu.Lock()
	w.conn.Store(c)
	watcher.mu.Unlock()
}

// clientFD returns the fd of w's client socket, or -1. Asking for the
// syscall.RawConn allocates; it happens once per armed call.
func (w *Watch) clientFD() int {
	sc, ok := w.clientConn().(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	if w.takeFD == nil {
		w.takeFD = w.setFD
	}
	w.fd = -1
	if raw.Control(w.takeFD) != nil {
		return -1
	}
	return w.fd
}

// setFD is w.takeFD, made a method value once per Watch so that
// clientFD does not allocate a closure.
func (w *Watch) setFD(fd uintptr) { w.fd = int(fd) }
