package queue

import (
	"os"
	"sync"
)

// groupSync fsyncs one directory on behalf of many committers. A caller
// needs a sync that started after its rename; while one sync runs, all
// callers arriving meanwhile wait and share the next one. Under load this
// turns N directory fsyncs into about two, without delaying a lone caller.
type groupSync struct {
	dir     *os.File
	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // syncs started
	done    uint64 // syncs finished
	running bool
	err     error // result of the last finished sync
}

func newGroupSync(dir *os.File) *groupSync {
	g := &groupSync{dir: dir}
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
		err := g.dir.Sync()
		g.mu.Lock()
		g.running = false
		g.done = g.started
		g.err = err
		g.cond.Broadcast()
	}
	return g.err
}
