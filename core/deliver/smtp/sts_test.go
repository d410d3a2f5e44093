package smtp

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/internal/testca"
)

// MTA-STS through the agent's one TLS path: Config.Policy gives the
// domain's policy, Config.Report hears the sessions. The daemon's
// wiring of the real policy cache is tested in cmd/internal/app.

// stsOf is a policy of mode for example.test allowing *.mx.example.test.
func stsOf(enforce bool) *DomainPolicy {
	mode := "testing"
	if enforce {
		mode = "enforce"
	}
	return &DomainPolicy{Enforce: enforce, Type: "sts",
		MX: func(h string) bool {
			label, ok := strings.CutSuffix(h, ".mx.example.test")
			return ok && label != "" && !strings.Contains(label, ".")
		},
		Strings:    []string{"version: STSv1", "mode: " + mode, "mx: *.mx.example.test", "max_age: 86400"},
		MXPatterns: []string{"*.mx.example.test"}}
}

// policyFor answers pol for domain and nil for others, counting calls.
type policyFor struct {
	domain string
	pol    *DomainPolicy
	asked  atomic.Int32
}

func (p *policyFor) lookup(_ context.Context, domain string) (*DomainPolicy, error) {
	p.asked.Add(1)
	if domain != p.domain {
		return nil, nil
	}
	return p.pol, nil
}

// stsEnv is two MX hosts of example.test on one port: evil.example.test
// (preference 5, not in the policy, 127.0.0.3) and a.mx.example.test
// (preference 10, in it, 127.0.0.2), each offering STARTTLS with cert.
type stsEnv struct {
	*env
	good, evil *backend
	evilCert   *tls.Certificate
	ca         *testca.CA
	rpt        *reports
	pol        *policyFor
}

