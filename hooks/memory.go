package hooks

import (
	"errors"
	"runtime/metrics"
	"sync"
	"time"
)

// errMemory is the cancellation cause of calls stopped by the watchdog.
var errMemory = errors.New("memory limit exceeded")

// memWatch is the memory bound for Lua code.
//
// gopher-lua has no allocator hook, so a state's own memory cannot be
// counted. What can be done honestly: (1) the builtins that allocate a
// large string in one Go call are bounded (limits.go); (2) every call
// has a deadline, which bounds how long a script can keep growing a
// table or doubling a string; (3) this watchdog samples the Go heap
// every few milliseconds while calls are in flight and, above the
// limit, cancels all of them. It cannot tell which call is the culprit,
// so an innocent call running at the same moment fails too - with the
// usual temporary failure, which is the right side to err on. A single
// allocation (one concatenation of two 500 MB strings) still happens
// before anyone can stop it; the deadline keeps such doublings to a few.
type memWatch struct {
	limit uint64 // heap bytes; 0 disables
	every time.Duration

	mu       sync.Mutex
	inflight map[*callCtx]struct{}
}

func newMemWatch(limit int64) *memWatch {
	w := &memWatch{every: 5 * time.Millisecond, inflight: map[*callCtx]struct{}{}}
	if limit > 0 {
		w.limit = uint64(limit)
	}
	return w
}

// track registers the context of a call in flight; untrack unregisters
// it. Once untrack returns, the watch no longer cancels it.
func (w *memWatch) track(c *callCtx) {
	if w == nil || w.limit == 0 {
		return
	}
	w.mu.Lock()
	w.inflight[c] = struct{}{}
	w.mu.Unlock()
}

func (w *memWatch) untrack(c *callCtx) {
	if w == nil || w.limit == 0 {
		return
	}
	w.mu.Lock()
	delete(w.inflight, c)
	w.mu.Unlock()
}

func (w *memWatch) run(stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	if w.limit == 0 {
		return
	}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		w.mu.Lock()
		busy := len(w.inflight) > 0
		w.mu.Unlock()
		if !busy {
			continue
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > w.limit {
			w.cancelAll()
		}
	}
}

func (w *memWatch) cancelAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.inflight {
		c.cancel(errMemory)
	}
}
