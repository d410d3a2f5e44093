package smtpd

import (
	"time"
)

// Stress mode, after Postfix's (smtpd_timeout = ${stress?10}{300}): while
// at least stressPercent of MaxConnections are in use, every read and
// write waits at most StressIdleTimeout instead of IdleTimeout, and a
// session ends at most StressSessionTimeout after it began, so clients
// that hold a slot without using it give it back quickly. Connections
// already blocked in a read have their deadline shortened when stress
// begins.
//
// When every slot is taken, a new client is not refused while some
// connection is idle: the connection that has done the least (fewest
// MAIL, RCPT, DATA and AUTH commands, then the oldest) gets 421 4.7.0 and
// is closed, and the new client is served. Connections in a transaction,
// and those younger than 5 s (shedGrace), are never shed; with none to shed the
// new client gets 421 4.7.0 as before. A slowloris that trickles a byte
// every few seconds keeps its idle timer alive but does no useful work,
// so it is what goes first.
const (
	stressPercent = 80
	// shedGrace protects a client that has just connected: it has had no
	// time to do anything useful yet. Five seconds lets a client on a
	// slow link get through greeting, STARTTLS and AUTH to MAIL; longer
	// would let an attacker who reconnects that often keep every slot.
	shedGrace = 5 * time.Second
)

// stressDefaults fills in the stress and anvil knobs.
func (c *Config) stressDefaults() {
	setDefault(&c.StressIdleTimeout, 10*time.Second)
	setDefault(&c.StressSessionTimeout, 120*time.Second)
	setDefault(&c.RateTimeUnit, 60*time.Second)
	setDefault(&c.shedGrace, shedGrace)
	if c.LimitExceptions == nil {
		c.LimitExceptions = c.MyNetworks
	}
}

// stressThreshold is the number of connections at which stress begins.
func (s *Server) stressThreshold() int {
	return max(1, (s.config().MaxConnections*stressPercent+99)/100)
}

// stressed reports whether the server is in stress mode now.
func (s *Server) stressed() bool { return s.stressOn.Load() }

// idleTimeout is the bound on one read or write now.
func (s *Server) idleTimeout() time.Duration {
	if s.stressed() {
		return min(s.config().IdleTimeout, s.config().StressIdleTimeout)
	}
	return s.config().IdleTimeout
}

// noteLoad switches stress mode on or off after admit or release
// changed the number of connections. It goes off only a tenth of
// MaxConnections below where it went on, so a load that hovers at the
// threshold does not flip it (and log it) at every connection. Called
// with s.mu held.
func (s *Server) noteLoad() {
	n := len(s.conns) - s.shedding
	on := n >= s.stressThreshold()
	if s.stressOn.Load() {
		on = n >= max(1, s.stressThreshold()-s.config().MaxConnections/10)
	}
	if on == s.stressOn.Load() {
		return
	}
	s.stressOn.Store(on)
	if !on {
		s.log.Info("stress mode off", "connections", n, "max_connections", s.config().MaxConnections)
		return
	}
	s.log.Warn("stress mode on: shorter timeouts, idle clients shed at the limit",
		"connections", n, "max_connections", s.config().MaxConnections)
	now := time.Now()
	for c := range s.conns {
		c.tighten(now)
	}
}

// full reports whether no slot is free (shed connections on their way
// out do not count). Called with s.mu held.
func (s *Server) full() bool {
	return len(s.conns)-s.shedding >= s.config().MaxConnections
}

// shedOne makes room for a new client by shedding the connection that
// has done the least, and reports whether it found one. Connections
// shed but not yet closed may take up to MaxConnections more sockets
// for a moment; beyond that the new client is refused. Called with s.mu
// held.
func (s *Server) shedOne(now time.Time) bool {
	if s.shedding >= s.config().MaxConnections {
		return false
	}
	var victim *conn
	for c := range s.conns {
		if c.busy.Load() || c.shed.Load() || c.isKicked() || now.Sub(c.start) < s.config().shedGrace {
			continue
		}
		if victim == nil || c.lessUseful(victim) {
			victim = c
		}
	}
	if victim == nil {
		return false
	}
	victim.shed.Store(true)
	s.shedding++
	s.log.Warn("stress: shedding idle client "+victim.client()+" for a new connection",
		"listener", victim.listener.Name, "age", now.Sub(victim.start).Round(time.Millisecond))
	victim.kick()
	return true
}

// useful counts the commands that did something for the client.
func (c *conn) useful() int32 {
	return c.counts.mail.Load() + c.counts.rcpt.Load() + c.counts.data.Load() + c.counts.auth.Load()
}

// lessUseful orders shedding candidates: fewer useful commands first,
// then the older connection.
func (c *conn) lessUseful(o *conn) bool {
	if cu, ou := c.useful(), o.useful(); cu != ou {
		return cu < ou
	}
	return c.start.Before(o.start)
}

// sessionEnd is when the session must end now: under stress, at most
// StressSessionTimeout after it began. Called with c.mu held.
func (c *conn) sessionEnd() time.Time {
	end := c.deadline
	if c.srv.stressed() {
		if s := c.start.Add(c.cfg.StressSessionTimeout); s.Before(end) {
			end = s
		}
	}
	return end
}

// readDeadline is the deadline of a read that starts at now. Called with
// c.mu held.
func (c *conn) readDeadline(now time.Time) time.Time {
	if c.kicked {
		return time.Unix(1, 0)
	}
	d := now.Add(c.srv.idleTimeout())
	if end := c.sessionEnd(); end.Before(d) {
		d = end
	}
	return d
}

// tighten applies the stress timeouts to a read already in progress.
func (c *conn) tighten(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readStart.IsZero() {
		return
	}
	if d := c.readDeadline(c.readStart); d.Before(now) {
		_ = c.Conn.SetReadDeadline(now)
	} else {
		_ = c.Conn.SetReadDeadline(d)
	}
}