func newSTSEnv(t *testing.T, pol *DomainPolicy, certs func(ca *testca.CA) (good, evil *tls.Certificate), tune func(*Config)) *stsEnv {
	t.Helper()
	ca := testca.New(t)
	good, evil := certs(ca)
	e := &stsEnv{good: &backend{}, evil: &backend{}, evilCert: evil, ca: ca, rpt: &reports{}, pol: &policyFor{domain: "example.test", pol: pol}}
	lns, port := listenSamePort(t, "127.0.0.2", "127.0.0.3")
	serveGoSMTP(t, lns[0], e.good, withCert(good))
	serveGoSMTP(t, lns[1], e.evil, withCert(evil))
	e.env = newEnv(t, port, func(c *Config) {
		c.Policy, c.Report = e.pol.lookup, e.rpt.add
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

// wantReports checks the reported outcomes' result types in order (""
// is a success) and that each names the policy type and domain.
func (e *stsEnv) wantReports(t *testing.T, typ string, results ...string) []TLSResult {
	t.Helper()
	got := e.rpt.list()
	var names []string
	for _, r := range got {
		names = append(names, fmt.Sprintf("%s@%s", r.ResultType, r.MXHost))
	}
	if len(got) != len(results) {
		t.Fatalf("reports %v, want results %v", names, results)
	}
	for i, r := range got {
		if r.ResultType != results[i] || r.PolicyType != typ || r.PolicyDomain != "example.test" {
			t.Errorf("report %d = %+v, want %q under %s", i, r, results[i], typ)
		}
	}
	return got
}

// Enforce: the MX host the policy does not name is never contacted,
// and the one it names gets the mail over verified TLS; the report of
// the session carries the policy and both ends' addresses.
func TestSTSEnforceSkipsMXNotInPolicy(t *testing.T) {
	e := newSTSEnv(t, stsOf(true), validCerts, nil)
	res := e.deliver(t)
	want(t, res, 0, 250, "2.0.0", relay("a.mx.example.test", "127.0.0.2", e.port))
	if !strings.HasSuffix(res[0].TLS, "verified=yes policy=sts") {
		t.Errorf("TLS outcome %q", res[0].TLS)
	}
	e.delivered(t, 1, 0)
	if c, _ := e.evil.snapshot(); c != 0 {
		t.Errorf("%d connections to the MX host not in the policy", c)
	}
	rs := e.wantReports(t, "sts", "validation-failure", "")
	if rs[0].MXHost != "evil.example.test" || rs[0].ReceivingIP.IsValid() {
		t.Errorf("refused MX report %+v", rs[0])
	}
	ok := rs[1]
	if ok.MXHost != "a.mx.example.test" || ok.ReceivingIP.String() != "127.0.0.2" || !ok.SendingIP.IsLoopback() ||
		len(ok.PolicyStrings) != 4 || len(ok.PolicyMXHosts) != 1 || ok.PolicyMXHosts[0] != "*.mx.example.test" {
		t.Errorf("success report %+v", ok)
	}
}

// Enforce: a certificate that does not verify for the MX name defers
// the mail (4.7.5) and the report says why.
func TestSTSEnforceRequiresVerifiedCertificate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cert  func(ca *testca.CA) tls.Certificate
		roots bool
		want  string
	}{
		{"untrusted", func(ca *testca.CA) tls.Certificate { return ca.Issue(&testing.T{}, "a.mx.example.test") }, false, "certificate-not-trusted"},
		{"wrong name", func(ca *testca.CA) tls.Certificate { return ca.Issue(&testing.T{}, "mx.other.test") }, true, "certificate-host-mismatch"},
		{"expired", func(ca *testca.CA) tls.Certificate { return ca.IssueExpired(&testing.T{}, "a.mx.example.test") }, true, "certificate-expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs := func(ca *testca.CA) (*tls.Certificate, *tls.Certificate) {
				g := tc.cert(ca)
				return &g, nil
			}
			e := newSTSEnv(t, stsOf(true), certs, func(c *Config) {
				if !tc.roots {
					c.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()}
				}
			})
			res := e.deliver(t)
			want(t, res, 0, 451, "4.7.5", "")
			if res[0].TLS != "failed policy=sts" {
				t.Errorf("TLS outcome %q does not name the MTA-STS policy", res[0].TLS)
			}
			e.delivered(t, 0, 0)
			e.wantReports(t, "sts", "validation-failure", tc.want)
		})
	}
}

// Enforce: no STARTTLS, no mail (and no plaintext retry).
func TestSTSEnforceWithoutSTARTTLSDefers(t *testing.T) {
	none := func(*testca.CA) (*tls.Certificate, *tls.Certificate) { return nil, nil }
	e := newSTSEnv(t, stsOf(true), none, nil)
	res := e.deliver(t)
	want(t, res, 0, 451, "4.7.4", "")
	if res[0].TLS != "none policy=sts" {
		t.Errorf("TLS outcome %q", res[0].TLS)
	}
	e.delivered(t, 0, 0)
	e.wantReports(t, "sts", "validation-failure", "starttls-not-supported")
}

