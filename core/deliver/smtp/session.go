package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
)

// target is one place to connect to: an address of a mail exchanger,
// or an LMTP server's socket.
type target struct {
	host    string // MX or next-hop name, for TLS and the relay field
	network string // "tcp" or "unix"
	addr    string // as net.Dial takes it
	name    string // the relay field of results

	// sts is the domain's MTA-STS policy and TLS reporting; nil: none.
	sts *stsState
}

// mxTarget is one address of a mail exchanger, named Postfix style:
// "mx.example.com[192.0.2.1]:25".
func mxTarget(host string, ap netip.AddrPort) target {
	return target{host: host, network: "tcp", addr: ap.String(),
		name: host + "[" + ap.Addr().String() + "]:" + strconv.Itoa(int(ap.Port()))}
}

func (t target) relay() string { return t.name }

// session is one SMTP or LMTP connection past EHLO/LHLO (and
// STARTTLS), ready for mail transactions.
type session struct {
	wire
	raw   net.Conn          // the connection under any TLS, closed to abort
	ext   map[string]string // EHLO keywords, upper case, and their parameters
	addr  string            // the dialled address, so one attempt does not try it twice
	relay string
	tls   bool
	// used is set after the first transaction: the next one starts with
	// RSET, which also proves a cached connection still works.
	used      bool
	idleSince time.Time // when it went into the cache
	// verifyErr is a certificate that did not verify under an MTA-STS
	// policy in testing mode: the mail went on, the report says why.
	verifyErr error
}

func (s *session) has(ext string) bool {
	_, ok := s.ext[ext]
	return ok
}

// close ends the session politely but without waiting long.
func (s *session) close() {
	if s.send(time.Second, "QUIT") == nil {
		_, _, _ = s.reply(time.Second)
	}
	_ = s.raw.Close()
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

// open connects to t and runs the greeting, EHLO (LHLO) and, per
// policy, STARTTLS. tryTLS false skips STARTTLS for the plaintext retry.
func (a *Agent) open(ctx context.Context, t target, tryTLS bool) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, a.cfg.ConnectTimeout)
	raw, err := a.cfg.Dialer(dctx, t.network, t.addr)
	cancel()
	if err != nil {
		return nil, &hostError{connectStatus(t, err), fmt.Errorf("connect to %s: %w", t.relay(), err)}
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	s := &session{wire: newWire(raw), raw: raw, addr: t.addr, relay: t.relay()}
	if err := a.greet(s, t); err != nil {
		raw.Close()
		return nil, err
	}
	if err := a.maybeStartTLS(ctx, s, t, tryTLS); err != nil {
		raw.Close()
		return nil, err
	}
	return s, nil
}

// greet reads the greeting and says EHLO (LHLO for LMTP; HELO when an
// SMTP peer refuses EHLO with 5xx).
func (a *Agent) greet(s *session, t target) error {
	st, err := s.status(a.cfg.HeloTimeout)
	if err == nil && st.Code != 220 {
		err = st
	}
	if err != nil {
		return &hostError{replyStatus(t, "receiving the initial server greeting", err), fmt.Errorf("%s: greeting: %w", t.relay(), err)}
	}
	return a.hello(s, t)
}

// hello sends EHLO or LHLO and records the extensions offered.
func (a *Agent) hello(s *session, t target) error {
	verb := "EHLO "
	if a.cfg.LMTP {
		verb = "LHLO "
	}
	code, lines, err := a.ask(s, verb+a.cfg.Helo)
	if err == nil && code/100 == 5 && !a.cfg.LMTP {
		code, lines, err = a.ask(s, "HELO "+a.cfg.Helo)
		lines = lines[:min(len(lines), 1)] // HELO offers no extensions
	}
	if err == nil && code != 250 {
		err = replyToStatus(code, strings.Join(lines, " "))
	}
	if err != nil {
		return &hostError{replyStatus(t, "sending "+strings.TrimSpace(verb), err), fmt.Errorf("%s: hello: %w", t.relay(), err)}
	}
	s.ext = parseEHLO(lines)
	return nil
}

// ask sends one command and reads its reply within the HELO timeout.
func (a *Agent) ask(s *session, cmd string) (int, []string, error) {
	if err := s.send(a.cfg.HeloTimeout, cmd); err != nil {
		return 0, nil, err
	}
	return s.reply(a.cfg.HeloTimeout)
}

// maybeStartTLS applies the TLS policy to a greeted session.
func (a *Agent) maybeStartTLS(ctx context.Context, s *session, t target, tryTLS bool) error {
	offered := s.has("STARTTLS")
	level := a.tlsLevel(t)
	switch {
	case level == TLSNone || (level == TLSMay && !tryTLS):
		return nil
	case !offered:
		a.reportTLS(t, s, false, nil)
		if level == TLSMay {
			return nil
		}
		return &hostError{tlsFailStatus(t, s.relay, false), fmt.Errorf("%s: STARTTLS not offered", s.relay)}
	}
	err := a.startTLS(ctx, s, t)
	a.reportTLS(t, s, true, err)
	if err == nil {
		return nil
	}
	if level == TLSMay {
		a.log.Info("opportunistic TLS failed, will retry in plaintext", "relay", s.relay, "err", err)
		return errTLSFallback
	}
	return &hostError{tlsFailStatus(t, s.relay, true), err}
}

// tlsRequired is Postfix's deferral when the TLS policy cannot be met.
var tlsRequired = dsn.New(451, "4.7.4", "TLS is required, but was not offered")

// startTLS upgrades the connection and says EHLO again, as RFC 3207
// requires. Anything the peer sent after its 220 and before the
// handshake would be plaintext read as if it came over TLS (the
// STARTTLS injection attack), so it ends the session.
func (a *Agent) startTLS(ctx context.Context, s *session, t target) error {
	code, lines, err := a.ask(s, "STARTTLS")
	if err != nil {
		return err
	}
	if code != 220 {
		return fmt.Errorf("STARTTLS refused: %d %s", code, strings.Join(lines, " "))
	}
	if s.r.Buffered() > 0 {
		return fmt.Errorf("%w: data after the STARTTLS reply", errProtocol)
	}
	cfg := &tls.Config{}
	if a.cfg.TLSConfig != nil {
		cfg = a.cfg.TLSConfig.Clone()
	}
	cfg.ServerName = t.host
	cfg.InsecureSkipVerify = a.tlsLevel(t) == TLSMay
	a.stsVerify(cfg, s, t, a.tlsLevel(t))
	tc := tls.Client(s.raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, a.cfg.HeloTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	s.wire = newWire(tc)
	if err := a.hello(s, t); err != nil {
		return fmt.Errorf("EHLO after STARTTLS: %w", err)
	}
	s.tls = true
	return nil
}

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
	var st *dsn.Status
	if errors.As(err, &st) {
		return st.WithText("host " + t.relay() + " said: " + st.Text)
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
