package qmgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
)

// Operator actions. The manager's goroutine is the only one that moves
// mail into active/, so every action runs there: it can never race with
// an activation, and for a message in the active set it is recorded as a
// mark and applied when the message's deliveries return (no file is
// removed or moved under a delivery agent). Deliveries of a marked
// message that have not started yet are dropped at once, so a hold or a
// delete takes effect before the next attempt.
//
// A message in maildrop/ (not yet picked up) or corrupt/ is not found.

// Op is an operator action on one queued message.
type Op int

const (
	OpHold    Op = iota + 1 // park in hold/ with a reason
	OpRelease               // hold/ back to incoming/
	OpRequeue               // retry now: deferred/ or hold/ to incoming/, resolved again
	OpDelete                // remove without notice, like postsuper -d
	OpBounce                // fail every pending recipient with a text and notify the sender
)

var opNames = map[Op]string{OpHold: "hold", OpRelease: "release", OpRequeue: "requeue", OpDelete: "delete", OpBounce: "bounce"}

func (o Op) String() string { return opNames[o] }

// Outcome says what Apply did.
type Outcome int

const (
	Applied   Outcome = iota // done on the file
	Marked                   // the message is being delivered: done when its deliveries return
	Unchanged                // nothing to do (releasing mail that is not held, ...)
)

func (o Outcome) String() string { return [...]string{"applied", "marked", "unchanged"}[o] }

// DefaultBounceText is the status given to recipients bounced by an
// operator without a text of their own.
var DefaultBounceText = "message returned by the mail system administrator"

type adminReq struct {
	id    queue.ID
	op    Op
	text  string // hold reason or bounce text
	reply chan adminReply
}

type adminReply struct {
	from queue.State
	out  Outcome
	err  error
}

// Apply performs op on message id in the manager's goroutine and
// reports the state the message was found in. It waits for Run to take
// the request, so ctx should carry a deadline. An unknown ID gives
// queue.ErrNotFound; an invalid one an error (never a path).
func (m *Manager) Apply(ctx context.Context, id queue.ID, op Op, text string) (queue.State, Outcome, error) {
	if !queue.Valid(string(id)) {
		return "", Unchanged, fmt.Errorf("queue: invalid ID %q", id)
	}
	if opNames[op] == "" {
		return "", Unchanged, fmt.Errorf("qmgr: unknown operation %d", op)
	}
	req := &adminReq{id: id, op: op, text: text, reply: make(chan adminReply, 1)}
	select {
	case m.admin <- req:
	case <-ctx.Done():
		return "", Unchanged, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.from, r.out, r.err
	case <-ctx.Done():
		return "", Unchanged, ctx.Err()
	}
}

// doAdmin runs in the manager's goroutine.
func (m *Manager) doAdmin(req *adminReq) adminReply {
	m.awaitResolved(req.id)
	m.awaitSettled(req.id)
	if am := m.active[req.id]; am != nil {
		return adminReply{from: queue.Active, out: m.mark(am, req)}
	}
	for _, st := range []queue.State{queue.Incoming, queue.Deferred, queue.Hold} {
		if _, err := os.Lstat(m.Store.Path(st, req.id)); err == nil {
			out, err := m.applyFile(req, st)
			if err == nil && out == Applied {
				m.Log.Info(fmt.Sprintf("%s: %s by operator", req.id, req.op), "queue_id", req.id, "from", st)
			}
			return adminReply{from: st, out: out, err: err}
		}
	}
	return adminReply{err: queue.ErrNotFound}
}

// applyFile acts on a message that is not in the active set.
func (m *Manager) applyFile(req *adminReq, st queue.State) (Outcome, error) {
	switch req.op {
	case OpHold:
		if st == queue.Hold {
			return Unchanged, nil
		}
		return Applied, m.moveAndNote(req.id, st, queue.Hold, queue.HoldReason(holdText(req.text)))
	case OpRelease, OpRequeue:
		if st == queue.Incoming || (req.op == OpRelease && st != queue.Hold) {
			return Unchanged, nil
		}
		m.revive()
		var rec []queue.Record
		if st == queue.Hold {
			rec = append(rec, queue.HoldReason(""))
		}
		if err := m.moveAndNote(req.id, st, queue.Incoming, rec...); err != nil {
			return Unchanged, err
		}
		m.Wake(req.id)
		return Applied, nil
	case OpDelete:
		return Applied, m.Store.Remove(st, req.id)
	default: // OpBounce
		if err := m.failPending(req.id, st, req.text); err != nil {
			return Unchanged, err
		}
		// The normal path sends the bounce and removes the file.
		m.activate(req.id, st)
		return Applied, nil
	}
}

func holdText(s string) string {
	if s == "" {
		return "held by the mail system administrator"
	}
	return s
}

// moveAndNote renames the file, then journals recs in its new place. The
// directory is the state; the record only explains it, so a crash
// between the two leaves a consistent queue.
func (m *Manager) moveAndNote(id queue.ID, from, to queue.State, recs ...queue.Record) error {
	if err := m.Store.Move(id, from, to); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	msg, err := m.Store.Read(to, id)
	if err != nil {
		return err
	}
	defer msg.Close()
	return msg.Append(recs...)
}

