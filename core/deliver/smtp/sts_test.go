package smtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/internal/testca"
	"github.com/moonpost/moonpost/core/mtasts"
	"github.com/moonpost/moonpost/core/tlsrpt"
)

// staticSTS serves one domain's policy (or failure) as the cache would.
type staticSTS struct {
	domain string
	policy *mtasts.Policy
	err    error
}

func (s staticSTS) Policy(_ context.Context, domain string) (*mtasts.Policy, error) {
	if domain != s.domain {
		return nil, nil
	}
	return s.policy, s.err
}

// sessions collects what the agent reports.
type sessions struct {
	mu  sync.Mutex
	got []tlsrpt.Session
}

func (s *sessions) Record(ses tlsrpt.Session) {
	s.mu.Lock()
	s.got = append(s.got, ses)
	s.mu.Unlock()
}

func (s *sessions) all() []tlsrpt.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tlsrpt.Session(nil), s.got...)
}

func policyOf(t *testing.T, mode string) *mtasts.Policy {
	t.Helper()
	p, err := mtasts.ParsePolicy([]byte("version: STSv1\nmode: " + mode + "\nmx: *.mx.example.test\nmax_age: 86400\n"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stsEnv is two MX hosts of example.test on one port: evil.example.test
// (preference 5, not in the policy, 127.0.0.3) and a.mx.example.test
// (preference 10, in it, 127.0.0.2), each offering STARTTLS with cert.
type stsEnv struct {
	*env
	good, evil *backend
	ca         *testca.CA
	rpt        *sessions
}

func newSTSEnv(t *testing.T, src STSSource, certs func(ca *testca.CA) (good, evil *tls.Certificate), tune func(*Config)) *stsEnv {
	t.Helper()
	ca := testca.New(t)
	good, evil := certs(ca)
	e := &stsEnv{good: &backend{}, evil: &backend{}, ca: ca, rpt: &sessions{}}
	lns, port := listenSamePort(t, "127.0.0.2", "127.0.0.3")
	serveGoSMTP(t, lns[0], e.good, withCert(good))
	serveGoSMTP(t, lns[1], e.evil, withCert(evil))
	e.env = newEnv(t, port, func(c *Config) {
		c.MTASTS, c.TLSReport = src, e.rpt
		c.TLSConfig = &tls.Config{RootCAs: ca.Pool()}
		if tune != nil {
			tune(c)
		}
	}, "example.test. 60 IN MX 10 a.mx.example.test.", "example.test. 60 IN MX 5 evil.example.test.",
		"a.mx.example.test. 60 IN A 127.0.0.2", "evil.example.test. 60 IN A 127.0.0.3")
	return e
}

func withCert(c *tls.Certificate) func(*gosmtp.Server) {
	return func(s *gosmtp.Server) {
		if c != nil {
			s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*c}}
		}
	}
}

// validCerts: each host has a certificate for its own name.
func validCerts(ca *testca.CA) (*tls.Certificate, *tls.Certificate) {
	g, e := ca.Issue(&testing.T{}, "a.mx.example.test"), ca.Issue(&testing.T{}, "evil.example.test")
	return &g, &e
}

func (e *stsEnv) deliver(t *testing.T) []deliver.Result {
	t.Helper()
	return e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
}

func (e *stsEnv) delivered(t *testing.T, good, evil int) {
	t.Helper()
	_, g := e.good.snapshot()
	_, v := e.evil.snapshot()
	if len(g) != good || len(v) != evil {
		t.Fatalf("a.mx got %d messages, evil %d; want %d and %d", len(g), len(v), good, evil)
	}
	for _, m := range g {
		if !m.tls {
			t.Errorf("message to a.mx sent without TLS")
		}
	}
}

// wantSessions checks the reported sessions' results in order ("" is a
// success) and that each names the policy.
func (e *stsEnv) wantSessions(t *testing.T, typ tlsrpt.PolicyType, results ...tlsrpt.ResultType) []tlsrpt.Session {
	t.Helper()
	got := e.rpt.all()
	var names []string
	for _, s := range got {
		names = append(names, fmt.Sprintf("%s@%s", s.Result, s.MXHost))
	}
	if len(got) != len(results) {
		t.Fatalf("sessions %v, want results %v", names, results)
	}
	for i, s := range got {
		if s.Result != results[i] || s.Policy.Type != typ || s.Policy.Domain != "example.test" {
			t.Errorf("session %d = %+v, want %q under %s", i, s, results[i], typ)
		}
	}
	return got
}

// Enforce: the MX host the policy does not name is never contacted,
// and the one it names gets the mail over verified TLS.
func TestSTSEnforceSkipsMXNotInPolicy(t *testing.T) {
	e := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "enforce"), nil}, validCerts, nil)
	want(t, e.deliver(t), 0, 250, "2.0.0", relay("a.mx.example.test", "127.0.0.2", e.port))
	e.delivered(t, 1, 0)
	if c, _ := e.evil.snapshot(); c != 0 {
		t.Errorf("%d connections to the MX host not in the policy", c)
	}
	ss := e.wantSessions(t, tlsrpt.STS, tlsrpt.ValidationFailure, "")
	ok := ss[1]
	if ok.MXHost != "a.mx.example.test" || ok.ReceivingIP != "127.0.0.2" || ok.SendingIP == "" ||
		len(ok.Policy.String) != 4 || ok.Policy.MXHost[0] != "*.mx.example.test" {
		t.Errorf("success session %+v", ok)
	}
}

