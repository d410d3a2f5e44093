package hooks

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/moonpost/moonpost/core/metrics/tally"
)

// keptGenerations is how many generations CallStats reports: the live
// one and the ones before it, so that a reload does not make the last
// minutes of the previous generation's figures vanish from a scrape.
const keptGenerations = 4

// eventStats are one event's calls in one generation.
type eventStats struct {
	calls, errors, skipped atomic.Uint64
	latency                tally.Histogram
}

func newEventStats(counts map[string]int) map[string]*eventStats {
	m := make(map[string]*eventStats, len(counts))
	for ev := range counts {
		m[ev] = &eventStats{}
	}
	return m
}

// done counts one call that ran handlers, with its duration.
func (s *eventStats) done(start time.Time, err error) {
	s.calls.Add(1)
	if err != nil {
		s.errors.Add(1)
	}
	s.latency.Since(start)
}

// CallStats are the calls of one event in one generation.
type CallStats struct {
	Event      string
	Generation int
	Calls      uint64 // calls that ran the handlers
	Errors     uint64 // of which failed (Lua error, timeout, bad return value)
	// Skipped counts calls the open circuit breaker answered without
	// running the handlers (a temporary failure or a skip, as
	// configured).
	Skipped uint64
	Latency tally.HistogramSnapshot // of the calls that ran
}

// genHistory keeps the figures of the generations retired last; the
// generations themselves are not kept, so their Lua states can go.
type genHistory struct {
	mu   sync.Mutex
	past []pastGen // oldest first
}

type pastGen struct {
	n     int
	stats map[string]*eventStats
}

// retire remembers g's figures; called by Reload as g leaves.
func (h *genHistory) retire(g *generation) {
	if g == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.past = append(h.past, pastGen{g.n, g.stats})
	if len(h.past) > keptGenerations-1 {
		h.past = h.past[len(h.past)-(keptGenerations-1):]
	}
}

// CallStats reports the hook calls by event of the live generation and
// of the few before it.
func (e *Engine) CallStats() []CallStats {
	e.history.mu.Lock()
	gens := append([]pastGen(nil), e.history.past...)
	e.history.mu.Unlock()
	g := e.cur.Load()
	gens = append(gens, pastGen{g.n, g.stats})
	var out []CallStats
	for _, pg := range gens {
		for ev, s := range pg.stats {
			out = append(out, CallStats{Event: ev, Generation: pg.n, Calls: s.calls.Load(),
				Errors: s.errors.Load(), Skipped: s.skipped.Load(), Latency: s.latency.Snapshot()})
		}
	}
	return out
}

// LuaFigures describe the Lua states. gopher-lua allocates from the Go
// heap and has no allocator of its own, so the bytes a state holds
// cannot be told apart from the daemon's: HeapBytes is the Go heap as
// the memory watchdog last sampled it, the figure MemoryLimit is
// measured against.
type LuaFigures struct {
	Generation  int    // the live generation
	IdleStates  int    // states waiting in its pool
	Busy        int64  // calls running now, on any generation
	MemoryLimit int64  // the per-call heap growth limit (0: none)
	MemoryStops uint64 // calls the watchdog stopped for exceeding it
	HeapBytes   uint64 // the Go heap at the watchdog's last sample (0: no watchdog)
}

// Lua returns the Lua states' figures.
func (e *Engine) Lua() LuaFigures {
	g := e.cur.Load()
	f := LuaFigures{Generation: g.n, IdleStates: len(g.pool), Busy: e.busy.Load(), MemoryLimit: e.cfg.MemoryLimit}
	if e.mem != nil {
		f.MemoryStops = e.mem.stopped.Load()
		if e.mem.limit > 0 {
			f.HeapBytes = e.mem.heap.Load()
		}
	}
	return f
}