func (m *Manager) failPending(id queue.ID, st queue.State, text string) error {
	msg, err := m.Store.Read(st, id)
	if err != nil {
		return err
	}
	defer msg.Close()
	return msg.Append(bounceRecords(msg, text)...)
}

func bounceRecords(msg *queue.Message, text string) []queue.Record {
	if text == "" {
		text = DefaultBounceText
	}
	reason := dsn.New(550, "5.0.0", text).Error()
	var recs []queue.Record
	for _, i := range msg.Pending() {
		recs = append(recs, queue.RcptFailed(i, reason))
	}
	return recs
}

// revive forgets which destinations were declared dead: an operator who
// releases or requeues mail wants it tried now, typically because an
// outage ended.
func (m *Manager) revive() {
	for _, d := range m.dests {
		d.deadUntil = time.Time{}
		d.failures = 0
	}
}

var errMarkConflict = errors.New("qmgr: another operation is pending on this message")

// mark records op on a message being delivered and drops its deliveries
// that have not started. Release cancels a pending hold; a second
// different operation is refused rather than silently replacing the
// first.
func (m *Manager) mark(am *activeMsg, req *adminReq) Outcome {
	switch {
	case req.op == OpRelease:
		if am.op != OpHold {
			return Unchanged
		}
		am.op, am.text = 0, ""
		return Applied
	case am.op == req.op:
		return Marked
	case am.op != 0:
		m.Log.Warn(errMarkConflict.Error(), "queue_id", am.id, "pending", am.op, "asked", req.op)
		return Unchanged
	}
	am.op, am.text = req.op, req.text
	if req.op == OpRequeue {
		m.revive()
	} else {
		m.dropJobs(am)
	}
	m.Log.Info(fmt.Sprintf("%s: %s by operator, after deliveries in progress", am.id, req.op), "queue_id", am.id)
	if am.jobsLeft == 0 {
		// Nothing in flight: settle now, in this goroutine, so the
		// operator sees the result.
		am.finishing = true
		m.settling++
		m.finish(am)
		m.settled(am)
		return Applied
	}
	return Marked
}

// dropJobs removes am's queued, unstarted deliveries from their
// destinations. Their recipients stay pending, with no new record.
func (m *Manager) dropJobs(am *activeMsg) {
	for _, d := range m.dests {
		am.jobsLeft -= d.jobs.drop(func(j *job) bool { return j.am == am })
	}
}

// finishMarked ends the attempt of a message an operator acted on while
// it was being delivered. It reports false when there was no mark.
func (m *Manager) finishMarked(am *activeMsg) bool {
	msg := am.msg
	switch am.op {
	case OpDelete:
		if err := msg.Remove(); err != nil {
			m.Log.Error("qmgr: cannot delete", "queue_id", msg.ID, "err", err)
		}
		return true
	case OpBounce:
		if err := msg.Append(bounceRecords(msg, am.text)...); err != nil {
			m.Log.Error("qmgr: cannot record operator bounce", "queue_id", msg.ID, "err", err)
		}
		return false // the normal path sends the notice and removes the file
	}
	return false
}

// parkMarked moves a message with pending recipients where its mark
// says, instead of deferred/. It reports false when there was no mark.
func (m *Manager) parkMarked(am *activeMsg) bool {
	msg := am.msg
	switch am.op {
	case OpHold:
		if err := msg.Append(queue.Attempt(msg.Attempts+1, m.Clock.Now()), queue.HoldReason(holdText(am.text))); err != nil {
			m.Log.Error("qmgr: cannot record hold", "queue_id", msg.ID, "err", err)
		}
		if err := m.Store.Move(msg.ID, queue.Active, queue.Hold); err != nil {
			m.Log.Error("qmgr: cannot hold", "queue_id", msg.ID, "err", err)
		}
		return true
	case OpRequeue:
		if err := msg.Append(queue.Attempt(msg.Attempts+1, m.Clock.Now())); err != nil {
			m.Log.Error("qmgr: cannot record attempt", "queue_id", msg.ID, "err", err)
		}
		if err := m.Store.Move(msg.ID, queue.Active, queue.Incoming); err != nil {
			m.Log.Error("qmgr: cannot requeue", "queue_id", msg.ID, "err", err)
		}
		m.WakeTenant(msg.ID, msg.Tenant)
		return true
	}
	return false
}

// awaitResolved waits while message id is being read and resolved by a
// resolve worker (bounded by the hook deadline), handling other answers
// meanwhile, so an operator action meets the message with its jobs
// queued, as if resolution were instant.
func (m *Manager) awaitResolved(id queue.ID) {
	for {
		am := m.active[id]
		if am == nil || am.msg != nil {
			return
		}
		m.resolved(<-m.prepared)
	}
}

// awaitSettled waits while message id is being settled (its notices,
// removal or deferral take about one fsync), handling other settled
// messages meanwhile, so an operator action meets the file where it
// ends up.
func (m *Manager) awaitSettled(id queue.ID) {
	for {
		am := m.active[id]
		if am == nil || !am.finishing {
			return
		}
		m.settled(<-m.finished)
	}
}
