package smtpd

import (
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
)

// anvil counts, per client address and across sessions, the events the
// per-client rate limits are about, as Postfix's anvil(8) server does for
// its smtpd: connections (smtpd_client_connection_rate_limit) and failed
// AUTH attempts. Like anvil, a count lives in a fixed window that opens
// with the client's first event and restarts once it is older than the
// time unit; refused attempts count too, so a client that keeps
// hammering stays refused until it pauses for a whole unit.
//
// The table is bounded: past maxClients addresses, expired windows are
// dropped, and if that is not enough a new address goes uncounted (the
// limits fail open rather than grow memory without bound; the overall
// connection limit still holds).
type anvil struct {
	unit    time.Duration
	now     func() time.Time
	mu      sync.Mutex
	clients map[netip.Addr]*anvilEntry
	swept   time.Time // last sweep of expired windows
}

// maxClients bounds the anvil table (about 100 bytes an entry).
const maxClients = 100_000

type anvilEntry struct {
	conns, authFails window
}

// window is one fixed-window event count.
type window struct {
	start time.Time
	n     int
}

func (w *window) add(now time.Time, unit time.Duration) int {
	if now.Sub(w.start) >= unit {
		w.start, w.n = now, 0
	}
	w.n++
	return w.n
}

func (w *window) count(now time.Time, unit time.Duration) int {
	if now.Sub(w.start) >= unit {
		return 0
	}
	return w.n
}

func newAnvil(unit time.Duration, now func() time.Time) *anvil {
	return &anvil{unit: unit, now: now, clients: map[netip.Addr]*anvilEntry{}}
}

// entry finds or makes ip's entry; nil when the table is full.
func (a *anvil) entry(ip netip.Addr, now time.Time) *anvilEntry {
	e := a.clients[ip]
	if e != nil {
		return e
	}
	if now.Sub(a.swept) >= a.unit || len(a.clients) >= maxClients {
		a.sweep(now)
	}
	if len(a.clients) >= maxClients {
		return nil
	}
	e = &anvilEntry{}
	a.clients[ip] = e
	return e
}

// sweep drops the entries whose windows have all expired.
func (a *anvil) sweep(now time.Time) {
	a.swept = now
	for ip, e := range a.clients {
		if e.conns.count(now, a.unit) == 0 && e.authFails.count(now, a.unit) == 0 {
			delete(a.clients, ip)
		}
	}
}

// connect counts a connection from ip and returns the count in the
// current window, this one included.
func (a *anvil) connect(ip netip.Addr) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if e := a.entry(ip, now); e != nil {
		return e.conns.add(now, a.unit)
	}
	return 0
}

// authFailure counts a failed AUTH from ip.
func (a *anvil) authFailure(ip netip.Addr) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if e := a.entry(ip, now); e != nil {
		return e.authFails.add(now, a.unit)
	}
	return 0
}

// authFailures returns ip's failed AUTH count in the current window.
func (a *anvil) authFailures(ip netip.Addr) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.clients[ip]; e != nil {
		return e.authFails.count(a.now(), a.unit)
	}
	return 0
}

// AuthRateLimited is the answer to AUTH from a client over
// AuthFailureRateLimit; the connection is closed after it.
var AuthRateLimited = dsn.New(421, "4.7.0", "Error: too many failed authentications from your host, try again later")

// exempt reports whether the per-client limits spare ip.
func (s *Server) exempt(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.config().LimitExceptions {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// overConnectionRate counts the connection and reports whether it is
// over ConnectionRateLimit. The first connection over the limit in a
// window is logged as Postfix's anvil does; the rest only as rejects.
func (s *Server) overConnectionRate(c *conn) bool {
	if s.config().ConnectionRateLimit <= 0 || s.exempt(c.ip) || c.cfg.ClientRates != nil { // shared: clientrate.go
		return false
	}
	n := s.anvil.connect(c.ip)
	if n == s.config().ConnectionRateLimit+1 {
		s.log.Warn("warning: Connection rate limit exceeded: "+strconv.Itoa(n)+" from "+c.ip.String()+" for service "+c.listener.Name,
			"limit", s.config().ConnectionRateLimit, "per", s.config().RateTimeUnit)
	}
	return n > s.config().ConnectionRateLimit
}

// authRefusal is the hook at the start of AUTH: a client over
// AuthFailureRateLimit is refused without its password being checked,
// and the connection is closed after the reply.
func (s *Server) authRefusal(c *conn) *dsn.Status {
	if s.config().AuthFailureRateLimit <= 0 || s.exempt(c.ip) {
		return nil
	}
	if c.cfg.ClientRates != nil {
		return s.sharedAuthRefusal(c, s.config().AuthFailureRateLimit)
	}
	if s.anvil.authFailures(c.ip) < s.config().AuthFailureRateLimit {
		return nil
	}
	s.log.Warn("warning: AUTH failure rate limit exceeded from "+c.client()+" for service "+c.listener.Name,
		"limit", s.config().AuthFailureRateLimit, "per", s.config().RateTimeUnit)
	c.expire()
	return AuthRateLimited
}

// noteAuthFailure is the hook in the AUTH failure path: it counts the
// failure against the client across sessions.
func (s *Server) noteAuthFailure(c *conn) {
	switch limit := s.config().AuthFailureRateLimit; {
	case limit <= 0 || s.exempt(c.ip):
	case c.cfg.ClientRates != nil:
		s.noteSharedAuthFailure(c, limit)
	default:
		s.anvil.authFailure(c.ip)
	}
}
