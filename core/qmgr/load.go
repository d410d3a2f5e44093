package qmgr

import (
	"os"
	"time"

	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
)

// activeMsg is a message in the active set.
type activeMsg struct {
	id       queue.ID
	msg      *queue.Message // nil until a resolve worker has read it
	jobsLeft int            // deliveries not yet completed
	held     bool           // still holds the reference Read gave (see heldFiles)
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

// waitingMsg is mail ready to activate once the active set has room.
type waitingMsg struct {
	id   queue.ID
	from queue.State
}

// wait puts a message of tenant on the waiting list, once. A flush or
// scan that meets a message being parked in deferred/ asks for it back
// instead. The tenant is known for mail cleanup announced (WakeTenant);
// mail found by a listing (at start, deferred retries) waits as
// untenanted, since reading each file to learn it is not the manager's
// to do.
func (m *Manager) wait(id queue.ID, from queue.State, tenant string) {
	if am := m.active[id]; am != nil {
		if am.finishing && from == queue.Deferred {
			am.again = true
		}
		return
	}
	if m.waitingSet[id] {
		return
	}
	m.waitingSet[id] = true
	m.waiting.push(tenant, waitingMsg{id, from})
}

// admit activates waiting mail while there is room: round-robin over the
// tenants waiting, oldest first within a tenant (fairQueue), so one
// tenant's flood that fills the active set does not keep another
// tenant's mail out of it. The waiting list lives in memory so that room
// opening up costs no directory listing, however large the backlog.
func (m *Manager) admit() int {
	n := 0
	for m.waiting.len() > 0 && len(m.active) < m.Config.ActiveLimit {
		w := m.waiting.pop()
		delete(m.waitingSet, w.id)
		if m.activate(w.id, w.from) {
			n++
		}
	}
	return n
}

// arrived takes the IDs cleanup announced, without listing the directory.
func (m *Manager) arrived(a arrival) {
	for {
		m.wait(a.id, queue.Incoming, a.tenant)
		select {
		case a = <-m.arrivals:
		default:
			m.admit()
			return
		}
	}
}

// loadIncoming lists incoming/, for mail nobody announced (at start, after
// an overflow of announcements, or files put back for a retry).
func (m *Manager) loadIncoming() {
	m.relist = false
	ids, err := m.Store.IDs(queue.Incoming)
	if err != nil {
		m.Log.Error("qmgr: cannot list incoming", "err", err)
		return
	}
	for _, id := range ids {
		m.wait(id, queue.Incoming, "")
	}
	m.admit()
}

// scanDeferred queues deferred mail whose time has come and admits what
// fits. It returns how many messages it activated.
func (m *Manager) scanDeferred() int {
	start := time.Now()
	now, files, due := m.Clock.Now(), 0, 0
	// The walk holds the IDs only, so a deferred queue of a million
	// messages costs tens of megabytes while it is scanned.
	err := m.Store.Walk(queue.Deferred, func(e queue.Entry) bool {
		files++
		if !e.MTime.After(now) {
			m.wait(e.ID, queue.Deferred, "")
			due++
		}
		return true
	})
	if err != nil {
		m.Log.Error("qmgr: cannot list deferred", "err", err)
		return 0
	}
	m.Log.Debug("qmgr: deferred scan", "files", files, "due", due, "took", time.Since(start).Round(time.Millisecond))
	return m.admit()
}

// flushDeferred makes every deferred message due now, as Postfix's
// postqueue -f does: each file's next-attempt time (its mtime) is set to
// now, and the scan takes them as the active set has room. Mail retried
// after the flush gets a new time in the future, so a flush runs once.
func (m *Manager) flushDeferred() int {
	now, n := m.Clock.Now(), 0
	err := m.Store.Walk(queue.Deferred, func(e queue.Entry) bool {
		n++
		if e.MTime.After(now) {
			if err := m.Store.SetNextAttempt(queue.Deferred, e.ID, now); err != nil && !os.IsNotExist(err) {
				m.Log.Error("qmgr: cannot flush", "queue_id", e.ID, "err", err)
			}
		}
		return true
	})
	if err != nil {
		m.Log.Error("qmgr: cannot list deferred", "err", err)
		return 0
	}
	m.scanDeferred()
	return n
}

// activate takes a message into the active set: a place is held for it
// at once, and a resolve worker moves it into active/, reads it and
// resolves its recipients off this goroutine (see prepare.go). It
// reports whether the message was taken.
func (m *Manager) activate(id queue.ID, from queue.State) bool {
	if _, ok := m.active[id]; ok {
		return false
	}
	am := &activeMsg{id: id, jobsLeft: 1} // the resolution counts as a job
	m.active[id] = am
	m.toPrepare = append(m.toPrepare, prepareTask{am: am, from: from})
	m.pumpPrepare()
	return true
}

// take puts a message read from (or committed into) active/ into the
// active set; a resolve worker plans its deliveries. It holds the
// reference Read or CommitActive gave.
func (m *Manager) take(msg *queue.Message) {
	am := &activeMsg{id: msg.ID, jobsLeft: 1}
	m.active[msg.ID] = am
	m.toPrepare = append(m.toPrepare, prepareTask{am: am, msg: msg})
	m.pumpPrepare()
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
	}
	j.rcpts = append(j.rcpts, i)
	return order
}

// rcptLimit runs in the resolve workers, so it reads the published
// settings.
func (m *Manager) rcptLimit(transport string) int {
	cfg := m.settings()
	if n, ok := cfg.TransportRcpts[transport]; ok && n > 0 {
		return n
	}
	return cfg.RcptLimit
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
