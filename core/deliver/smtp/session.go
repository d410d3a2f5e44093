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
	helo  string // the name said in EHLO: the source's
	tls   bool
	// tlsInfo is the session's TLS outcome for the results:
	// "TLSv1.3 TLS_AES_128_GCM_SHA256 verified=yes policy=dane" or
	// "none policy=may".
	tlsInfo string
	// used is set after the first transaction: the next one starts with
	// RSET, which also proves a cached connection still works.
	used      bool
	uses      int           // transactions run on it
	maxUses   int           // close after this many (0: no bound)
	maxIdle   time.Duration // how long it may stay cached (0: the cache's)
	idleSince time.Time     // when it went into the cache
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
	err error  // detail for the log
	tls string // the TLS outcome, when TLS was the failure
}

func (e *hostError) Error() string { return e.err.Error() }

// errTLSFallback asks the caller to retry the same address in plaintext.
var errTLSFallback = errors.New("TLS handshake failed, retrying without TLS")

// open connects to t from src (nil: any address) and runs the
// greeting, EHLO (LHLO) and, per h, STARTTLS. tryTLS false skips
// STARTTLS for the plaintext retry.
func (a *Agent) open(ctx context.Context, t target, h hostTLS, src *Source, tryTLS bool) (*session, error) {
	dctx, cancel := context.WithTimeout(withLocalAddr(ctx, src), a.cfg.ConnectTimeout)
	raw, err := a.cfg.Dialer(dctx, t.network, t.addr)
	cancel()
	if err != nil {
		return nil, &hostError{connectStatus(t, err), fmt.Errorf("connect to %s: %w", t.relay(), err), ""}
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	s := &session{wire: newWire(raw), raw: raw, addr: t.addr, relay: t.relay(), helo: a.cfg.Helo}
	if src != nil {
		s.helo = src.Helo
	}
	if err := a.greet(s, t); err != nil {
		raw.Close()
		return nil, err
	}
	if err := a.maybeStartTLS(ctx, s, t, h, tryTLS); err != nil {
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
		return &hostError{replyStatus(t, "receiving the initial server greeting", err), fmt.Errorf("%s: greeting: %w", t.relay(), err), ""}
	}
	return a.hello(s, t)
}

// hello sends EHLO or LHLO and records the extensions offered.
func (a *Agent) hello(s *session, t target) error {
	verb := "EHLO "
	if a.cfg.LMTP {
		verb = "LHLO "
	}
	code, lines, err := a.ask(s, verb+s.helo)
	if err == nil && code/100 == 5 && !a.cfg.LMTP {
		code, lines, err = a.ask(s, "HELO "+s.helo)
		lines = lines[:min(len(lines), 1)] // HELO offers no extensions
	}
	if err == nil && code != 250 {
		err = replyToStatus(code, strings.Join(lines, " "))
	}
	if err != nil {
		return &hostError{replyStatus(t, "sending "+strings.TrimSpace(verb), err), fmt.Errorf("%s: hello: %w", t.relay(), err), ""}
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

// maybeStartTLS applies the host's TLS policy to a greeted session.
// Only may sends in plaintext; every stronger level defers instead.
func (a *Agent) maybeStartTLS(ctx context.Context, s *session, t target, h hostTLS, tryTLS bool) error {
	offered := s.has("STARTTLS")
	s.tlsInfo = "none policy=" + h.name
	switch {
	case h.level == TLSNone:
		return nil
	case h.level == TLSMay && !tryTLS:
		return nil
	case !offered:
		a.reportSession(h, s, "starttls-not-supported", "STARTTLS not offered")
		if h.level == TLSMay {
			return nil
		}
		return &hostError{tlsRequired.WithText("TLS is required, but was not offered by host " + s.relay),
			fmt.Errorf("%s: STARTTLS not offered", s.relay), s.tlsInfo}
	}
	check, err := a.startTLS(ctx, s, t, h)
	if err == nil {
		s.tlsInfo = tlsOutcome(s.wire.conn.(*tls.Conn).ConnectionState(), check.verified, h.name)
		a.reportCheck(h, s, check)
		return nil
	}
	var ce *certError
	isCert := errors.As(err, &ce)
	if isCert {
		a.reportSession(h, s, ce.kind, ce.err.Error())
	} else {
		a.reportSession(h, s, "validation-failure", err.Error())
	}
	if h.level == TLSMay {
		a.log.Info("opportunistic TLS failed, will retry in plaintext", "relay", s.relay, "err", err)
		return errTLSFallback
	}
	info := "failed policy=" + h.name
	if isCert {
		return &hostError{certFailed.WithText("Server certificate not verified by host " + s.relay + " (" + ce.kind + ")"), err, info}
	}
	return &hostError{tlsRequired.WithText("TLS negotiation failed with host " + s.relay), err, info}
}

// tlsOutcome is the TLS field of the results of a session.
func tlsOutcome(cs tls.ConnectionState, verified bool, policy string) string {
	v := "no"
	if verified {
		v = "yes"
	}
	return fmt.Sprintf("%s %s verified=%s policy=%s",
		strings.Replace(tls.VersionName(cs.Version), "TLS 1.", "TLSv1.", 1), tls.CipherSuiteName(cs.CipherSuite), v, policy)
}

// reportCheck reports a completed handshake: a success, or the failure
// an MTA-STS policy in testing mode let through.
func (a *Agent) reportCheck(h hostTLS, s *session, c tlsCheck) {
	var ce *certError
	if errors.As(c.err, &ce) {
		a.reportSession(h, s, ce.kind, ce.err.Error())
		return
	}
	a.reportSession(h, s, "", "")
}

// reportSession reports the TLS outcome of s, with both ends'
// addresses.
func (a *Agent) reportSession(h hostTLS, s *session, kind, detail string) {
	if a.cfg.Report == nil || h.quiet {
		return
	}
	if kind == "" && h.stsMiss {
		// testing mode let the session go to an MX host the policy
		// does not list: that is its failure.
		kind, detail = "validation-failure", "MX host not allowed by the policy"
	}
	r := TLSResult{PolicyDomain: h.domain, PolicyType: h.rptTyp, PolicyStrings: h.rptStr, PolicyMXHosts: h.rptMX,
		MXHost: h.host, ResultType: kind, Detail: detail}
	if ta, ok := s.raw.LocalAddr().(*net.TCPAddr); ok {
		r.SendingIP = ta.AddrPort().Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(s.addr); err == nil {
		r.ReceivingIP = ap.Addr()
	}
	a.report(h, r)
}

// tlsRequired is Postfix's deferral when the TLS policy cannot be met.
var tlsRequired = dsn.New(451, "4.7.4", "TLS is required, but was not offered")

// startTLS upgrades the connection and says EHLO again, as RFC 3207
// requires. Anything the peer sent after its 220 and before the
// handshake would be plaintext read as if it came over TLS (the
// STARTTLS injection attack), so it ends the session.
func (a *Agent) startTLS(ctx context.Context, s *session, t target, h hostTLS) (tlsCheck, error) {
	var check tlsCheck
	code, lines, err := a.ask(s, "STARTTLS")
	if err != nil {
		return check, err
	}
	if code != 220 {
		return check, fmt.Errorf("STARTTLS refused: %d %s", code, strings.Join(lines, " "))
	}
	if s.r.Buffered() > 0 {
		return check, fmt.Errorf("%w: data after the STARTTLS reply", errProtocol)
	}
	tc := tls.Client(s.raw, a.tlsClientConfig(h, &check))
	hctx, cancel := context.WithTimeout(ctx, a.cfg.HeloTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		var ce *certError
		if errors.As(check.err, &ce) {
			return check, ce
		}
		return check, fmt.Errorf("TLS handshake: %w", err)
	}
	s.wire = newWire(tc)
	if err := a.hello(s, t); err != nil {
		return check, fmt.Errorf("EHLO after STARTTLS: %w", err)
	}
	s.tls = true
	return check, nil
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
