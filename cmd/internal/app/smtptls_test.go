package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/deliver"
	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/mtasts"
	"github.com/moonpost/moonpost/core/tlsrpt"
)

// The daemon's MTA-STS and TLS-RPT wiring, end to end below the queue:
// the _mta-sts TXT record on a loopback DNS server, the policy from an
// HTTPS server on loopback whose certificate a test CA signed, the real
// policy cache, the smtp client's one TLS path, and the sessions as
// core/tlsrpt receives them.

// testCA issues certificates that verify against its pool.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mxSink is an SMTP server offering STARTTLS that counts messages.
type mxSink struct {
	mu   sync.Mutex
	msgs int
}

func (s *mxSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return sinkSess{s}, nil }
func (s *mxSink) count() int                                      { s.mu.Lock(); defer s.mu.Unlock(); return s.msgs }

type sinkSess struct{ s *mxSink }

func (sinkSess) Mail(string, *gosmtp.MailOptions) error { return nil }
func (sinkSess) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (sinkSess) Reset()                                 {}
func (sinkSess) Logout() error                          { return nil }
func (x sinkSess) Data(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	x.s.mu.Lock()
	x.s.msgs++
	x.s.mu.Unlock()
	return nil
}

// sinksOnePort serves one sink per address, all on one port (the
// client's Config.Port reaches MX hosts there).
func sinksOnePort(t *testing.T, certs map[string]tls.Certificate, ips ...string) (map[string]*mxSink, int) {
	t.Helper()
	for try := 0; try < 20; try++ {
		var lns []net.Listener
		port := 0
		for _, ip := range ips {
			ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				break
			}
			lns, port = append(lns, ln), ln.Addr().(*net.TCPAddr).Port
		}
		if len(lns) < len(ips) {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		sinks := map[string]*mxSink{}
		for i, ln := range lns {
			s := &mxSink{}
			srv := gosmtp.NewServer(s)
			srv.Domain, srv.AllowInsecureAuth = ips[i], true
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{certs[ips[i]]}}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			sinks[ips[i]] = s
		}
		return sinks, port
	}
	t.Fatal("no common free port")
	return nil, 0
}

// sessions collects what core/tlsrpt would count.
type sessions struct {
	mu  sync.Mutex
	got []tlsrpt.Session
}

func (s *sessions) Record(ses tlsrpt.Session) { s.mu.Lock(); s.got = append(s.got, ses); s.mu.Unlock() }
func (s *sessions) all() []tlsrpt.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tlsrpt.Session(nil), s.got...)
}

// stsChain is example.test with MX evil.example.test (preference 5, not
// in the policy, 127.0.0.3) and a.mx.example.test (10, 127.0.0.2), its
// policy served by body (status 200) or failing with status, and an
// smtp client wired as the daemon wires it.
type stsChain struct {
	agent      *smtpc.Agent
	good, evil *mxSink
	rpt        *sessions
	fetches    *atomic.Int32
}

