package qmgr

import (
	"context"
	"time"

	"github.com/moonpost/moonpost/core/egress"
)

// Shared egress rates. Lanes pace max_message_rate and
// max_connection_rate in the node (lane.go). With a RateGate — the
// daemon's throttle on Redis, when [redis] is set — each delivery that
// a rate applies to also asks the gate, so that a site's rate holds for
// all nodes together. The question is asked in the delivery goroutine,
// before the message is opened and the agent called: the manager's loop
// never waits on the network. A delivery the gate holds back was never
// attempted: nothing is recorded, the concurrency window does not move,
// the job goes back on its destination's queue and its lane waits for
// the gate's hint before it starts another (wait). The node-local
// pacing stays in force under the gate, so one node alone still spreads
// its starts evenly, and it is what is left when the throttle fails
// open.

// RateGate counts one event against a rate the nodes share. Allow runs
// in delivery goroutines, concurrently, and must honour ctx. ok false:
// over the rate, and retryAfter is when one event would pass. An error
// is no decision (Redis down and fail_closed): the delivery waits and
// tries again, as it would behind the rate.
type RateGate interface {
	Allow(ctx context.Context, key string, r egress.Rate) (ok bool, retryAfter time.Duration, err error)
}

// gateRetry is how long a lane waits when the gate could not decide.
const gateRetry = time.Second

// minHold keeps a refusal whose hint rounds to nothing from spinning.
const minHold = time.Millisecond

// gate is what one delivery asks of the RateGate: the rates of its lane
// that apply to it, under the lane's name. Zero rates are not asked.
type gate struct {
	key       string
	msg, conn egress.Rate
}

// gateFor is j's question, set when it starts (j.connUses known): the
// connection rate only for a delivery that needs a new connection. A
// response rule's rate cut is not shared: each node acts on the replies
// it got, with its local pacing.
func (l *lane) gateFor(j *job) gate {
	g := gate{key: l.name, msg: l.pol.MaxMessageRate}
	if j.connUses == 0 {
		g.conn = l.pol.MaxConnectionRate
	}
	return g
}

// passGate asks the gate for j, in its delivery goroutine: 0 when it
// may go, else how long its lane should wait. The connection rate is
// asked first; a message check refused after it granted a connection
// has spent that connection's share, which errs on the slow side.
func (m *Manager) passGate(j *job) time.Duration {
	if m.Rates == nil {
		return 0
	}
	if j.gate.conn.N > 0 {
		if w := m.askGate("egress:conn:"+j.gate.key, j.gate.conn); w > 0 {
			return w
		}
	}
	if j.gate.msg.N > 0 {
		return m.askGate("egress:msg:"+j.gate.key, j.gate.msg)
	}
	return 0
}

func (m *Manager) askGate(key string, r egress.Rate) time.Duration {
	ok, retry, err := m.Rates.Allow(m.ctx, key, r)
	switch {
	case err != nil:
		return gateRetry // the throttle logs its failures, paced
	case ok:
		return 0
	}
	return max(retry, minHold)
}

// requeueHeld takes back a delivery the gate held, on the loop: it
// leaves the lane as if it had not started, goes back on its
// destination's queue, and the lane waits until the hint. A message an
// operator marked meanwhile drops it, as it drops jobs not started.
func (m *Manager) requeueHeld(j *job) {
	m.running--
	m.inFlight.Add(-1)
	m.count(func(s *Stats) { s.Held++ })
	d := m.dests[j.key()] // never removed once made
	now := m.Clock.Now()
	d.lane.unstart(j, now) // out of flight whether it waits or is dropped
	d.lane.hold(now.Add(j.held))
	if j.am.op != 0 && j.am.op != OpRequeue {
		m.finishJob(j) // its recipients stay pending, with no new record
		return
	}
	j.held, j.gate = 0, gate{}
	d.jobs.push(j)
	if !d.inRing {
		d.inRing = true
		m.ring = append(m.ring, d)
	}
}

// unstart undoes start for a delivery that never ran: out of flight,
// and the modelled connection it took is idle again. The pacers keep
// their count: the retry is paced as a new start.
func (l *lane) unstart(j *job, now time.Time) {
	l.active--
	l.started--
	if j.connUses > 0 {
		l.idle = append(l.idle, connSlot{freed: now, uses: j.connUses})
	}
}

// hold makes the lane wait until t before its next start.
func (l *lane) hold(t time.Time) {
	if t.After(l.heldUntil) {
		l.heldUntil = t
	}
}
