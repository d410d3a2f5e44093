package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/deliver"
)

func roots(c chain) *tls.Config {
	p := x509.NewCertPool()
	p.AddCert(c.ca)
	return &tls.Config{RootCAs: p}
}

// secure matches the next-hop domain (or a host below it), not the MX
// name: a certificate for the MX in another domain passes verify and
// fails secure.
func TestSecureMatchesNexthopDomain(t *testing.T) {
	inside := newChain(t, "mx.example.test")
	_, port := starttlsPeer(t, inside)
	e := newEnv(t, port, func(c *Config) { c.TLS = TLSSecure; c.TLSConfig = roots(inside) }, secMX, secA)
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "verified=yes policy=secure") {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}

	outside := newChain(t, "mx.hoster.test")
	_, port = starttlsPeer(t, outside)
	zone := []string{"example.test. 60 IN MX 10 mx.hoster.test.", "mx.hoster.test. 60 IN A 127.0.0.1"}
	verify := newEnv(t, port, func(c *Config) { c.TLS = TLSVerify; c.TLSConfig = roots(outside) }, zone...)
	want(t, verify.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 250, "2.0.0", "")
	secure := newEnv(t, port, func(c *Config) { c.TLS = TLSSecure; c.TLSConfig = roots(outside) }, zone...)
	want(t, secure.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.5", "")
}

// verify checks the MX host name: a trusted certificate for another
// name defers.
func TestVerifyNameMismatchDefers(t *testing.T) {
	c := newChain(t, "other.example.test")
	b, port := starttlsPeer(t, c)
	e := newEnv(t, port, func(cf *Config) { cf.TLS = TLSVerify; cf.TLSConfig = roots(c) }, secMX, secA)
	want(t, e.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.5", "")
	if _, msgs := b.snapshot(); len(msgs) != 0 {
		t.Error("delivered despite the name mismatch")
	}
}

// The route option wins over the egress policy, which wins over the
// default; a bad level defers with a configuration error.
func TestLevelPrecedence(t *testing.T) {
	c := newChain(t, "mx.example.test")
	_, port := starttlsPeer(t, c)
	e := newEnv(t, port, func(cf *Config) { cf.TLS = TLSVerify }, secMX, secA) // untrusted CA: verify fails
	req := func() *deliver.Request { return request("example.test", "x@example.test") }
	want(t, e.agent.Deliver(context.Background(), req()), 0, 451, "4.7.5", "")
	r := egress(req(), deliver.Egress{TLS: "encrypt"})
	res := e.agent.Deliver(context.Background(), r)
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "policy=encrypt") {
		t.Errorf("egress level: TLS outcome = %q", res[0].TLS)
	}
	r = egress(req(), deliver.Egress{TLS: "verify"})
	r.Options = map[string]string{OptTLSLevel: "none"}
	res = e.agent.Deliver(context.Background(), r)
	want(t, res, 0, 250, "2.0.0", "")
	if res[0].TLS != "none policy=none" {
		t.Errorf("route level: TLS outcome = %q", res[0].TLS)
	}
	want(t, e.agent.Deliver(context.Background(), egress(req(), deliver.Egress{TLS: "sometimes"})), 0, 451, "4.3.5", "none")
	r = req()
	r.Options = map[string]string{"tls_level": "none"}
	want(t, e.agent.Deliver(context.Background(), r), 0, 451, "4.3.5", "none")
}

// Plaintext results say so.
func TestPlaintextOutcome(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	serveGoSMTP(t, ln, &backend{}, nil)
	e := newEnv(t, portOf(ln), nil)
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if res[0].TLS != "none policy=may" {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}
}

// stsPolicy is an MTA-STS policy allowing mx.example.test.
func stsPolicy(enforce bool) *DomainPolicy {
	return &DomainPolicy{Enforce: enforce, MX: func(h string) bool { return h == "mx.example.test" },
		Type: "sts", Strings: []string{"version: STSv1", "mode: enforce", "mx: mx.example.test", "max_age: 86400"}}
}

