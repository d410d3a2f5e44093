package qmgr

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Flow paces new mail to the rate it is delivered, as Postfix's
// in_flow_delay does: when the messages the queue manager holds (active
// and waiting for room) exceed a limit, a new arrival pauses until
// there is room again, or for the delay at most. The limit leaves the
// deliveries a full pipeline; past it, accepting faster only grows the
// queue (and the files it takes) while starving the deliveries of CPU.
// A pause never refuses mail.
type Flow struct {
	limit int64
	delay time.Duration
	held  atomic.Int64 // messages held by the manager, as of its last loop
	// waiters counts callers inside Wait, so set takes the lock only
	// when someone may need waking.
	waiters atomic.Int32
	mu      sync.Mutex
	room    chan struct{} // closed when held drops to limit; nil when nobody waits
}

// NewFlow returns a Flow that pauses arrivals while more than limit
// messages are held, for delay at most. A zero delay never pauses.
func NewFlow(limit int, delay time.Duration) *Flow {
	return &Flow{limit: int64(limit), delay: delay}
}

// Wait pauses the caller while the manager holds more than the limit,
// for the delay at most, or until ctx ends. It reports whether it paused.
func (f *Flow) Wait(ctx context.Context) bool {
	if f == nil || f.delay <= 0 || f.held.Load() <= f.limit {
		return false
	}
	f.waiters.Add(1)
	defer f.waiters.Add(-1)
	f.mu.Lock()
	if f.room == nil {
		f.room = make(chan struct{})
	}
	room := f.room
	f.mu.Unlock()
	if f.held.Load() <= f.limit { // room made before we counted
		return false
	}
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-room:
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// set records how many messages the manager holds and wakes the waiters
// when that is within the limit.
func (f *Flow) set(n int) {
	if f == nil {
		return
	}
	f.held.Store(int64(n))
	if int64(n) > f.limit || f.waiters.Load() == 0 {
		return
	}
	f.mu.Lock()
	if f.room != nil {
		close(f.room)
		f.room = nil
	}
	f.mu.Unlock()
}
