package smtp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/dns"
)

// chain is a leaf certificate issued by a CA of its own, as a server
// presents it: leaf first, then the CA.
type chain struct {
	cert tls.Certificate
	leaf *x509.Certificate
	ca   *x509.Certificate
}

func newChain(t testing.TB, leafName string) chain {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: leafName}, DNSNames: []string{leafName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return chain{cert: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, leaf: leaf, ca: ca}
}

// tlsaFor is a TLSA record for the MX at port: usage, selector 1 or 0
// over the leaf (usage 3) or the CA (usage 2), SHA-256.
func (c chain) tlsa(port int, usage int) string {
	var sum [32]byte
	sel := 1
	if usage == 2 {
		sum, sel = sha256.Sum256(c.ca.Raw), 0
	} else {
		sum = sha256.Sum256(c.leaf.RawSubjectPublicKeyInfo)
	}
	return fmt.Sprintf("_%d._tcp.mx.example.test. 60 IN TLSA %d %d 1 %x", port, usage, sel, sum)
}

// starttlsPeer serves STARTTLS with c's chain.
func starttlsPeer(t *testing.T, c chain) (*backend, int) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, func(s *gosmtp.Server) { s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{c.cert}} })
	return b, portOf(ln)
}

// reports collects TLS-RPT outcomes.
type reports struct {
	mu  sync.Mutex
	all []TLSResult
}

func (r *reports) add(x TLSResult) { r.mu.Lock(); r.all = append(r.all, x); r.mu.Unlock() }
func (r *reports) list() []TLSResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]TLSResult(nil), r.all...)
}

const (
	secMX = "example.test. 60 IN MX 10 mx.example.test."
	secA  = "mx.example.test. 60 IN A 127.0.0.1"
)

// daneEnv is an agent at level dane with DNSSEC trusted, and the zone
// answered with AD for the names in secure.
func daneEnv(t *testing.T, port int, rpt *reports, secure []string, zone ...string) *env {
	e := newEnv(t, port, func(c *Config) {
		c.TLS, c.DNSSEC = TLSDane, true
		if rpt != nil {
			c.Report = rpt.add
		}
	}, append([]string{secMX, secA}, zone...)...)
	e.dns.Secure(secure...)
	return e
}

func allSecure(port int) []string {
	return []string{"example.test", "mx.example.test", fmt.Sprintf("_%d._tcp.mx.example.test", port)}
}

func TestDANEEEMatchDelivers(t *testing.T) {
	c := newChain(t, "mx.example.test")
	b, port := starttlsPeer(t, c)
	rpt := &reports{}
	e := daneEnv(t, port, rpt, allSecure(port), c.tlsa(port, 3))
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "verified=yes policy=dane") {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}
	if _, msgs := b.snapshot(); len(msgs) != 1 || !msgs[0].tls {
		t.Fatalf("not delivered over TLS: %+v", msgs)
	}
	r := rpt.list()
	if len(r) != 1 || r[0].PolicyType != "tlsa" || r[0].ResultType != "" || r[0].MXHost != "mx.example.test" ||
		r[0].PolicyDomain != "example.test" || len(r[0].PolicyStrings) != 1 || r[0].ReceivingIP.String() != "127.0.0.1" {
		t.Errorf("reports = %+v", r)
	}
}

// DANE-EE ignores names: the certificate may name anything.
func TestDANEEEIgnoresName(t *testing.T) {
	c := newChain(t, "unrelated.invalid")
	_, port := starttlsPeer(t, c)
	e := daneEnv(t, port, nil, allSecure(port), c.tlsa(port, 3))
	want(t, e.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 250, "2.0.0", "")
}

// A certificate that matches no record defers, and the client does not
// fall back to plaintext.
func TestDANEMismatchDefers(t *testing.T) {
	c, other := newChain(t, "mx.example.test"), newChain(t, "mx.example.test")
	b, port := starttlsPeer(t, c)
	rpt := &reports{}
	e := daneEnv(t, port, rpt, allSecure(port), other.tlsa(port, 3))
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 451, "4.7.5", "")
	if res[0].TLS != "failed policy=dane" {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}
	if _, msgs := b.snapshot(); len(msgs) != 0 {
		t.Errorf("peer got %d messages", len(msgs))
	}
	if e.dials.count() != 1 {
		t.Errorf("dials = %d, want 1: no plaintext retry", e.dials.count())
	}
	if r := rpt.list(); len(r) != 1 || r[0].ResultType != "validation-failure" {
		t.Errorf("reports = %+v", r)
	}
}

