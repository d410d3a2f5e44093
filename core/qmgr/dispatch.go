package qmgr

import (
	"context"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
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
}

// destination is the per-next-hop queue with its concurrency state.
type destination struct {
	key       string
	jobs      jobQueue
	active    int // deliveries in flight
	limit     int // current concurrency window
	successes int // successes since the window last grew
	// failures counts consecutive deliveries that reached no server.
	failures int
	// deadUntil: while in the future the destination is "dead": its jobs
	// are deferred at once with lastErr instead of being tried.
	deadUntil time.Time
	lastErr   *dsn.Status
	inRing    bool
}

func (m *Manager) enqueue(j *job) {
	key := j.dest.Key()
	d := m.dests[key]
	if d == nil {
		d = &destination{key: key, limit: m.Config.InitConcurrency}
		m.dests[key] = d
	}
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

// serve starts (or, for a dead destination, defers) the head job of d.
func (m *Manager) serve(d *destination) bool {
	if d.jobs.len() == 0 {
		return false
	}
	if m.Clock.Now().Before(d.deadUntil) {
		// Deferred without trying, but recorded (an fsync) in the same
		// bounded pool as deliveries, not on the manager goroutine.
		j := d.jobs.pop()
		j.skipped = true
		j.results = deliver.AllResults(len(j.rcpts), d.lastErr.WithText("delivery temporarily suspended: "+d.lastErr.Text), "none")
		m.running++
		m.inFlight.Add(1)
		m.wg.Add(1)
		go m.deliver(j)
		return true
	}
	if d.active >= d.limit {
		return false
	}
	j := d.jobs.pop()
	d.active++
	m.running++
	m.inFlight.Add(1)
	m.wg.Add(1)
	go m.deliver(j)
	return true
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
		Options: j.dest.Options,
	}
	for _, i := range j.rcpts {
		r := msg.Recipients[i]
		req.Recipients = append(req.Recipients, deliver.Recipient{Addr: r.Addr, ORcpt: r.ORcpt, Notify: r.Notify, Original: r.Addr})
	}
	j.results = m.callAgent(req, j.dest.Transport)
	m.shaped.count(req, j.dest.Transport, j.results)
	durable := !(j.whole && allOK(j.results))
	for k, i := range j.rcpts {
		j.results[k].Generation = j.dest.Generation
		m.recordAs(msg, i, j.results[k], j.dest.Transport, durable)
	}
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
	ctx, cancel := context.WithTimeout(m.ctx, m.Config.DeliveryTimeout)
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
func (m *Manager) feedback(d *destination, j *job) {
	d.active--
	m.running--
	m.inFlight.Add(-1)
	if !unreachable(j.results) {
		d.failures = 0
		d.successes++
		if d.successes >= d.limit && d.limit < m.Config.Concurrency {
			d.limit++
			d.successes = 0
		}
		return
	}
	d.failures++
	d.successes = 0
	d.lastErr = j.results[0].Status
	if d.limit > 1 {
		d.limit /= 2
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
