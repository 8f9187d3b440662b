package proxy

import (
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Memory that comes back after a huge request.
//
// Every buffer a pooled call keeps is capped (call.go's reuse), so a
// 30 MiB body does not stay in the call pool. It still leaves the Go
// heap larger: the garbage collector sets its next goal from the heap it
// last saw live, huge request included, and an idle gateway runs no
// collection that would lower it, so the runtime keeps the pages (RSS
// stayed at 7x idle after twenty 30 MiB requests; fasthttp's body
// buffers, pooled in sync.Pools, need two collections to go).
//
// So a call whose request or answer body reached largeBody asks the
// trimmer for two rounds of debug.FreeOSMemory (a collection that then
// returns free pages to the OS), one per trimEvery: one goroutine for
// the process, idle unless such a call happened. Ordinary traffic, even
// agents' 1 MB requests, never triggers it.
//
// Rejected alternatives: debug.SetMemoryLimit only collects near a limit
// the operator would have to choose; a lower GOGC collects more often on
// every request; freeing after each large call would stop the world once
// per call under a burst of them.

// largeBody is the body size, in bytes, from which a call asks for a trim.
const largeBody = 8 << 20

// trimEvery is how often the trimmer may run: a burst of large calls
// costs one collection per trimEvery.
const trimEvery = time.Second

var memoryTrims = metrics.NewCounter(`switchboard_memory_trims_total`)

// trimmer returns the memory of huge requests to the OS; see above.
type trimmer struct {
	rounds atomic.Int32 // trims still wanted
	stop   chan struct{}
	done   chan struct{}
}

func startTrimmer() *trimmer {
	t := &trimmer{stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return t
}

// noteBody asks for a trim when a call's body of n bytes was large.
func (t *trimmer) noteBody(n int) {
	if n >= largeBody {
		t.rounds.Store(2) // two collections empty the sync.Pools too
	}
}

func (t *trimmer) run() {
	defer close(t.done)
	tick := time.NewTicker(trimEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			if t.rounds.Load() > 0 {
				t.rounds.Add(-1)
				debug.FreeOSMemory()
				memoryTrims.Inc()
			}
		}
	}
}

// close stops the trimmer.
func (t *trimmer) close() {
	close(t.stop)
	<-t.done
}
