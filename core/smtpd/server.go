package smtpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// Server is the SMTP server: one go-smtp server per configured listener,
// sharing connection limits, the drain state and the configuration.
type Server struct {
	live atomic.Pointer[Config] // the settings new sessions take (Reconfigure)
	log  *slog.Logger

	mu       sync.Mutex
	conns    map[*conn]struct{}
	perIP    map[netip.Addr]int
	draining bool
	running  []*smtpListener
	served   sync.WaitGroup // one per Serve goroutine of a listener
	// serving counts the listeners' Serve goroutines that have not yet
	// reported on exits; Reconfigure starts more (a listener added).
	serving int
	exits   chan error
	active  sync.WaitGroup // one per accepted connection until released

	diverted atomic.Int64 // DATA contents read by the session itself (content)

	counts counters // connections and rejections, for Stats (stats.go)

	// Defences under stress (stress.go, anvil.go).
	anvil    *anvil      // per-client rates across sessions
	shedding int         // connections shed but not yet closed; guarded by mu
	stressOn atomic.Bool // stress mode; changed with mu held
}

// smtpListener pairs a configured listener with its socket and go-smtp server.
type smtpListener struct {
	cfg *Listener
	ln  net.Listener // the limiting wrapper
	// gs is the protocol engine new connections go to; Reconfigure
	// replaces it (reconfigure.go), sessions keep the one they began on.
	gs atomic.Pointer[smtp.Server]
	// pending is a connection accepted for the engine that gs replaced,
	// handed to the new one; only the listener's Serve goroutine uses it.
	pending net.Conn
	// removed is set when a reload took the listener away: its Serve
	// ends on the closed socket, and that is no failure.
	removed atomic.Bool
}

// New checks cfg and fills in defaults. It does not listen yet.
func New(cfg Config) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:   c.Logger,
		conns: map[*conn]struct{}{},
		perIP: map[netip.Addr]int{},
		anvil: newAnvil(c.RateTimeUnit, c.Now),
	}
	s.live.Store(&c)
	return s, nil
}

// config returns the settings in effect; a session keeps the ones it
// was admitted with (conn.cfg).
func (s *Server) config() *Config { return s.live.Load() }

// Listen binds every configured listener. Serve calls it if needed;
// calling it first lets a caller learn the bound addresses (port 0).
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		return nil
	}
	var out []*smtpListener
	for i := range s.config().Listeners {
		sl, err := s.bind(&s.config().Listeners[i])
		if err != nil {
			for _, o := range out {
				o.ln.Close()
			}
			return err
		}
		out = append(out, sl)
	}
	s.running = out
	return nil
}

// bind opens the socket of one listener.
func (s *Server) bind(l *Listener) (*smtpListener, error) {
	// No TCP keepalive: sessions have their own timeouts, and each
	// accepted connection would cost four more system calls.
	raw, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", l.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtpd: listen %s (%s): %w", l.Name, l.Addr, err)
	}
	sl := &smtpListener{cfg: l, ln: &limitListener{Listener: raw, srv: s, cfg: l}}
	sl.gs.Store(s.goSMTP(l))
	return sl, nil
}

// start runs l's Serve goroutine, which reports on s.exits; s.mu held.
func (s *Server) start(l *smtpListener) {
	s.served.Add(1)
	s.serving++
	go func() {
		defer s.served.Done()
		s.log.Info("listening", "listener", l.cfg.Name, "addr", l.ln.Addr().String())
		err := l.serve()
		if l.removed.Load() {
			err = nil
		}
		s.exits <- err
	}()
}

// Addrs returns the bound addresses in listener order (after Listen).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a []net.Addr
	for _, l := range s.running {
		a = append(a, l.ln.Addr())
	}
	return a
}

// goSMTP builds the protocol engine for one listener.
func (s *Server) goSMTP(l *Listener) *smtp.Server {
	gs := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return s.newSession(c, l)
	}))
	gs.Domain = s.config().Hostname
	gs.MaxMessageBytes = s.config().MaxMessageBytes
	gs.MaxRecipients = s.config().MaxRecipients
	// Our conn's input limits command lines; go-smtp's own limit
	// would also cut message lines.
	gs.MaxLineLength = 0
	// TLS is our conn's (tls.go), so go-smtp sees every connection as
	// plaintext: it has no TLSConfig, and the session, not go-smtp,
	// refuses AUTH without TLS.
	gs.AllowInsecureAuth = true
	gs.EnableSMTPUTF8 = true
	gs.EnableDSN = true
	// ReadTimeout stays 0: conn.Read sets the deadlines. WriteTimeout too:
	// conn.Write does.
	gs.ErrorLog = slogPrinter{s.log.With("listener", l.Name)}
	return gs
}

// Serve accepts connections on every listener until ctx is cancelled or
// Shutdown is called. On ctx cancellation it shuts down gracefully,
// bounded by Config.ShutdownTimeout. It returns nil after a shutdown.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	s.exits = make(chan error, len(s.running)+1)
	for _, l := range s.running {
		s.start(l)
	}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.config().ShutdownTimeout)
		defer cancel()
		_ = s.Shutdown(sctx)
	})
	defer stop()
	var first error
	for {
		s.mu.Lock()
		left := s.serving
		s.mu.Unlock()
		if left == 0 {
			return first
		}
		// After Shutdown our own listener close may beat go-smtp's done
		// flag, and Accept's error is then ours, not a failure.
		err := <-s.exits
		s.mu.Lock()
		s.serving--
		s.mu.Unlock()
		if err != nil && first == nil && !s.isDraining() {
			first = err
			s.closeAll() // one listener failed: do not half-serve
		}
	}
}

// Shutdown stops accepting, lets sessions finish the transaction they are
// in, then tells idle clients 421 4.3.2 and closes. When ctx expires first
// the remaining connections are closed abruptly; a transaction cut short
// that way was never acknowledged, so the client retries.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	listeners := s.running
	for c := range s.conns {
		if !c.busy.Load() {
			c.kick()
		}
	}
	s.mu.Unlock()
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		// Close our socket too: go-smtp only closes listeners its Serve
		// has registered, and Serve may not have started yet.
		_ = l.ln.Close()
		go func() { errc <- l.gs.Load().Shutdown(ctx) }()
	}
	var err error
	for range listeners {
		e := <-errc
		if e != nil && !errors.Is(e, smtp.ErrServerClosed) && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
	}
	if err != nil {
		s.closeAll()
	}
	s.served.Wait()
	s.active.Wait()
	return err
}

// closeAll closes every listener and connection now. go-smtp's Close
// cannot do it once Shutdown has begun, so we close the sockets ourselves;
// each session then ends on its read error.
func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining = true
	for _, l := range s.running {
		_ = l.ln.Close()
	}
	for c := range s.conns {
		_ = c.Conn.Close()
	}
}

// isDraining reports whether Shutdown has begun.
func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// slogPrinter lets go-smtp's internal error log (handler panics with
// their stacks, I/O errors) reach our logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.l.Error(fmt.Sprintf(format, v...)) }
func (p slogPrinter) Println(v ...any)               { p.l.Error(fmt.Sprintln(v...)) }
