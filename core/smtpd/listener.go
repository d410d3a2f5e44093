package smtpd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
)

// limitListener enforces the connection limits before go-smtp sees a
// connection: over a limit, the client gets a 421 instead of the banner
// and is closed, and Accept moves on to the next connection.
type limitListener struct {
	net.Listener
	srv *Server
	cfg *Listener
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, refusal := l.srv.admit(raw, l.cfg)
		if refusal == nil {
			if l.srv.log.Enabled(context.Background(), slog.LevelInfo) {
				l.srv.log.Info("connect from "+c.client(), "listener", l.cfg.Name)
			}
			if l.cfg.ImplicitTLS {
				c.tl.conn = tls.Server(raw, c.cfg.TLSConfig) // handshake at the banner
			}
			return c, nil
		}
		l.refuse(raw, refusal)
	}
}

// refuse answers 421 and closes. The write has a short deadline so a
// client that does not read cannot stall the accept loop; on an implicit
// TLS port a plaintext reply would be noise, so it only closes.
func (l *limitListener) refuse(raw net.Conn, st *dsn.Status) {
	l.srv.countReject("CONNECT", st)
	l.srv.log.Warn("NOQUEUE: reject: CONNECT from "+addrOf(raw).String()+": "+st.Error(), "listener", l.cfg.Name)
	if !l.cfg.ImplicitTLS {
		_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = raw.Write([]byte(st.Error() + "\r\n"))
	}
	_ = raw.Close()
}

// admit counts the connection in, or says why not. The per-client
// limits come first (a client over them never sheds anyone), then the
// overall limit, where stress mode may shed an idle connection instead
// of refusing (stress.go).
func (s *Server) admit(raw net.Conn, l *Listener) (*conn, *dsn.Status) {
	ip := addrOf(raw)
	now := time.Now()
	cfg := s.config() // the session keeps the settings it started with (Reconfigure)
	c := &conn{Conn: raw, srv: s, cfg: cfg, listener: l, ip: ip, name: "unknown", start: now, in: input{limit: cfg.MaxLineLength},
		deadline: now.Add(cfg.SessionTimeout)}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.draining:
		return nil, dsn.ShuttingDown
	case s.perIP[ip] >= cfg.MaxConnectionsPerIP && !s.exempt(ip):
		s.overConnectionRate(c) // an attempt all the same
		return nil, dsn.TooManyFromHost
	case s.overConnectionRate(c):
		return nil, dsn.TooManyFromHost
	case s.full() && !s.shedOne(now):
		return nil, dsn.TooManyConns
	}
	c.id = fmt.Sprintf("%x-%d", now.UnixMicro(), sessionSeq.Add(1))
	s.conns[c] = struct{}{}
	s.counts.admit(l.Name)
	s.perIP[ip]++
	s.active.Add(1)
	s.noteLoad()
	return c, nil
}

var sessionSeq atomic.Uint64

// release undoes admit; conn.Close calls it once.
func (s *Server) release(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	if c.shed.Load() {
		s.shedding--
	}
	s.noteLoad()
	s.mu.Unlock()
	s.active.Done()
}

// addrOf returns the remote IP of a TCP connection (unmapped, so an
// IPv4 client over a dual-stack socket matches IPv4 prefixes).
func addrOf(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