// Enforce: a certificate that does not verify for the MX name defers
// the mail (4.7.5) and says why in the report.
func TestSTSEnforceRequiresVerifiedCertificate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cert  func(ca *testca.CA) tls.Certificate
		roots bool
		want  tlsrpt.ResultType
	}{
		{"untrusted", func(ca *testca.CA) tls.Certificate { return ca.Issue(&testing.T{}, "a.mx.example.test") }, false, tlsrpt.CertificateNotTrusted},
		{"wrong name", func(ca *testca.CA) tls.Certificate { return ca.Issue(&testing.T{}, "mx.other.test") }, true, tlsrpt.CertificateHostMismatch},
		{"expired", func(ca *testca.CA) tls.Certificate { return ca.IssueExpired(&testing.T{}, "a.mx.example.test") }, true, tlsrpt.CertificateExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs := func(ca *testca.CA) (*tls.Certificate, *tls.Certificate) {
				g := tc.cert(ca)
				return &g, nil
			}
			e := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "enforce"), nil}, certs, func(c *Config) {
				if !tc.roots {
					c.TLSConfig = nil
				}
			})
			res := e.deliver(t)
			want(t, res, 0, 451, "4.7.5", "")
			if !strings.Contains(res[0].Status.Text, "MTA-STS") {
				t.Errorf("status %v does not name MTA-STS", res[0].Status)
			}
			e.delivered(t, 0, 0)
			e.wantSessions(t, tlsrpt.STS, tlsrpt.ValidationFailure, tc.want)
		})
	}
}

// Enforce: no STARTTLS, no mail (and no plaintext retry).
func TestSTSEnforceWithoutSTARTTLSDefers(t *testing.T) {
	none := func(*testca.CA) (*tls.Certificate, *tls.Certificate) { return nil, nil }
	e := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "enforce"), nil}, none, nil)
	want(t, e.deliver(t), 0, 451, "4.7.4", "")
	e.delivered(t, 0, 0)
	e.wantSessions(t, tlsrpt.STS, tlsrpt.ValidationFailure, tlsrpt.STARTTLSNotSupported)
}

