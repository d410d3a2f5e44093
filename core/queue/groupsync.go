package queue

import (
	"sync"
)

// groupSync runs one sync operation (a directory fsync, or a syncfs of
// the whole spool) on behalf of many committers. A caller needs a sync
// that started after its own writes; while one sync runs, all callers
// arriving meanwhile wait and share the next one. Under load this turns N
// syncs into about two, without delaying a lone caller.
type groupSync struct {
	do      func() error
	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // syncs started
	done    uint64 // syncs finished
	running bool
	err     error // result of the last finished sync
}

func newGroupSync(do func() error) *groupSync {
	g := &groupSync{do: do}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Sync returns once a directory fsync that began after the call finished.
func (g *groupSync) Sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	target := g.started + 1
	for g.done < target {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		g.mu.Unlock()
		err := g.do()
		g.mu.Lock()
		g.running = false
		g.done = g.started
		g.err = err
		g.cond.Broadcast()
	}
	return g.err
}

// mark returns the number of the first sync to start from now on: once
// covered(mark) holds, a sync that began after the call has finished.
func (g *groupSync) mark() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.started + 1
}

// covered reports whether sync number n has finished (and succeeded).
func (g *groupSync) covered(n uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done >= n && g.err == nil
}
