package smtp

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/dns"
)

// certError is a server certificate that fails the host's policy. Kind
// is its RFC 8460 result-type.
type certError struct {
	kind string
	err  error
}

func (e *certError) Error() string { return e.kind + ": " + e.err.Error() }
func (e *certError) Unwrap() error { return e.err }

// tlsClientConfig is the handshake setup for h. The library's own
// verification is off: verifyPeer decides, level by level, so that DANE
// can accept what WebPKI would not, and so that a failure is classified.
func (a *Agent) tlsClientConfig(h hostTLS, outcome *tlsCheck) *tls.Config {
	cfg := &tls.Config{}
	if a.cfg.TLSConfig != nil {
		cfg = a.cfg.TLSConfig.Clone()
	}
	cfg.ServerName = h.host
	cfg.InsecureSkipVerify = true
	roots := cfg.RootCAs
	now := a.cfg.Clock.Now
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := verifyPeer(h, cs.PeerCertificates, roots, now())
		outcome.verified = err == nil && (h.level >= TLSVerify || h.sts != nil)
		outcome.err = err
		if err != nil && h.sts != nil && !h.sts.Enforce && h.level < TLSVerify {
			return nil // MTA-STS testing: report, do not enforce
		}
		return err
	}
	return cfg
}

// tlsCheck is what the verification found.
type tlsCheck struct {
	verified bool
	err      error
}

// verifyPeer checks a chain against the host's policy.
func verifyPeer(h hostTLS, certs []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return &certError{"validation-failure", errors.New("no certificate")}
	}
	switch {
	case h.level == TLSDane || h.level == TLSDaneOnly:
		return daneVerify(certs, h.tlsa, []string{h.host, h.domain}, now)
	case h.level == TLSSecure:
		return pkixVerify(certs, roots, now, func(c *x509.Certificate) bool { return matchDomain(c, h.domain) })
	case h.level == TLSVerify, h.sts != nil:
		return pkixVerify(certs, roots, now, func(c *x509.Certificate) bool { return c.VerifyHostname(h.host) == nil })
	}
	return nil // may, encrypt: any certificate
}

// pkixVerify checks the chain to the roots and the leaf's name.
func pkixVerify(certs []*x509.Certificate, roots *x509.CertPool, now time.Time, nameOK func(*x509.Certificate) bool) error {
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return &certError{"certificate-expired", err}
	case errors.As(err, new(x509.UnknownAuthorityError)):
		return &certError{"certificate-not-trusted", err}
	case err != nil:
		return &certError{"validation-failure", err}
	case !nameOK(certs[0]):
		return &certError{"certificate-host-mismatch", fmt.Errorf("certificate names %v do not match", certs[0].DNSNames)}
	}
	return nil
}

// matchDomain is Postfix's "nexthop, dot-nexthop": the certificate
// names the next-hop domain or a host below it.
func matchDomain(c *x509.Certificate, domain string) bool {
	if c.VerifyHostname(domain) == nil {
		return true
	}
	for _, n := range c.DNSNames {
		if strings.HasSuffix(strings.ToLower(strings.TrimSuffix(n, ".")), "."+domain) {
			return true
		}
	}
	return false
}

// daneVerify applies RFC 7672 section 3: a DANE-EE(3) record matching
// the leaf authenticates it (neither names nor dates are checked); a
// DANE-TA(2) record matching a certificate of the chain the server sent
// makes that certificate the trust anchor, and the leaf must chain to
// it and name one of names (the MX host or the next-hop domain).
func daneVerify(certs []*x509.Certificate, recs []dns.TLSA, names []string, now time.Time) error {
	for _, r := range recs {
		if r.Usage == 3 && tlsaMatch(certs[0], r) {
			return nil
		}
	}
	var last error
	for _, r := range recs {
		if r.Usage != 2 {
			continue
		}
		for i := 1; i < len(certs); i++ {
			if !tlsaMatch(certs[i], r) {
				continue
			}
			if last = chainsTo(certs, i, names, now); last == nil {
				return nil
			}
		}
	}
	if last != nil {
		return &certError{"validation-failure", fmt.Errorf("DANE-TA: %w", last)}
	}
	return &certError{"validation-failure", errors.New("no TLSA record matches the server certificate")}
}

// chainsTo checks that the leaf chains to certs[ta] through the
// certificates before it, and names one of names.
func chainsTo(certs []*x509.Certificate, ta int, names []string, now time.Time) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(certs[ta])
	for _, c := range certs[1:ta] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return err
	}
	for _, n := range names {
		if n != "" && certs[0].VerifyHostname(n) == nil {
			return nil
		}
	}
	return fmt.Errorf("certificate names %v match none of %v", certs[0].DNSNames, names)
}

// tlsaMatch compares a certificate with one record.
func tlsaMatch(c *x509.Certificate, r dns.TLSA) bool {
	var data []byte
	switch r.Selector {
	case 0:
		data = c.Raw
	case 1:
		data = c.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch r.MatchingType {
	case 0:
		return bytes.Equal(data, r.Data)
	case 1:
		sum := sha256.Sum256(data)
		return bytes.Equal(sum[:], r.Data)
	case 2:
		sum := sha512.Sum512(data)
		return bytes.Equal(sum[:], r.Data)
	}
	return false
}