// Testing: mail goes as usual (here to the preferred MX, which the
// policy does not name, over a certificate nobody trusts), and the one
// session is reported once, with what enforce would have refused.
func TestSTSTestingReportsOnly(t *testing.T) {
	e := newSTSEnv(t, stsOf(false), validCerts, func(c *Config) { c.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()} })
	res := e.deliver(t)
	want(t, res, 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	if !strings.HasSuffix(res[0].TLS, "verified=no policy=sts-testing") {
		t.Errorf("TLS outcome %q", res[0].TLS)
	}
	e.delivered(t, 0, 1)
	e.wantReports(t, "sts", "certificate-not-trusted")

	trusted := newSTSEnv(t, stsOf(false), validCerts, nil)
	want(t, trusted.deliver(t), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", trusted.port))
	trusted.wantReports(t, "sts", "validation-failure") // verified, but not a policy MX
}

// No policy: sessions are reported under no-policy-found.
func TestNoPolicySessionsAreReported(t *testing.T) {
	e := newSTSEnv(t, nil, validCerts, nil)
	want(t, e.deliver(t), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	rs := e.wantReports(t, "no-policy-found", "")
	if rs[0].MXHost != "evil.example.test" || rs[0].ReceivingIP.String() != "127.0.0.3" || !rs[0].SendingIP.IsValid() {
		t.Errorf("report %+v", rs[0])
	}
}

// DANE takes precedence (RFC 8461 section 2): under the dane level an
// MX host with DNSSEC-validated TLSA records is authenticated by them,
// whatever the MTA-STS policy says; the hosts without fall to the
// policy. A bracketed next hop is no MX delivery: no policy, no report.
func TestSTSNotAppliedUnderDANEOrBrackets(t *testing.T) {
	e := newSTSEnv(t, stsOf(true), validCerts, func(c *Config) { c.DNSSEC = true })
	evil, _ := x509.ParseCertificate(e.evilCert.Certificate[0])
	sum := sha256.Sum256(evil.RawSubjectPublicKeyInfo)
	e.dns.Add(t, fmt.Sprintf("_%d._tcp.evil.example.test. 60 IN TLSA 3 1 1 %x", e.port, sum))
	e.dns.Secure("example.test", "evil.example.test", "a.mx.example.test", fmt.Sprintf("_%d._tcp.evil.example.test", e.port))
	dane := func() *deliver.Request {
		return egress(request("example.test", "x@example.test"), deliver.Egress{TLS: "dane"})
	}
	res := e.agent.Deliver(context.Background(), dane())
	want(t, res, 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	if !strings.HasSuffix(res[0].TLS, "verified=yes policy=dane") {
		t.Errorf("TLS outcome %q", res[0].TLS)
	}
	if rs := e.rpt.list(); len(rs) != 1 || rs[0].PolicyType != "tlsa" || rs[0].ResultType != "" {
		t.Errorf("reports %+v", rs)
	}

	// Without a TLSA record for evil, the policy refuses it.
	n := newSTSEnv(t, stsOf(true), validCerts, func(c *Config) { c.DNSSEC = true })
	n.dns.Secure("example.test", "evil.example.test", "a.mx.example.test")
	res = n.agent.Deliver(context.Background(), dane())
	want(t, res, 0, 250, "2.0.0", relay("a.mx.example.test", "127.0.0.2", n.port))
	if !strings.HasSuffix(res[0].TLS, "verified=yes policy=sts") {
		t.Errorf("TLS outcome %q", res[0].TLS)
	}

	b := newSTSEnv(t, stsOf(true), validCerts, nil)
	b.pol.domain = "evil.example.test"
	want(t, b.agent.Deliver(context.Background(), request("[evil.example.test]", "x@example.test")), 0, 250, "2.0.0", "")
	if n, r := b.pol.asked.Load(), b.rpt.list(); n != 0 || len(r) != 0 {
		t.Errorf("bracketed next hop: policy asked %d times, %d reports", n, len(r))
	}
}

// Sessions opened under an enforced policy are reused for it.
func TestSTSEnforcedSessionsReused(t *testing.T) {
	e := newSTSEnv(t, stsOf(true), validCerts, nil)
	for i := 0; i < 2; i++ {
		want(t, e.deliver(t), 0, 250, "2.0.0", "")
	}
	e.delivered(t, 2, 0)
	if c, _ := e.good.snapshot(); c != 1 {
		t.Errorf("%d connections for two deliveries, want 1 (reused)", c)
	}
}

// Our own TLS reports go out despite the policy (RFC 8460 section 5.3:
// the policy may be what is broken), and their sessions are not
// reported.
func TestTLSReportsIgnoreThePolicy(t *testing.T) {
	e := newSTSEnv(t, stsOf(true), validCerts, func(c *Config) {
		c.TLSReportSender = "tlsrpt-noreply@src.test"
	})
	req := request("example.test", "tls-reports@example.test")
	req.Sender = "TLSRPT-noreply@src.test"
	want(t, e.agent.Deliver(context.Background(), req), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	if n, r := e.pol.asked.Load(), e.rpt.list(); n != 0 || len(r) != 0 {
		t.Errorf("report mail: policy asked %d times, %d reports", n, len(r))
	}
	// Other mail is still held to it.
	want(t, e.deliver(t), 0, 250, "2.0.0", relay("a.mx.example.test", "127.0.0.2", e.port))
	if n := e.pol.asked.Load(); n != 1 {
		t.Errorf("policy asked %d times", n)
	}
}

// A report goes out even where a TLSA record does not match, under the
// opportunistic dane level; a mandatory level set for the destination
// still holds it.
func TestTLSReportsIgnoreOpportunisticDANE(t *testing.T) {
	e := newSTSEnv(t, nil, validCerts, func(c *Config) {
		c.TLSReportSender = "tlsrpt-noreply@src.test"
		c.DNSSEC = true
	})
	wrong := sha256.Sum256([]byte("another key"))
	for _, h := range []string{"evil.example.test", "a.mx.example.test"} {
		e.dns.Add(t, fmt.Sprintf("_%d._tcp.%s. 60 IN TLSA 3 1 1 %x", e.port, h, wrong))
		e.dns.Secure(h, fmt.Sprintf("_%d._tcp.%s", e.port, h))
	}
	e.dns.Secure("example.test")
	report := func(level string) *deliver.Request {
		req := egress(request("example.test", "tls-reports@example.test"), deliver.Egress{TLS: level})
		req.Sender = "tlsrpt-noreply@src.test"
		return req
	}
	normal := egress(request("example.test", "x@example.test"), deliver.Egress{TLS: "dane"})
	want(t, e.agent.Deliver(context.Background(), normal), 0, 451, "4.7.5", "")
	want(t, e.agent.Deliver(context.Background(), report("dane")), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", e.port))
	want(t, e.agent.Deliver(context.Background(), report("dane-only")), 0, 451, "4.7.5", "")
	if r := e.rpt.list(); len(r) != 2 {
		t.Errorf("reports %+v, want the two of the ordinary delivery", r)
	}
}

// The policy outranks the default level, as a policy map entry does:
// under a default of encrypt an enforced policy still refuses the MX
// host it does not name and wants a verified certificate; a level set
// for the destination is final, and a default of none takes no policy.
func TestSTSOutranksTheDefaultLevel(t *testing.T) {
	untrusted := &tls.Config{RootCAs: x509.NewCertPool()}
	e := newSTSEnv(t, stsOf(true), validCerts, func(c *Config) { c.TLS, c.TLSConfig = TLSEncrypt, untrusted })
	res := e.deliver(t)
	want(t, res, 0, 451, "4.7.5", "")
	e.wantReports(t, "sts", "validation-failure", "certificate-not-trusted")

	v := newSTSEnv(t, stsOf(true), validCerts, func(c *Config) { c.TLS = TLSVerify })
	res = v.deliver(t)
	want(t, res, 0, 250, "2.0.0", relay("a.mx.example.test", "127.0.0.2", v.port))
	if !strings.HasSuffix(res[0].TLS, "verified=yes policy=verify") {
		t.Errorf("TLS outcome %q", res[0].TLS)
	}
	v.delivered(t, 1, 0)

	x := newSTSEnv(t, stsOf(true), validCerts, func(c *Config) { c.TLSConfig = untrusted })
	res = x.agent.Deliver(context.Background(), egress(request("example.test", "x@example.test"), deliver.Egress{TLS: "encrypt"}))
	want(t, res, 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", x.port))
	n := newSTSEnv(t, stsOf(true), validCerts, func(c *Config) { c.TLS = TLSNone })
	want(t, n.deliver(t), 0, 250, "2.0.0", relay("evil.example.test", "127.0.0.3", n.port))
	if a, b := x.pol.asked.Load(), n.pol.asked.Load(); a != 0 || b != 0 {
		t.Errorf("policy asked %d times under an explicit level, %d under none", a, b)
	}
}
