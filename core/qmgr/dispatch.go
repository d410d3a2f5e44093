package qmgr

import (
	"context"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/resolve"
)

// job is one delivery: recipients of one message to one destination.
type job struct {
	am      *activeMsg
	dest    resolve.Destination
	rcpts   []int            // recipient indexes in the message
	results []deliver.Result // filled by the delivery goroutine
	// whole is set when this job carries every pending recipient of its
	// message, so success for all means the message is done.
	whole bool
	// skipped is set for a job of a suspended destination: results are
	// preset, the agent is not called.
	skipped bool
	// egress is the destination's shaping (nil: the defaults); rules
	// are the response rules in force when it started, and rule the one
	// a reply matched, with the reply.
	egress   *egress.Policy
	rules    egress.Rules
	rule     *egress.Rule
	reply    string
	connUses int // deliveries the modelled connection carried before
	// gate is what the shared rate is asked before the delivery
	// (sharedrate.go); held, when it said no, how long the lane waits.
	gate gate
	held time.Duration
}

// destination is the per-next-hop queue with its concurrency state.
type destination struct {
	key  string
	jobs jobQueue
	// lane is the limit set the destination shares with its site (its
	// own when it has none): window, in flight, rates (lane.go).
	lane               *lane
	transport, nexthop string
	domain             string // of the next hop (egress.DomainOf)
	// failures counts consecutive deliveries that reached no server.
	failures int
	// deadUntil: while in the future the destination is "dead": its jobs
	// are deferred at once with lastErr instead of being tried.
	deadUntil time.Time
	lastErr   *dsn.Status
	inRing    bool
}

func (m *Manager) enqueue(j *job) {
	key := j.key()
	d := m.dests[key]
	if d == nil {
		d = &destination{key: key, transport: j.dest.Transport, nexthop: j.dest.Nexthop,
			domain: egress.DomainOf(j.dest.Nexthop)}
		m.dests[key] = d
	}
	d.lane = m.laneFor(key, j.egress)
	d.jobs.push(j)
	if !d.inRing {
		d.inRing = true
		m.ring = append(m.ring, d)
	}
}

// dispatch starts deliveries round-robin over destinations: one job from
// each destination with room per pass, until the global limit is reached
// or nothing can start.
func (m *Manager) dispatch() {
	for m.running < m.Config.MaxDeliveries && len(m.ring) > 0 {
		started := false
		for n := len(m.ring); n > 0 && m.running < m.Config.MaxDeliveries; n-- {
			if m.next >= len(m.ring) {
				m.next = 0
			}
			d := m.ring[m.next]
			if m.serve(d) {
				started = true
			}
			if d.jobs.len() == 0 {
				m.dropFromRing(m.next)
				continue
			}
			m.next++
		}
		if !started {
			return
		}
	}
}

// serve starts (or, for a dead or suspended destination, defers) the
// head job of d. A lane without room or paced for later leaves d's jobs
// queued; a paced lane sets wakeAt so the loop returns in time.
func (m *Manager) serve(d *destination) bool {
	if d.jobs.len() == 0 {
		return false
	}
	now := m.Clock.Now()
	if now.Before(d.deadUntil) {
		m.skipHead(d, d.lastErr.WithText("delivery temporarily suspended: "+d.lastErr.Text))
		return true
	}
	if st := m.suspendedFor(d, now); st != nil {
		m.skipHead(d, st)
		return true
	}
	wait, room := d.lane.wait(now)
	if !room {
		return false
	}
	if wait > 0 {
		m.wakeAfter(now.Add(wait))
		return false
	}
	j := d.jobs.pop()
	j.rules = m.Config.Rules
	d.lane.start(j, now)
	j.gate = d.lane.gateFor(j)
	m.running++
	m.inFlight.Add(1)
	m.wg.Add(1)
	go m.deliver(j)
	return true
}

// skipHead defers d's head job without trying: recorded (an fsync) in
// the same bounded pool as deliveries, not on the manager goroutine.
func (m *Manager) skipHead(d *destination, st *dsn.Status) {
	j := d.jobs.pop()
	j.skipped = true
	j.results = deliver.AllResults(len(j.rcpts), st, "none")
	m.running++
	m.inFlight.Add(1)
	m.wg.Add(1)
	go m.deliver(j)
}

func (m *Manager) dropFromRing(i int) {
	m.ring[i].inRing = false
	m.ring = append(m.ring[:i], m.ring[i+1:]...)
}

