package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/mtasts"
	"github.com/moonpost/moonpost/core/tlsrpt"
)

// STSSource gives the MTA-STS policy (RFC 8461) in force for a domain;
// core/mtasts.Cache implements it. nil with a nil error: no policy. An
// error (an *mtasts.Error says why) is a policy announced but not to
// be had: mail goes out as without one, and TLS reporting hears of it.
// It must honour ctx and be safe for concurrent use.
type STSSource interface {
	Policy(ctx context.Context, domain string) (*mtasts.Policy, error)
}

// Statuses of MX deliveries that an enforced MTA-STS policy stopped.
// They are temporary: RFC 8461 §5.1 wants the policy fetched again
// before mail fails for good, and the next attempt does that.
var (
	stsMXRefused  = dsn.New(451, "4.7.5", "MX host not allowed by the MTA-STS policy")
	stsTLSFailed  = dsn.New(451, "4.7.5", "TLS with a verified certificate is required by the MTA-STS policy")
	stsNoSTARTTLS = dsn.New(451, "4.7.4", "TLS is required by the MTA-STS policy, but was not offered")
)

// stsState is one delivery's MTA-STS policy and TLS reporting; nil
// when neither applies (a bracketed next hop, LMTP, both switched off,
// or DANE in charge).
type stsState struct {
	domain   string
	policy   *mtasts.Policy // nil: none in force (mode none counts as none)
	fetchErr *mtasts.Error  // the announced policy could not be had
}

// stsFor looks up the policy of an MX delivery's domain. DANE, when the
// destination's TLS level asks for it, takes precedence (RFC 8461 §2).
func (a *Agent) stsFor(ctx context.Context, nh Nexthop, req *deliver.Request) *stsState {
	if nh.NoMX || a.cfg.LMTP || (a.cfg.MTASTS == nil && a.cfg.TLSReport == nil) ||
		(req.Egress != nil && req.Egress.TLS == "dane") || a.isTLSReport(req) {
		return nil
	}
	st := &stsState{domain: nh.Host}
	if a.cfg.MTASTS == nil {
		return st
	}
	p, err := a.cfg.MTASTS.Policy(ctx, nh.Host)
	var se *mtasts.Error
	switch {
	case errors.As(err, &se):
		st.fetchErr = se
	case err != nil:
		a.log.Info("mta-sts: policy lookup failed", "queue_id", req.QueueID, "domain", nh.Host, "err", err)
	case p != nil && p.Mode != mtasts.None:
		st.policy = p
	}
	return st
}

// isTLSReport tells a TLS report from other mail by its sender. RFC
// 8460 §5.3: reports must go out despite TLS failures (a broken policy
// is what they are about), and their own sessions are not reported. A
// stranger who sends with that sender only relaxes their own mail.
func (a *Agent) isTLSReport(req *deliver.Request) bool {
	return a.cfg.TLSReportSender != "" && strings.EqualFold(req.Sender, a.cfg.TLSReportSender)
}

func (s *stsState) enforce() bool {
	return s != nil && s.policy != nil && s.policy.Mode == mtasts.Enforce
}

// allows reports whether the policy lets mail go to MX host h.
func (s *stsState) allows(h string) bool {
	return s == nil || s.policy == nil || s.policy.Match(h)
}

// refuseMX records an MX host an enforced policy does not name.
func (a *Agent) refuseMX(w *walk, h string) {
	a.log.Info("mta-sts: MX host not in policy, skipped", "queue_id", w.req.QueueID, "domain", w.sts.domain, "host", h)
	w.fail(stsMXRefused.WithText("MX host "+h+" is not allowed by the MTA-STS policy of "+w.sts.domain), "none")
	a.reportSession(tlsrpt.Session{Policy: w.sts.reportPolicy(), Result: tlsrpt.ValidationFailure, MXHost: h,
		Detail: "MX host not allowed by the policy"})
}

// tlsLevel is the TLS policy for a target: verified TLS when an
// enforced MTA-STS policy applies (as KumoMTA's enable_mta_sts, it
// raises the level), else the agent's own.
func (a *Agent) tlsLevel(t target) TLSPolicy {
	if t.sts.enforce() {
		return TLSEncrypt
	}
	return a.cfg.TLS
}

