package qmgr

import (
	"errors"
	"strings"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
)

// activeMsg is a message in the active set.
type activeMsg struct {
	msg      *queue.Message
	jobsLeft int  // deliveries not yet completed
	held     bool // still holds the reference Read gave (see heldFiles)
	// op is an operator action to apply when the deliveries return, with
	// its hold reason or bounce text (see admin.go); 0 when none.
	op   Op
	text string
	// finishing is set while a goroutine settles the message (notices,
	// then removal or deferral) so the manager goroutine never waits on
	// that I/O; operator actions wait for it (awaitSettled).
	finishing bool
	retry     bool // set by the goroutine: could not settle, list incoming again
	again     bool // a flush or scan wants it back from deferred/ once settled
}

// heldFiles bounds the active messages that keep their queue file open
// between activation and delivery.
const heldFiles = 256

// arrived activates a message cleanup just committed, and any others
// already announced, without listing the directory.
func (m *Manager) arrived(id queue.ID) {
	for {
		if len(m.active) >= m.Config.ActiveLimit {
			m.backlog = true // it waits in incoming/ for a listing
		} else {
			m.activate(id, queue.Incoming)
		}
		select {
		case id = <-m.arrivals:
		default:
			return
		}
	}
}

// loadIncoming lists incoming/ and moves mail into the active set while
// there is room. Mail beyond the limit waits in incoming/ and sets
// backlog, so the next completion lists again.
func (m *Manager) loadIncoming() {
	m.backlog = false
	if len(m.active) >= m.Config.ActiveLimit {
		m.backlog = true
		return
	}
	ids, err := m.Store.IDs(queue.Incoming)
	if err != nil {
		m.Log.Error("qmgr: cannot list incoming", "err", err)
		return
	}
	for _, id := range ids {
		if len(m.active) >= m.Config.ActiveLimit {
			m.backlog = true
			return
		}
		m.activate(id, queue.Incoming)
	}
}

// scanDeferred activates deferred mail whose time has come (all of it
// when force is set) and returns how many messages it moved.
func (m *Manager) scanDeferred(force bool) int {
	ents, err := m.Store.List(queue.Deferred)
	if err != nil {
		m.Log.Error("qmgr: cannot list deferred", "err", err)
		return 0
	}
	now, n := m.Clock.Now(), 0
	for _, e := range ents {
		if len(m.active) >= m.Config.ActiveLimit {
			break
		}
		if force || !e.MTime.After(now) {
			if m.activate(e.ID, queue.Deferred) {
				n++
			}
		}
	}
	return n
}

// activate moves one message into active/, reads it, and queues its
// deliveries. It reports whether the message became active.
func (m *Manager) activate(id queue.ID, from queue.State) bool {
	if am, ok := m.active[id]; ok {
		if am.finishing && from == queue.Deferred {
			// Being parked in deferred/ right now: take it back as soon
			// as it has settled.
			am.again = true
			return true
		}
		return false
	}
	// No directory fsync: after a crash active/ returns to incoming/, so
	// losing this rename changes nothing.
	if err := m.Store.Rename(id, from, queue.Active); err != nil {
		if !errors.Is(err, queue.ErrNotFound) {
			m.Log.Error("qmgr: cannot activate", "queue_id", id, "err", err)
		}
		return false
	}
	msg, err := m.Store.Read(queue.Active, id)
	if err != nil {
		if errors.Is(err, queue.ErrCorrupt) {
			m.Store.Quarantine(queue.Active, id, err)
			return false
		}
		// Not the file's fault (out of descriptors, say): put it back
		// where it came from, to be tried again by a later listing.
		m.Log.Error("qmgr: cannot read, will retry", "queue_id", id, "err", err)
		if err := m.Store.Rename(id, queue.Active, from); err != nil {
			m.Log.Error("qmgr: cannot put back", "queue_id", id, "err", err)
		}
		m.backlog = true
		return false
	}
	am := &activeMsg{msg: msg}
	m.active[id] = am
	m.plan(am)
	// Beyond a budget, waiting messages hold no descriptor (deliveries
	// reopen the file): a backlog of thousands must not exhaust them,
	// while the common case keeps the file open from read to delivery.
	if len(m.active) > heldFiles {
		msg.Release()
	} else {
		am.held = true
	}
	if am.jobsLeft == 0 {
		m.startFinish(am) // nothing to deliver: only notices or removal left
	}
	return true
}

// plan resolves the pending recipients and groups them into jobs.
func (m *Manager) plan(am *activeMsg) {
	groups := map[string]*job{}
	var order []*job
	seen := map[string]int{}
	for _, i := range am.msg.Pending() {
		r := am.msg.Recipients[i]
		key := strings.ToLower(r.Addr)
		if first, dup := seen[key]; dup {
			// Postfix delivers a recipient once per message.
			m.record(am.msg, i, resultFor(dsn.Sent.WithText("duplicate of recipient "+itoa(first)), "none"), nil)
			continue
		}
		seen[key] = i
		dest, err := m.Resolver.Resolve(m.ctx, r.Addr, &am.msg.Envelope)
		if err != nil {
			m.Log.Error("qmgr: cannot resolve recipient", "queue_id", am.msg.ID, "to", r.Addr, "err", err)
			m.record(am.msg, i, resultFor(dsn.TempPolicy.WithText("mail transport unavailable"), "none"), nil)
			continue
		}
		order = m.addToGroup(groups, order, am, dest, i)
	}
	// A message delivered in one job needs no durable per-recipient
	// record when that job succeeds for everyone: the file goes next.
	if len(order) == 1 && len(am.msg.Pending()) == len(order[0].rcpts) {
		order[0].whole = true
	}
	for _, j := range order {
		m.enqueue(j)
	}
}

// addToGroup puts recipient i into the open job for dest, starting a new
// job when the transport's recipient limit is reached.
func (m *Manager) addToGroup(groups map[string]*job, order []*job, am *activeMsg, dest resolve.Destination, i int) []*job {
	key := dest.Key()
	j := groups[key]
	if j == nil || len(j.rcpts) >= m.rcptLimit(dest.Transport) {
		j = &job{am: am, dest: dest}
		groups[key] = j
		order = append(order, j)
		am.jobsLeft++
	}
	j.rcpts = append(j.rcpts, i)
	return order
}

func (m *Manager) rcptLimit(transport string) int {
	if n, ok := m.Config.TransportRcpts[transport]; ok && n > 0 {
		return n
	}
	return m.Config.RcptLimit
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