// deliver runs in its own goroutine: it calls the agent, records every
// outcome durably, and reports back.
func (m *Manager) deliver(j *job) {
	defer m.wg.Done()
	msg := j.am.msg
	if j.skipped {
		for k, i := range j.rcpts {
			m.record(msg, i, j.results[k], &j.dest)
		}
		m.results <- j
		return
	}
	if j.held = m.passGate(j); j.held > 0 {
		m.results <- j // not attempted: back to its queue (requeueHeld)
		return
	}
	if err := msg.Acquire(); err != nil {
		m.Log.Error("qmgr: cannot reopen for delivery", "queue_id", msg.ID, "err", err)
		for _, i := range j.rcpts {
			m.record(msg, i, resultFor(dsn.TempLocal.WithText("queue file unavailable"), "none"), &j.dest)
		}
		j.results = deliver.AllResults(len(j.rcpts), dsn.TempLocal, "none")
		m.results <- j
		return
	}
	defer msg.Release()
	req := &deliver.Request{
		QueueID: string(msg.ID), Sender: msg.Sender, Nexthop: j.dest.Nexthop, Content: msg,
		EnvID: msg.EnvID, Ret: msg.Ret, BodyType: msg.BodyType, SMTPUTF8: msg.SMTPUTF8, Arrival: msg.Arrival,
		Options: j.dest.Options, Egress: egressOf(j.egress), Tenant: msg.Tenant,
	}
	req.Tenant = msg.Tenant
	for _, i := range j.rcpts {
		r := msg.Recipients[i]
		req.Recipients = append(req.Recipients, deliver.Recipient{Addr: r.Addr, ORcpt: r.ORcpt, Notify: r.Notify, Original: r.Addr})
	}
	j.results = m.callAgent(req, j.dest.Transport)
	j.rule, j.reply = matchRule(j.rules, j.results)
	m.shaped.count(req, j.dest.Transport, j.results)
	durable := !(j.whole && allOK(j.results))
	for k := range j.rcpts {
		j.results[k].Generation = j.dest.Generation
	}
	m.recordAll(msg, j.rcpts, j.results, j.dest.Transport, durable)
	m.results <- j
}

// callAgent runs the agent with the delivery timeout, and turns a missing
// agent, a panic or a wrong result count into temporary failures.
func (m *Manager) callAgent(req *deliver.Request, transport string) (res []deliver.Result) {
	n := len(req.Recipients)
	agent := m.Agents[transport]
	if agent == nil {
		return deliver.AllResults(n, dsn.TempPolicy.WithText("mail transport unavailable"), "none")
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.settings().DeliveryTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			m.Log.Error("qmgr: delivery agent panic", "queue_id", req.QueueID, "transport", transport, "panic", p)
			res = deliver.AllResults(n, dsn.TempLocal.WithText("internal error in delivery agent"), "none")
		}
	}()
	res = agent.Deliver(ctx, req)
	if len(res) != n {
		m.Log.Error("qmgr: agent returned wrong result count", "queue_id", req.QueueID, "transport", transport, "got", len(res), "want", n)
		return deliver.AllResults(n, dsn.TempLocal.WithText("internal error in delivery agent"), "none")
	}
	for k := range res {
		if res[k].Status == nil {
			res[k].Status = dsn.TempLocal.WithText("internal error in delivery agent")
		}
	}
	return res
}

// feedback adjusts d's concurrency after a delivery, as Postfix's
// scheduler does: grow by one after a window's worth of successes, halve
// on a delivery that reached no server, and declare the destination dead
// for MinBackoff when that happens at concurrency 1.
// The window is the lane's: a site's destinations share it.
func (m *Manager) feedback(d *destination, j *job) {
	l := d.lane
	m.running--
	m.inFlight.Add(-1)
	down := unreachable(j.results)
	l.release(j, !down, m.Clock.Now(), m.Config)
	if j.rule != nil {
		m.applyRule(d, j)
	}
	if !down {
		d.failures = 0
		l.successes++
		if l.successes >= l.limit && l.limit < l.max(m.Config) {
			l.limit++
			l.successes = 0
		}
		return
	}
	d.failures++
	l.successes = 0
	d.lastErr = j.results[0].Status
	if l.limit > 1 {
		l.limit /= 2
		return
	}
	d.deadUntil = m.Clock.Now().Add(m.Config.MinBackoff)
	m.Log.Warn("qmgr: destination unreachable, deferring its mail", "destination", d.key,
		"until", d.deadUntil.Format(time.RFC3339), "reason", d.lastErr.Error())
}

// unreachable reports a delivery that reached no working server: every
// recipient deferred with an RFC 3463 X.4.x (network and routing) status,
// such as 4.4.1 no answer, 4.4.2 connection dropped, 4.4.3 DNS failure.
// A 4xx from a live server about a mailbox (4.2.x) is not that.
func unreachable(res []deliver.Result) bool {
	for _, r := range res {
		if !r.Status.Temporary() || r.Status.Enhanced[1] != 4 {
			return false
		}
	}
	return len(res) > 0
}

func allOK(res []deliver.Result) bool {
	for _, r := range res {
		if !r.Status.OK() {
			return false
		}
	}
	return true
}
