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

// stallAfter is how long a lane may go full without a delivery starting
// or ending, or be paced for, before its backlog stops pacing arrivals.
const stallAfter = time.Second

// flowRecount bounds how often the stalled backlog is counted again
// while the manager holds more than the Flow's limit.
const flowRecount = 250 * time.Millisecond

// stalled reports whether the lane can start nothing for stallAfter:
// full, with no delivery started or ended for that long (a slow or
// tarpitting receiver), or paced (a rate, a shared rate's hold) at
// least that far ahead.
func (l *lane) stalled(now time.Time) bool {
	wait, room := l.wait(now)
	if !room {
		return now.Sub(l.lastStart) > stallAfter && now.Sub(l.lastDone) > stallAfter
	}
	return wait >= stallAfter
}

// flowHeld is what the Flow paces arrivals by: the messages the manager
// holds, less those waiting on a stalled lane (queued behind it or in
// its deliveries). A slow receiver's backlog is its own: it waits for
// that receiver whatever the arrival rate, so it must not slow mail
// for everyone else, as Postfix's intake into its active queue is not
// held up by one destination. The stalled count is taken only while
// the limit is exceeded, and at most every flowRecount.
func (m *Manager) flowHeld() int {
	n := len(m.active) + m.waiting.len()
	if m.Flow == nil || int64(n) <= m.Flow.limit {
		return n
	}
	now := m.Clock.Now()
	if now.Sub(m.flowAt) >= flowRecount {
		m.flowAt, m.flowStalled = now, m.stalledBacklog(now)
	}
	return max(n-m.flowStalled, 0)
}

// stalledBacklog counts the jobs queued for destinations of stalled
// lanes and the deliveries those lanes have in flight.
func (m *Manager) stalledBacklog(now time.Time) int {
	m.flowPass++
	n := 0
	for _, d := range m.ring {
		l := d.lane
		if l == nil || !l.stalled(now) {
			continue
		}
		n += d.jobs.len()
		if l.flowMark != m.flowPass {
			l.flowMark = m.flowPass
			n += l.active
		}
	}
	return n
}