func newSTSChain(t *testing.T, status int, body string) *stsChain {
	t.Helper()
	ca := newTestCA(t)
	fetches := &atomic.Int32{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != "mta-sts.example.test" {
			t.Errorf("policy asked at %s %s", r.Host, r.URL.Path)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "mta-sts.example.test")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	sinks, port := sinksOnePort(t, map[string]tls.Certificate{
		"127.0.0.2": ca.issue(t, "a.mx.example.test"), "127.0.0.3": ca.issue(t, "evil.example.test")}, "127.0.0.2", "127.0.0.3")
	ns := dnstest.NewServer(t)
	ns.Add(t, "example.test. 60 IN MX 10 a.mx.example.test.", "example.test. 60 IN MX 5 evil.example.test.",
		"a.mx.example.test. 60 IN A 127.0.0.2", "evil.example.test. 60 IN A 127.0.0.3",
		`_mta-sts.example.test. 60 IN TXT "v=STSv1; id=20260301T000000;"`)
	res := dns.New(dns.Config{Servers: []string{ns.Addr}, Timeout: time.Second, Attempts: 1})
	f := &mtasts.Fetcher{RootCAs: ca.pool, Timeout: 2 * time.Second,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "mta-sts.example.test:443" {
				t.Errorf("policy fetched from %s", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}}
	f.Init()
	rpt := &sessions{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	out := outboundTLS{sts: &mtasts.Cache{Resolver: res, Fetcher: f, Logger: log}, record: rpt,
		sender: "tlsrpt-noreply@src.test", log: log}
	sc := smtpc.Config{Helo: "client.test", Resolver: res, Port: port, TLSConfig: &tls.Config{RootCAs: ca.pool},
		ConnectTimeout: 2 * time.Second, HeloTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second,
		DataTimeout: 2 * time.Second, MaxCached: -1, Logger: log}
	out.wire(&sc)
	a, err := smtpc.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &stsChain{agent: a, good: sinks["127.0.0.2"], evil: sinks["127.0.0.3"], rpt: rpt, fetches: fetches}
}

func (c *stsChain) deliver(t *testing.T, sender string) deliver.Result {
	t.Helper()
	res := c.agent.Deliver(context.Background(), &deliver.Request{QueueID: "0123456789ABCDEF01", Sender: sender,
		Nexthop: "example.test", Recipients: []deliver.Recipient{{Addr: "x@example.test"}},
		Content: strContent("Subject: t\r\n\r\nhello\r\n")})
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	return res[0]
}

type strContent string

func (c strContent) Open() io.Reader { return strings.NewReader(string(c)) }
func (c strContent) Size() int64     { return int64(len(c)) }

const enforcePolicy = "version: STSv1\r\nmode: enforce\r\nmx: *.mx.example.test\r\nmax_age: 604800\r\n"

// An enforced policy from HTTPS keeps the mail off the MX host it does
// not name and sends it over verified TLS to the one it does; the
// sessions reach TLS-RPT under the policy, with its lines, mx patterns
// and both ends' addresses. The policy is fetched once.
func TestSTSPolicyFromHTTPSEnforced(t *testing.T) {
	c := newSTSChain(t, 200, enforcePolicy)
	for i := 0; i < 2; i++ {
		r := c.deliver(t, "a@src.test")
		if r.Status.Code != 250 || !strings.HasPrefix(r.Relay, "a.mx.example.test[127.0.0.2]") ||
			!strings.HasSuffix(r.TLS, "verified=yes policy=sts") {
			t.Fatalf("result %v via %s, TLS %q", r.Status, r.Relay, r.TLS)
		}
	}
	if g, e := c.good.count(), c.evil.count(); g != 2 || e != 0 {
		t.Errorf("a.mx got %d, evil %d; want 2 and 0", g, e)
	}
	if c.fetches.Load() != 1 {
		t.Errorf("policy fetched %d times", c.fetches.Load())
	}
	ss := c.rpt.all()
	if len(ss) != 4 {
		t.Fatalf("sessions %+v", ss)
	}
	refused, ok := ss[0], ss[1]
	if refused.Result != tlsrpt.ValidationFailure || refused.MXHost != "evil.example.test" || refused.ReceivingIP != "" {
		t.Errorf("refused MX %+v", refused)
	}
	if ok.Result != "" || ok.Policy.Type != tlsrpt.STS || ok.Policy.Domain != "example.test" ||
		len(ok.Policy.String) != 4 || ok.Policy.String[1] != "mode: enforce" ||
		len(ok.Policy.MXHost) != 1 || ok.Policy.MXHost[0] != "*.mx.example.test" ||
		ok.MXHost != "a.mx.example.test" || ok.ReceivingIP != "127.0.0.2" || ok.SendingIP == "" {
		t.Errorf("session %+v", ok)
	}
}

// A policy in testing mode, and mode none, hold nothing back.
func TestSTSPolicyTestingAndNone(t *testing.T) {
	tst := newSTSChain(t, 200, strings.Replace(enforcePolicy, "enforce", "testing", 1))
	r := tst.deliver(t, "a@src.test")
	if r.Status.Code != 250 || !strings.HasPrefix(r.Relay, "evil.example.test") || !strings.HasSuffix(r.TLS, "policy=sts-testing") {
		t.Errorf("testing: %v via %s, TLS %q", r.Status, r.Relay, r.TLS)
	}
	if ss := tst.rpt.all(); len(ss) != 1 || ss[0].Result != tlsrpt.ValidationFailure || ss[0].Policy.Type != tlsrpt.STS {
		t.Errorf("testing: sessions %+v", ss)
	}

	none := newSTSChain(t, 200, "version: STSv1\r\nmode: none\r\nmax_age: 604800\r\n")
	r = none.deliver(t, "a@src.test")
	if r.Status.Code != 250 || !strings.HasPrefix(r.Relay, "evil.example.test") || !strings.HasSuffix(r.TLS, "policy=may") {
		t.Errorf("none: %v via %s, TLS %q", r.Status, r.Relay, r.TLS)
	}
	if ss := none.rpt.all(); len(ss) != 1 || ss[0].Result != "" || ss[0].Policy.Type != tlsrpt.NoPolicy {
		t.Errorf("none: sessions %+v", ss)
	}
}

// RFC 8461 section 5.1: a policy that cannot be fetched, with none
// cached, is no policy: the mail is delivered, not deferred, and the
// failure is counted for the domain's report beside the session.
func TestSTSFetchErrorDeliversAndIsReported(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		want       tlsrpt.ResultType
	}{
		{"unavailable", "", 503, tlsrpt.STSPolicyFetchError},
		{"invalid", "version: STSv1\r\nmode: sometimes\r\n", 200, tlsrpt.STSPolicyInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSTSChain(t, tc.status, tc.body)
			r := c.deliver(t, "a@src.test")
			if r.Status.Code != 250 || !strings.HasPrefix(r.Relay, "evil.example.test") || !strings.HasSuffix(r.TLS, "policy=may") {
				t.Fatalf("result %v via %s, TLS %q", r.Status, r.Relay, r.TLS)
			}
			ss := c.rpt.all()
			if len(ss) != 2 {
				t.Fatalf("sessions %+v", ss)
			}
			if f := ss[0]; f.Result != tc.want || f.Policy.Type != tlsrpt.STS || f.Policy.Domain != "example.test" || f.Detail == "" {
				t.Errorf("fetch failure %+v", f)
			}
			if s := ss[1]; s.Result != "" || s.Policy.Type != tlsrpt.NoPolicy || s.MXHost != "evil.example.test" {
				t.Errorf("session %+v", s)
			}
		})
	}
}

// The daemon's own TLS reports are held to no MTA-STS policy and not
// counted (RFC 8460 section 5.3); the policy is not even fetched.
func TestSTSTLSReportsExempt(t *testing.T) {
	c := newSTSChain(t, 200, enforcePolicy)
	r := c.deliver(t, "tlsrpt-noreply@src.test")
	if r.Status.Code != 250 || !strings.HasPrefix(r.Relay, "evil.example.test") {
		t.Errorf("report: %v via %s", r.Status, r.Relay)
	}
	if ss := c.rpt.all(); len(ss) != 0 || c.fetches.Load() != 0 {
		t.Errorf("report mail: sessions %+v, %d fetches", ss, c.fetches.Load())
	}
}

// A TLSA outcome names its MX host as the policy's mx-host.
func TestReportResultTLSA(t *testing.T) {
	rpt := &sessions{}
	outboundTLS{record: rpt}.reportResult(smtpc.TLSResult{PolicyDomain: "Example.TEST", PolicyType: "tlsa",
		PolicyStrings: []string{"3 1 1 ab"}, MXHost: "mx.example.test", ResultType: "validation-failure", Detail: "no match"})
	ss := rpt.all()
	if len(ss) != 1 || ss[0].Policy.Domain != "example.test" || ss[0].Policy.Type != tlsrpt.TLSA ||
		len(ss[0].Policy.MXHost) != 1 || ss[0].Policy.MXHost[0] != "mx.example.test" ||
		ss[0].Result != tlsrpt.ValidationFailure || ss[0].SendingIP != "" {
		t.Errorf("sessions %+v", ss)
	}
}