// tlsFailStatus is the status of a session whose TLS did not meet the
// level.
func tlsFailStatus(t target, relay string, offered bool) *dsn.Status {
	switch {
	case t.sts.enforce() && !offered:
		return stsNoSTARTTLS.WithText("TLS is required by the MTA-STS policy, but was not offered by host " + relay)
	case t.sts.enforce():
		return stsTLSFailed.WithText("TLS with a verified certificate is required by the MTA-STS policy, but failed with host " + relay)
	case !offered:
		return tlsRequired.WithText("TLS is required, but was not offered by host " + relay)
	}
	return tlsRequired.WithText("TLS negotiation failed with host " + relay)
}

// stsVerify sets up the certificate check of a handshake under a
// policy: the chain against the roots and the MX name, as RFC 8461 §4.2
// asks. Where the level requires it the handshake fails; in testing
// mode the failure is kept on the session for the report and the mail
// goes on.
func (a *Agent) stsVerify(cfg *tls.Config, s *session, t target, level TLSPolicy) {
	if t.sts == nil || t.sts.policy == nil {
		return
	}
	required := level != TLSMay
	cfg.InsecureSkipVerify = true // the check below replaces Go's
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := verifyChain(cs, cfg.RootCAs, t.host)
		if err != nil && !required {
			s.verifyErr = err
			return nil
		}
		return err
	}
}

func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host})
	return err
}

// reportTLS tells TLS reporting how a session's TLS went: tlsErr is the
// failed STARTTLS or handshake, nil when it worked or was not offered.
func (a *Agent) reportTLS(t target, s *session, offered bool, tlsErr error) {
	if t.sts == nil || a.cfg.TLSReport == nil {
		return
	}
	ses := tlsrpt.Session{Policy: t.sts.reportPolicy(), MXHost: t.host,
		SendingIP: hostOf(s.raw.LocalAddr()), ReceivingIP: hostOf(s.raw.RemoteAddr())}
	switch {
	case t.sts.fetchErr != nil:
		ses.Result, ses.Detail = tlsrpt.ResultType(t.sts.fetchErr.Type), t.sts.fetchErr.Err.Error()
	case !offered:
		ses.Result, ses.Detail = tlsrpt.STARTTLSNotSupported, "STARTTLS not offered"
	case tlsErr != nil:
		ses.Result, ses.Detail = certResult(tlsErr), tlsErr.Error()
	case s.verifyErr != nil:
		ses.Result, ses.Detail = certResult(s.verifyErr), s.verifyErr.Error()
	case !t.sts.allows(t.host):
		ses.Result, ses.Detail = tlsrpt.ValidationFailure, "MX host not allowed by the policy"
	}
	a.reportSession(ses)
}

func (a *Agent) reportSession(ses tlsrpt.Session) {
	if a.cfg.TLSReport != nil {
		a.cfg.TLSReport.Record(ses)
	}
}

// reportPolicy names the policy for TLS-RPT.
func (s *stsState) reportPolicy() tlsrpt.Policy {
	if s.policy == nil && s.fetchErr == nil {
		return tlsrpt.Policy{Type: tlsrpt.NoPolicy, Domain: s.domain}
	}
	p := tlsrpt.Policy{Type: tlsrpt.STS, Domain: s.domain}
	if s.policy != nil {
		p.String, p.MXHost = s.policy.Lines, s.policy.MX
	}
	return p
}

// certResult maps a verification error onto an RFC 8460 result type.
func certResult(err error) tlsrpt.ResultType {
	var (
		hn x509.HostnameError
		ci x509.CertificateInvalidError
		ua x509.UnknownAuthorityError
	)
	switch {
	case errors.As(err, &hn):
		return tlsrpt.CertificateHostMismatch
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return tlsrpt.CertificateExpired
	case errors.As(err, &ua):
		return tlsrpt.CertificateNotTrusted
	}
	return tlsrpt.ValidationFailure
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
