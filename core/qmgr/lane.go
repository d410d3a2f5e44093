package qmgr

import (
	"time"

	"github.com/moonpost/moonpost/core/egress"
)

// Shaping. Each destination queue belongs to a lane: the limit set of
// its site (egress policy "site"), or its own when it has none. A lane
// holds the concurrency window (Postfix's slow start and halving, from
// initial_concurrency up to connection_limit), the deliveries in flight
// over all its destinations, and the pacing of message and connection
// starts. A destination whose lane has no room or whose rate does not
// allow a start now is passed over by dispatch, which moves on to the
// next destination; the manager's loop sleeps on one timer until the
// earliest moment a paced lane may start again (wakeAt), never polling.
//
// Connections belong to the agents, which cache them; the lane keeps a
// model of them to count max_connection_rate: a delivery that ends
// after reaching a server leaves an idle slot (a cached connection),
// fresh for idle_timeout and good for max_deliveries_per_connection
// deliveries; a delivery that starts without such a slot counts as a
// new connection.

// defaultConnIdle is how long a connection is modelled as reusable when
// the policy names no idle_timeout: the smtp agent's cache default.
const defaultConnIdle = 5 * time.Second

// lane is one limit set.
type lane struct {
	name   string
	pol    egress.Policy // zero: the defaults
	src    *egress.Policy
	active int // deliveries in flight
	limit  int // current concurrency window
	// successes counts successes since the window last grew.
	successes int
	msgs      egress.Pacer
	conns     egress.Pacer
	idle      []connSlot
	// cut is a response rule's lower message rate, until cutUntil.
	cut      egress.Rate
	cutUntil time.Time
	// heldUntil: the shared rate (RateGate) held a delivery back; no
	// start before then (sharedrate.go).
	heldUntil time.Time
	started   int // deliveries started, for the view
	// lastStart and lastDone: when a delivery last started and ended,
	// to tell a stalled lane (flow.go).
	lastStart, lastDone time.Time
	flowMark            int // the stalledBacklog pass that last counted its deliveries
}

// connSlot is a modelled idle connection.
type connSlot struct {
	freed time.Time
	uses  int
}

// laneFor returns the lane of a job's policy, made or updated.
func (m *Manager) laneFor(key string, p *egress.Policy) *lane {
	name := key
	if p != nil && p.Site != "" {
		name = "site:" + p.Site
	}
	l := m.lanes[name]
	if l == nil {
		l = &lane{name: name}
		m.lanes[name] = l
		l.setPolicy(p)
		l.limit = l.initial(m.Config)
		return l
	}
	if p != l.src { // a new generation's answer
		l.setPolicy(p)
		l.limit = max(1, min(l.limit, l.max(m.Config)))
	}
	return l
}

func (l *lane) setPolicy(p *egress.Policy) {
	l.src = p
	l.pol = egress.Policy{}
	if p != nil {
		l.pol = *p
	}
}

// max is the top of the window: connection_limit, else the global
// destination concurrency.
func (l *lane) max(c Config) int {
	if l.pol.ConnectionLimit > 0 {
		return l.pol.ConnectionLimit
	}
	return max(1, c.Concurrency)
}

func (l *lane) initial(c Config) int {
	n := c.InitConcurrency
	if l.pol.InitialConcurrency > 0 {
		n = l.pol.InitialConcurrency
	}
	return max(1, min(n, l.max(c)))
}

// msgRate is the message rate in force: the policy's, or a response
// rule's cut while it lasts, whichever is slower.
func (l *lane) msgRate(now time.Time) egress.Rate {
	r := l.pol.MaxMessageRate
	if now.Before(l.cutUntil) && (r.N == 0 || slower(l.cut, r)) {
		return l.cut
	}
	return r
}

func slower(a, b egress.Rate) bool {
	return float64(a.N)/float64(a.Per) < float64(b.N)/float64(b.Per)
}

// wait reports how long until the lane may start a delivery (0: now),
// and whether the window allows one at all (if not, a completion will
// make room; no timer is needed).
func (l *lane) wait(now time.Time) (time.Duration, bool) {
	if l.active >= l.limit {
		return 0, false
	}
	w := l.msgs.Wait(l.msgRate(now), now)
	if now.Before(l.heldUntil) {
		w = max(w, l.heldUntil.Sub(now))
	}
	if !l.hasSlot(now) {
		w = max(w, l.conns.Wait(l.pol.MaxConnectionRate, now))
	}
	return w, true
}

// start counts a delivery of j starting now.
func (l *lane) start(j *job, now time.Time) {
	l.active++
	l.started++
	l.lastStart = now
	l.msgs.Take(l.msgRate(now), now)
	if s, ok := l.takeSlot(now); ok {
		j.connUses = s.uses
		return
	}
	j.connUses = 0
	l.conns.Take(l.pol.MaxConnectionRate, now)
}

func (l *lane) idleFor() time.Duration {
	if l.pol.IdleTimeout > 0 {
		return l.pol.IdleTimeout
	}
	return defaultConnIdle
}

// hasSlot drops stale slots and reports a reusable one.
func (l *lane) hasSlot(now time.Time) bool {
	kept := l.idle[:0]
	for _, s := range l.idle {
		if now.Sub(s.freed) < l.idleFor() {
			kept = append(kept, s)
		}
	}
	l.idle = kept
	return len(l.idle) > 0
}

func (l *lane) takeSlot(now time.Time) (connSlot, bool) {
	if !l.hasSlot(now) {
		return connSlot{}, false
	}
	s := l.idle[len(l.idle)-1]
	l.idle = l.idle[:len(l.idle)-1]
	return s, true
}

// release returns j's connection to the idle slots when it reached a
// server and may carry more deliveries.
func (l *lane) release(j *job, reached bool, now time.Time, c Config) {
	l.active--
	l.lastDone = now
	uses := j.connUses + 1
	if !reached || (l.pol.MaxDeliveriesPerConnection > 0 && uses >= l.pol.MaxDeliveriesPerConnection) {
		return
	}
	if len(l.idle) < l.max(c) {
		l.idle = append(l.idle, connSlot{freed: now, uses: uses})
	}
}

// site is the destination's site name ("" when it has none).
func (d *destination) site() string {
	if d.lane == nil {
		return ""
	}
	return d.lane.pol.Site
}

// wakeAfter asks for a dispatch at t at the latest.
func (m *Manager) wakeAfter(t time.Time) {
	if m.wakeAt.IsZero() || t.Before(m.wakeAt) {
		m.wakeAt = t
	}
}

// armPace sets the timer for the earliest wake the last dispatch asked
// for; each dispatch asks afresh. A timer left from an earlier pass may
// still fire: that costs one dispatch pass, nothing more.
func (m *Manager) armPace() {
	if m.wakeAt.IsZero() {
		return
	}
	m.pace.Reset(max(0, m.wakeAt.Sub(m.Clock.Now())))
	m.wakeAt = time.Time{}
}
