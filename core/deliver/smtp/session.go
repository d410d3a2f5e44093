package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/dsn"
)

// target is one address of one mail exchanger.
type target struct {
	host string // MX or next-hop name, for TLS and the relay field
	addr netip.AddrPort
}

// relay names the peer Postfix style: "mx.example.com[192.0.2.1]:25".
func (t target) relay() string {
	return t.host + "[" + t.addr.Addr().String() + "]:" + strconv.Itoa(int(t.addr.Port()))
}

// session is one SMTP connection past EHLO (and STARTTLS), ready for
// mail transactions.
type session struct {
	c    *smtp.Client
	raw  net.Conn // the TCP connection under any TLS, closed to abort
	conn net.Conn // what c speaks on: raw, or the TLS connection over it
	// tp is the pipelined transactions' own reader and writer on conn,
	// made on first use; go-smtp's client has nothing buffered between
	// replies, so the two can take turns.
	tp    *textproto.Conn
	relay string
	tls   bool
	// used is set after the first transaction: the next one starts with
	// RSET, which also proves a cached connection still works.
	used      bool
	idleSince time.Time // when it went into the cache
}

// close ends the session politely but without waiting long.
func (s *session) close() {
	s.c.CommandTimeout = time.Second
	if s.c.Quit() != nil {
		_ = s.c.Close()
	}
}

// hostError is a failure to get a usable session with one address. The
// status is what the recipients get if no other address does better.
type hostError struct {
	st  *dsn.Status
	err error // detail for the log
}

func (e *hostError) Error() string { return e.err.Error() }

// errTLSFallback asks the caller to retry the same address in plaintext.
var errTLSFallback = errors.New("TLS handshake failed, retrying without TLS")

// open connects to t and runs the greeting, EHLO and, per policy,
// STARTTLS. tryTLS false skips STARTTLS for the plaintext retry.
func (a *Agent) open(ctx context.Context, t target, tryTLS bool) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, a.cfg.ConnectTimeout)
	raw, err := a.cfg.Dialer(dctx, "tcp", t.addr.String())
	cancel()
	if err != nil {
		return nil, &hostError{connectStatus(t, err), fmt.Errorf("connect to %s: %w", t.relay(), err)}
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	s := &session{c: smtp.NewClient(raw), raw: raw, conn: raw, relay: t.relay()}
	s.c.CommandTimeout = a.cfg.HeloTimeout
	if err := s.c.Hello(a.cfg.Helo); err != nil {
		raw.Close()
		return nil, &hostError{replyStatus(t, "greeting or EHLO", err), fmt.Errorf("%s: hello: %w", t.relay(), err)}
	}
	if err := a.maybeStartTLS(ctx, s, t, tryTLS); err != nil {
		raw.Close()
		return nil, err
	}
	s.c.CommandTimeout = a.cfg.CommandTimeout
	s.c.SubmissionTimeout = a.cfg.DataTimeout
	return s, nil
}

// maybeStartTLS applies the TLS policy to a greeted session.
func (a *Agent) maybeStartTLS(ctx context.Context, s *session, t target, tryTLS bool) error {
	offered, _ := s.c.Extension("STARTTLS")
	switch {
	case a.cfg.TLS == TLSNone || (a.cfg.TLS == TLSMay && (!offered || !tryTLS)):
		return nil
	case !offered:
		return &hostError{tlsRequired.WithText("TLS is required, but was not offered by host " + s.relay),
			fmt.Errorf("%s: STARTTLS not offered", s.relay)}
	}
	err := a.startTLS(ctx, s, t)
	if err == nil {
		return nil
	}
	if a.cfg.TLS == TLSMay {
		a.log.Info("opportunistic TLS failed, will retry in plaintext", "relay", s.relay, "err", err)
		return errTLSFallback
	}
	return &hostError{tlsRequired.WithText("TLS negotiation failed with host " + s.relay), err}
}

// tlsRequired is Postfix's deferral when the TLS policy cannot be met.
var tlsRequired = dsn.New(451, "4.7.4", "TLS is required, but was not offered")

// startTLS upgrades the connection. go-smtp has no STARTTLS call that
// keeps our EHLO name, so the command is sent on the raw connection (the
// peer is idle after EHLO, nothing is buffered), the handshake is done
// here with a deadline, and a new client is put on the TLS connection
// with a synthetic greeting, after which it sends EHLO again as
// RFC 3207 requires.
func (a *Agent) startTLS(ctx context.Context, s *session, t target) error {
	_ = s.raw.SetDeadline(time.Now().Add(a.cfg.HeloTimeout))
	defer s.raw.SetDeadline(time.Time{})
	if _, err := io.WriteString(s.raw, "STARTTLS\r\n"); err != nil {
		return err
	}
	tp := textproto.NewReader(bufio.NewReaderSize(s.raw, 512))
	if _, msg, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("STARTTLS refused: %v %s", err, msg)
	}
	cfg := &tls.Config{}
	if a.cfg.TLSConfig != nil {
		cfg = a.cfg.TLSConfig.Clone()
	}
	cfg.ServerName = t.host
	cfg.InsecureSkipVerify = a.cfg.TLS == TLSMay
	tc := tls.Client(s.raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, a.cfg.HeloTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	s.c = smtp.NewClient(&greetedConn{Conn: tc, r: io.MultiReader(strings.NewReader("220 TLS ready\r\n"), tc)})
	s.conn = tc
	s.c.CommandTimeout = a.cfg.HeloTimeout
	if err := s.c.Hello(a.cfg.Helo); err != nil {
		return fmt.Errorf("EHLO after STARTTLS: %w", err)
	}
	s.tls = true
	return nil
}

// greetedConn replays a greeting before the TLS stream, so go-smtp's
// client, which always waits for a 220 first, can start mid-session.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func (g *greetedConn) Read(p []byte) (int, error) { return g.r.Read(p) }

// connectStatus turns a dial error into the status recipients get when
// no address works.
func connectStatus(t target, err error) *dsn.Status {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return dsn.RemoteTimeout.WithText("connect to " + t.relay() + ": timed out")
	}
	return dsn.ConnectFailed.WithText("connect to " + t.relay() + ": connection failed")
}

// replyStatus turns an error during a command into a status: the
// server's reply when there was one, else a lost-connection deferral.
func replyStatus(t target, stage string, err error) *dsn.Status {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return dsn.FromSMTP(se.Code, se.EnhancedCode, "host "+t.relay()+" said: "+se.Message)
	}
	return ioStatus(t.relay(), stage, err)
}

// ioStatus describes a broken or silent connection; both are temporary.
func ioStatus(relay, stage string, err error) *dsn.Status {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return dsn.RemoteTimeout.WithText("conversation with " + relay + " timed out while " + stage)
	}
	return dsn.RemoteTimeout.WithText("lost connection with " + relay + " while " + stage)
}