func TestMTASTSHook(t *testing.T) {
	good := newChain(t, "mx.example.test")
	_, port := starttlsPeer(t, good)
	asked := 0
	rpt := &reports{}
	enforce := newEnv(t, port, func(c *Config) {
		c.TLSConfig = roots(good)
		c.Report = rpt.add
		c.Policy = func(ctx context.Context, domain string) (*DomainPolicy, error) {
			asked++
			if domain != "example.test" {
				t.Errorf("policy asked for %q", domain)
			}
			return stsPolicy(true), nil
		}
	}, secMX, secA)
	res := enforce.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "verified=yes policy=sts") || asked != 1 {
		t.Errorf("TLS outcome = %q, policy asked %d times", res[0].TLS, asked)
	}
	if r := rpt.list(); len(r) != 1 || r[0].PolicyType != "sts" || r[0].ResultType != "" || len(r[0].PolicyStrings) != 4 {
		t.Errorf("reports = %+v", r)
	}
	// Bracketed next hops have no policy domain.
	want(t, enforce.agent.Deliver(context.Background(), request("[mx.example.test]", "x@example.test")), 0, 250, "2.0.0", "")
	if asked != 1 {
		t.Errorf("policy asked for a bracketed next hop")
	}
}

func TestMTASTSEnforceRefusesUntrustedAndForeignMX(t *testing.T) {
	good := newChain(t, "mx.example.test")
	b, port := starttlsPeer(t, good)
	pol := func(ctx context.Context, domain string) (*DomainPolicy, error) { return stsPolicy(true), nil }
	untrusted := newEnv(t, port, func(c *Config) { c.Policy = pol }, secMX, secA)
	want(t, untrusted.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.5", "")

	rpt := &reports{}
	foreign := newEnv(t, port, func(c *Config) { c.Policy = pol; c.TLSConfig = roots(good); c.Report = rpt.add },
		"example.test. 60 IN MX 10 evil.example.test.", "evil.example.test. 60 IN A 127.0.0.1")
	want(t, foreign.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.5", "")
	if foreign.dials.count() != 0 {
		t.Errorf("dialled an MX host the policy does not list")
	}
	if r := rpt.list(); len(r) != 1 || r[0].ResultType != "validation-failure" || r[0].MXHost != "evil.example.test" {
		t.Errorf("reports = %+v", r)
	}
	if _, msgs := b.snapshot(); len(msgs) != 0 {
		t.Errorf("delivered %d messages against the policy", len(msgs))
	}
}

// testing mode reports the failure and delivers.
func TestMTASTSTestingReportsOnly(t *testing.T) {
	good := newChain(t, "mx.example.test")
	b, port := starttlsPeer(t, good)
	rpt := &reports{}
	e := newEnv(t, port, func(c *Config) {
		c.Report = rpt.add
		c.Policy = func(ctx context.Context, domain string) (*DomainPolicy, error) { return stsPolicy(false), nil }
	}, secMX, secA)
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "verified=no policy=sts-testing") {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}
	if r := rpt.list(); len(r) != 1 || r[0].ResultType != "certificate-not-trusted" {
		t.Errorf("reports = %+v", r)
	}
	if _, msgs := b.snapshot(); len(msgs) != 1 || !msgs[0].tls {
		t.Error("not delivered over TLS")
	}
}

// An explicit level is final; a policy error defers.
func TestMTASTSExplicitLevelAndErrors(t *testing.T) {
	good := newChain(t, "mx.example.test")
	_, port := starttlsPeer(t, good)
	fail := false
	asked := 0
	e := newEnv(t, port, func(c *Config) {
		c.Policy = func(ctx context.Context, domain string) (*DomainPolicy, error) {
			asked++
			if fail {
				return nil, errors.New("resolver down")
			}
			return stsPolicy(true), nil
		}
	}, secMX, secA)
	res := e.agent.Deliver(context.Background(), egress(request("example.test", "x@example.test"), deliver.Egress{TLS: "encrypt"}))
	want(t, res, 0, 250, "2.0.0", "")
	if asked != 0 {
		t.Errorf("policy asked under an explicit encrypt")
	}
	fail = true
	want(t, e.agent.Deliver(context.Background(), request("example.test", "x@example.test")), 0, 451, "4.7.5", "none")
}

// A connection opened under one TLS level is not reused for a delivery
// that asks for another: the cache key carries the level.
func TestCachedConnectionKeepsItsLevel(t *testing.T) {
	c := newChain(t, "mx.example.test")
	b, port := starttlsPeer(t, c)
	e := newEnv(t, port, func(cf *Config) { cf.TLSConfig = roots(c) }, secMX, secA)
	req := func(level string) *deliver.Request {
		return egress(request("example.test", "x@example.test"), deliver.Egress{TLS: level})
	}
	for _, level := range []string{"may", "may", "verify", "verify"} {
		want(t, e.agent.Deliver(context.Background(), req(level)), 0, 250, "2.0.0", "")
	}
	if conns, msgs := b.snapshot(); conns != 2 || len(msgs) != 4 {
		t.Errorf("connections = %d for %d messages, want 2: one per level", conns, len(msgs))
	}
}
