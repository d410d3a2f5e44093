package qmgr

import (
	"sync"
	"sync/atomic"

	"github.com/moonpost/moonpost/core/queue"
)

// handoff lets cleanup commit new mail straight into active/ while the
// active set has room and nothing waits for it: the message then skips
// the move from incoming/ and the read back, and reaches the manager in
// memory. A commit first takes a place (Reserve), then hands the open
// message over (Adopt), or gives the place back (Unreserve) if the
// commit failed. Otherwise mail goes through incoming/ as before.
type handoff struct {
	open    atomic.Bool  // the manager runs and takes hand-offs
	active  atomic.Int64 // the active set's size, as of the manager's last loop
	waiting atomic.Int64 // mail waiting for room, as of the last loop
	taken   atomic.Int64 // places reserved and not yet adopted or given back
	mu      sync.Mutex
	msgs    []*queue.Message // adopted, not yet taken into the active set
	ready   chan struct{}    // signalled when msgs is not empty
}

// Reserve takes a place in the active set for a message about to be
// committed into active/. False means commit into incoming/ as usual:
// the manager is not running, mail is waiting (it goes first), or the
// set is full.
func (m *Manager) Reserve() bool {
	h := &m.handoff
	if !h.open.Load() || h.waiting.Load() > 0 {
		return false
	}
	if h.taken.Add(1)+h.active.Load() > int64(m.settings().ActiveLimit) {
		h.taken.Add(-1)
		return false
	}
	return true
}

// Unreserve gives back a place Reserve took, when the commit failed.
func (m *Manager) Unreserve() { m.handoff.taken.Add(-1) }

// Adopt hands over a message committed into active/ under a place
// Reserve took; the manager owns it (and its reference) from now on.
func (m *Manager) Adopt(msg *queue.Message) {
	h := &m.handoff
	h.mu.Lock()
	h.msgs = append(h.msgs, msg)
	h.mu.Unlock()
	select {
	case h.ready <- struct{}{}:
	default: // already signalled
	}
}

// takeAdopted moves the handed-over messages into the active set.
func (m *Manager) takeAdopted() {
	h := &m.handoff
	h.mu.Lock()
	msgs := h.msgs
	h.msgs = nil
	h.mu.Unlock()
	for _, msg := range msgs {
		h.taken.Add(-1)
		if _, dup := m.active[msg.ID]; dup {
			msg.Close() // cannot happen: IDs are unique
			continue
		}
		m.take(msg)
	}
}

// publish tells Reserve the active set's state after a loop.
func (m *Manager) publish() {
	m.handoff.active.Store(int64(len(m.active)))
	m.handoff.waiting.Store(int64(m.waiting.len()))
}

// closeHandoff stops hand-offs and releases messages handed over too
// late to be delivered: they stay in active/, and the next start
// returns them to incoming/.
func (m *Manager) closeHandoff() {
	m.handoff.open.Store(false)
	m.handoff.mu.Lock()
	msgs := m.handoff.msgs
	m.handoff.msgs = nil
	m.handoff.mu.Unlock()
	for _, msg := range msgs {
		msg.Close()
	}
}