// DANE-TA: the CA in the server's chain matches; the leaf must chain to
// it and name the MX host (or the next-hop domain).
func TestDANETA(t *testing.T) {
	good := newChain(t, "mx.example.test")
	_, port := starttlsPeer(t, good)
	e := daneEnv(t, port, nil, allSecure(port), good.tlsa(port, 2))
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.Contains(res[0].TLS, "verified=yes policy=dane") {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}

	misnamed := newChain(t, "elsewhere.invalid")
	_, port = starttlsPeer(t, misnamed)
	e = daneEnv(t, port, nil, allSecure(port), misnamed.tlsa(port, 2))
	want(t, e.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.5", "")
}

// Answers without the AD bit prove nothing: TLSA records in an unsigned
// zone, or under an unsigned MX answer, are ignored (dane acts as may).
func TestDANEInsecureAnswersIgnored(t *testing.T) {
	c, other := newChain(t, "mx.example.test"), newChain(t, "mx.example.test")
	for name, secure := range map[string][]string{
		"nothing signed":   nil,
		"MX unsigned":      {"mx.example.test", "_PORT._tcp.mx.example.test"},
		"TLSA unsigned":    {"example.test", "mx.example.test"},
		"address unsigned": {"example.test", "_PORT._tcp.mx.example.test"},
	} {
		b, port := starttlsPeer(t, c)
		for i, s := range secure {
			secure[i] = strings.Replace(s, "PORT", fmt.Sprint(port), 1)
		}
		e := daneEnv(t, port, nil, secure, other.tlsa(port, 3))
		res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
		want(t, res, 0, 250, "2.0.0", "")
		if !strings.HasSuffix(res[0].TLS, "verified=no policy=may") {
			t.Errorf("%s: TLS outcome = %q", name, res[0].TLS)
		}
		if _, msgs := b.snapshot(); len(msgs) != 1 || !msgs[0].tls {
			t.Errorf("%s: not delivered over TLS", name)
		}
	}
}

// Without smtp.dns_support_level = dnssec, AD bits are not trusted.
func TestDANEWithoutDNSSECSupportIsMay(t *testing.T) {
	c, other := newChain(t, "mx.example.test"), newChain(t, "mx.example.test")
	_, port := starttlsPeer(t, c)
	e := newEnv(t, port, func(c *Config) { c.TLS = TLSDane }, secMX, secA, other.tlsa(port, 3))
	e.dns.Secure(allSecure(port)...)
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "policy=may") {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}
}

// Secure TLSA records that are all unusable (PKIX-EE here) make TLS
// mandatory without authentication (RFC 7672 2.2).
func TestDANEUnusableTLSAIsEncrypt(t *testing.T) {
	c := newChain(t, "mx.example.test")
	_, port := starttlsPeer(t, c)
	pkix := strings.Replace(c.tlsa(port, 3), "TLSA 3 1 1", "TLSA 1 1 1", 1)
	e := daneEnv(t, port, nil, allSecure(port), pkix)
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "verified=no policy=dane") {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}

	plain := listen(t, "127.0.0.1", 0)
	serveGoSMTP(t, plain, &backend{}, nil)
	pport := portOf(plain)
	e = daneEnv(t, pport, nil, allSecure(pport), strings.Replace(c.tlsa(pport, 3), "TLSA 3 1 1", "TLSA 1 1 1", 1))
	want(t, e.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.4", "")
}

// A server without STARTTLS under a usable TLSA record is not sent
// mail in plaintext.
func TestDANEWithoutSTARTTLSDefers(t *testing.T) {
	c := newChain(t, "mx.example.test")
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	port := portOf(ln)
	e := daneEnv(t, port, nil, allSecure(port), c.tlsa(port, 3))
	want(t, e.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.4", "")
	if _, msgs := b.snapshot(); len(msgs) != 0 {
		t.Errorf("peer got %d messages in plaintext", len(msgs))
	}
}

// dane-only: no secure TLSA records, no delivery.
func TestDANEOnlyNeedsTLSA(t *testing.T) {
	c := newChain(t, "mx.example.test")
	b, port := starttlsPeer(t, c)
	rpt := &reports{}
	e := daneEnv(t, port, rpt, allSecure(port))
	req := request("example.test", "x@example.test")
	req.Options = map[string]string{OptTLSLevel: "dane-only"}
	res := e.agent.Deliver(context.Background(), req)
	want(t, res, 0, 451, "4.7.5", "")
	if res[0].TLS != "failed policy=dane-only" {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}
	if e.dials.count() != 0 {
		t.Errorf("dialled %d times", e.dials.count())
	}
	if _, msgs := b.snapshot(); len(msgs) != 0 {
		t.Error("delivered")
	}
	if r := rpt.list(); len(r) != 1 || r[0].ResultType != "dane-required" {
		t.Errorf("reports = %+v", r)
	}
}

// A TLSA lookup that fails (SERVFAIL) defers: the host is unusable.
func TestDANETLSALookupFailureDefers(t *testing.T) {
	c := newChain(t, "mx.example.test")
	_, port := starttlsPeer(t, c)
	rpt := &reports{}
	e := daneEnv(t, port, rpt, allSecure(port))
	e.dns.SetRcode(fmt.Sprintf("_%d._tcp.mx.example.test", port), 2)
	want(t, e.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.5", "")
	if e.dials.count() != 0 {
		t.Errorf("dialled %d times", e.dials.count())
	}
	if r := rpt.list(); len(r) != 1 || r[0].ResultType != "dnssec-invalid" {
		t.Errorf("reports = %+v", r)
	}
}

func TestUsableTLSA(t *testing.T) {
	for _, c := range []struct {
		u, s, m uint8
		n       int
		ok      bool
	}{
		{3, 1, 1, 32, true}, {2, 0, 1, 32, true}, {3, 0, 2, 64, true}, {3, 1, 0, 91, true},
		{0, 1, 1, 32, false}, {1, 1, 1, 32, false}, {3, 2, 1, 32, false}, {3, 1, 3, 32, false},
		{3, 1, 1, 31, false}, {3, 1, 2, 32, false}, {3, 1, 0, 0, false},
	} {
		rec := []dns.TLSA{{Usage: c.u, Selector: c.s, MatchingType: c.m, Data: make([]byte, c.n)}}
		if got := len(usableTLSA(rec)) == 1; got != c.ok {
			t.Errorf("%d %d %d with %d bytes: usable = %v", c.u, c.s, c.m, c.n, got)
		}
	}
}
