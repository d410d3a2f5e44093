package smtpd

import (
	"errors"
	"fmt"
	"net"

	"github.com/emersion/go-smtp"
)

// A reload changes the server's settings without a restart: Reconfigure
// stores the new Config, which every session admitted from then on takes
// (conn.cfg), and gives each listener a new go-smtp engine built from it
// (banner host name, SIZE, the recipient limit), which the next accepted
// connection goes to. Sessions in progress keep the settings and the
// engine they began with, so a reload never changes the rules in the
// middle of a transaction. Listeners are added and removed: a new one is
// bound and served, a removed one stops accepting (its sessions in
// progress finish); the others keep their sockets. The client rate
// window (RateTimeUnit) needs a restart.

// errSwap ends a go-smtp Serve loop whose engine was replaced.
var errSwap = errors.New("smtpd: engine replaced")

// serve runs the listener's current engine, and the next one after each
// Reconfigure, until the socket fails or closes.
func (l *smtpListener) serve() error {
	for {
		gs := l.gs.Load()
		err := gs.Serve(&engineListener{l: l, gs: gs})
		if !errors.Is(err, errSwap) {
			return err
		}
	}
}

// engineListener is the listener as one engine sees it: once the engine
// is replaced, the connection accepted next is kept for its successor
// and the old engine's Serve ends.
type engineListener struct {
	l  *smtpListener
	gs *smtp.Server
}

func (e *engineListener) Accept() (net.Conn, error) {
	if c := e.l.pending; c != nil {
		e.l.pending = nil
		return c, nil
	}
	if e.l.gs.Load() != e.gs {
		return nil, errSwap
	}
	c, err := e.l.ln.Accept()
	if err != nil {
		return nil, err
	}
	if e.l.gs.Load() != e.gs {
		e.l.pending = c
		return nil, errSwap
	}
	return c, nil
}

func (e *engineListener) Close() error   { return e.l.ln.Close() }
func (e *engineListener) Addr() net.Addr { return e.l.ln.Addr() }

// Reconfigure applies cfg to the sessions that start from now on. cfg is
// checked and completed as New does; listeners it adds are bound (a
// socket that cannot be bound is an error) and those it drops closed;
// its RateTimeUnit must be the running one. On error nothing changes.
func (s *Server) Reconfigure(cfg Config) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	old := s.config()
	if c.RateTimeUnit != old.RateTimeUnit {
		return fmt.Errorf("smtpd: the rate time unit changed; that needs a restart")
	}
	c.shedGrace = old.shedGrace
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil || s.draining {
		// Not listening yet (Listen binds what is configured then), or
		// stopping: only the settings change.
		s.live.Store(&c)
		return nil
	}
	// Each wanted listener is a running one (kept, socket and all) or a
	// new socket; bind every new one before anything changes.
	var next, added []*smtpListener
	kept := map[*smtpListener]bool{}
	for _, want := range c.Listeners {
		var found *smtpListener
		for _, l := range s.running {
			if !kept[l] && *l.cfg == want {
				found = l
				break
			}
		}
		if found == nil {
			l := want
			sl, err := s.bind(&l)
			if err != nil {
				for _, a := range added {
					a.ln.Close()
				}
				return err
			}
			added = append(added, sl)
			found = sl
		}
		kept[found] = true
		next = append(next, found)
	}
	s.live.Store(&c)
	for _, l := range s.running {
		if !kept[l] {
			l.removed.Store(true)
			_ = l.ln.Close()
			s.log.Info("listener removed", "listener", l.cfg.Name, "addr", l.ln.Addr().String())
		}
	}
	for _, l := range next {
		l.gs.Store(s.goSMTP(l.cfg))
	}
	s.running = next
	if s.exits != nil { // Serve is running: serve the new ones too
		for _, l := range added {
			s.start(l)
		}
	}
	return nil
}

// Settings returns a copy of the settings in effect, the base a caller
// changes and gives to Reconfigure.
func (s *Server) Settings() Config {
	c := *s.config()
	c.Listeners = append([]Listener(nil), c.Listeners...)
	return c
}
