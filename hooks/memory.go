package hooks

import (
	"errors"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// errMemory is the cancellation cause of calls stopped by the watchdog.
var errMemory = errors.New("memory limit exceeded")

// memWatch is the per-call memory bound for Lua code.
//
// gopher-lua has no allocator hook, so a state's own memory cannot be
// counted. What can be done honestly: (1) every builtin that can make a
// large string in one Go call, and the concatenation operator, checks
// the size first (limits.go, concat.go, strlib.go); (2) every call has a
// deadline, which bounds how long a script can keep growing a table;
// (3) this watchdog samples the Go heap every few milliseconds and
// cancels a call in flight once the heap has grown by more than the
// limit since that call began. What the heap held before the call - a
// full kv store, other calls' states, the rest of the daemon - does
// not count against it, so a big heap no longer fails every call.
//
// The growth is the process's: garbage the rest of the daemon makes
// while the call runs counts too (it is collected later), and calls that
// overlap a culprit's growth see it as well and fail with it - with the
// usual temporary failure, the right side to err on. The limit should
// therefore sit well above what the daemon allocates in one
// CallTimeout. One allocation cannot be stopped half-way; since no
// string can exceed MaxString, the overshoot is one MaxString-sized step
// per sampling interval.
type memWatch struct {
	limit uint64 // heap growth in bytes; 0 disables
	every time.Duration
	heap  atomic.Uint64 // the last sample, the baseline of calls that start
	// stopped counts the calls cancelled for exceeding the limit.
	stopped atomic.Uint64

	mu       sync.Mutex
	inflight map[*callCtx]uint64 // call → heap bytes when it began
}

var heapMetric = "/memory/classes/heap/objects:bytes"

func newMemWatch(limit int64) *memWatch {
	w := &memWatch{every: 5 * time.Millisecond, inflight: map[*callCtx]uint64{}}
	if limit > 0 {
		w.limit = uint64(limit)
	}
	w.heap.Store(readHeap(make([]metrics.Sample, 1)))
	return w
}

func readHeap(sample []metrics.Sample) uint64 {
	sample[0].Name = heapMetric
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// track registers the context of a call in flight, with the heap size
// as last sampled as its baseline; untrack unregisters it. Once untrack
// returns, the watch no longer cancels it.
func (w *memWatch) track(c *callCtx) {
	if w == nil || w.limit == 0 {
		return
	}
	base := w.heap.Load()
	w.mu.Lock()
	w.inflight[c] = base
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

// run samples the heap until stop is closed. It samples while idle too,
// so that the baseline of a call that starts is never older than one
// interval.
func (w *memWatch) run(stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	if w.limit == 0 {
		return
	}
	sample := make([]metrics.Sample, 1)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		heap := readHeap(sample)
		w.heap.Store(heap)
		w.check(heap)
	}
}

// check cancels the calls the heap has grown by more than the limit
// since they began.
func (w *memWatch) check(heap uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c, base := range w.inflight {
		if heap > base && heap-base > w.limit {
			c.cancel(errMemory)
			delete(w.inflight, c) // once is enough, and counted once
			w.stopped.Add(1)
		}
	}
}