// Testing: mail goes as usual (here to the preferred MX, which the
// policy does not name, over a certificate nobody trusts), and the
// report says what enforce would have refused.
func TestSTSTestingReportsOnly(t *testing.T) {
	e := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "testing"), nil}, validCerts, func(c *Config) { c.TLSConfig = nil })
	want(t, e.deliver(t), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	e.delivered(t, 0, 1)
	e.wantSessions(t, tlsrpt.STS, tlsrpt.CertificateNotTrusted)

	trusted := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "testing"), nil}, validCerts, nil)
	want(t, trusted.deliver(t), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", trusted.port))
	trusted.wantSessions(t, tlsrpt.STS, tlsrpt.ValidationFailure) // verified, but not a policy MX
}

// A policy that could not be fetched: mail goes as without one, and
// each session reports the fetch failure.
func TestSTSFetchErrorIsReported(t *testing.T) {
	fail := &mtasts.Error{Domain: "example.test", Type: mtasts.FetchFailed, Err: fmt.Errorf("HTTP status 503")}
	e := newSTSEnv(t, staticSTS{"example.test", nil, fail}, validCerts, nil)
	want(t, e.deliver(t), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	ss := e.wantSessions(t, tlsrpt.STS, tlsrpt.STSPolicyFetchError)
	if ss[0].Detail != "HTTP status 503" {
		t.Errorf("detail %q", ss[0].Detail)
	}
}

// No policy: sessions count under no-policy-found; mode none is no
// policy too.
func TestNoPolicySessionsAreReported(t *testing.T) {
	e := newSTSEnv(t, staticSTS{}, validCerts, nil)
	want(t, e.deliver(t), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	e.wantSessions(t, tlsrpt.NoPolicy, "")

	n := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "none"), nil}, validCerts, func(c *Config) { c.TLSConfig = nil })
	want(t, n.deliver(t), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", n.port))
	n.wantSessions(t, tlsrpt.NoPolicy, "")
}

// DANE takes precedence (RFC 8461 §2): a destination whose TLS level is
// dane is not held to its MTA-STS policy; a bracketed next hop is no MX
// delivery and has none.
func TestSTSNotAppliedUnderDANEOrBrackets(t *testing.T) {
	e := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "enforce"), nil}, validCerts, nil)
	req := request("example.test", "x@example.test")
	req.Egress = &deliver.Egress{TLS: "dane"}
	want(t, e.agent.Deliver(context.Background(), req), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	if n := len(e.rpt.all()); n != 0 {
		t.Errorf("%d sessions reported under DANE", n)
	}
	src := staticSTS{"evil.example.test", policyOf(t, "enforce"), nil}
	b := newSTSEnv(t, src, validCerts, nil)
	want(t, b.agent.Deliver(context.Background(), request("[evil.example.test]", "x@example.test")), 0, 250, "2.0.0", "")
}

// Sessions cached for an enforced domain are kept apart from the
// others to the same next hop.
func TestSTSEnforcedSessionsReused(t *testing.T) {
	e := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "enforce"), nil}, validCerts, nil)
	for i := 0; i < 2; i++ {
		want(t, e.deliver(t), 0, 250, "2.0.0", "")
	}
	e.delivered(t, 2, 0)
	if c, _ := e.good.snapshot(); c != 1 {
		t.Errorf("%d connections for two deliveries, want 1 (reused)", c)
	}
}

// Our own TLS reports go out despite the policy (RFC 8460 §5.3: the
// policy may be what is broken), and their sessions are not counted.
func TestTLSReportsIgnoreThePolicy(t *testing.T) {
	e := newSTSEnv(t, staticSTS{"example.test", policyOf(t, "enforce"), nil}, validCerts, func(c *Config) {
		c.TLSReportSender = "tlsrpt-noreply@src.test"
	})
	req := request("example.test", "tls-reports@example.test")
	req.Sender = "TLSRPT-noreply@src.test"
	want(t, e.agent.Deliver(context.Background(), req), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	if n := len(e.rpt.all()); n != 0 {
		t.Errorf("%d sessions of a report counted", n)
	}
	// Other mail from elsewhere is still held to it.
	want(t, e.deliver(t), 0, 250, "2.0.0", relay("a.mx.example.test", "127.0.0.2", e.port))
}
