package dns

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/miekg/dns"
)

// SecureResolver is a Resolver that also says whether each answer was
// DNSSEC validated: the AD bit of every response on the way, CNAMEs
// included. The AD bit is only as trustworthy as the path to the
// server, so consumers act on it only when the operator said the
// configured servers validate (smtp.dns_support_level = "dnssec", as
// Postfix's smtp_dns_support_level), typically a validating resolver on
// the loopback. The resolver of this package implements it.
type SecureResolver interface {
	Resolver
	// LookupMXSecure is LookupMX, and whether the answer was validated.
	LookupMXSecure(ctx context.Context, domain string) (mxs []MX, secure bool, err error)
	// LookupHostSecure is LookupHost, and whether both the A and the
	// AAAA answers were validated.
	LookupHostSecure(ctx context.Context, host string) (addrs []netip.Addr, secure bool, err error)
	// LookupTLSA returns the TLSA records at name ("_25._tcp.mx.example.com").
	// A name without TLSA records (NXDOMAIN or no data) is no error: it
	// gives no records, secure when that denial was validated.
	LookupTLSA(ctx context.Context, name string) (recs []TLSA, secure bool, err error)
}

var _ SecureResolver = (*resolver)(nil)

// TLSA is one TLSA record (RFC 6698): how to match the certificate of
// a TLS server.
type TLSA struct {
	Usage        uint8 // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
	Selector     uint8 // 0 the whole certificate, 1 its SubjectPublicKeyInfo
	MatchingType uint8 // 0 exact, 1 SHA2-256, 2 SHA2-512
	Data         []byte
}

// String gives the presentation form, "3 1 1 ab12...".
func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.MatchingType, hex.EncodeToString(t.Data))
}

// LookupTLSA implements SecureResolver.
func (r *resolver) LookupTLSA(ctx context.Context, name string) ([]TLSA, bool, error) {
	a, err := toASCII(name)
	if err != nil {
		return nil, false, &LookupError{Name: name, Type: "TLSA", Kind: NotFound, Err: err}
	}
	ans, err := r.resolve(ctx, a, dns.TypeTLSA)
	if err != nil {
		return nil, false, err
	}
	var out []TLSA
	for _, rr := range ans.rrs {
		t, ok := rr.(*dns.TLSA)
		if !ok {
			continue
		}
		data, err := hex.DecodeString(t.Certificate)
		if err != nil {
			continue // miekg/dns gives hex; anything else cannot match
		}
		out = append(out, TLSA{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: data})
	}
	return out, ans.secure, nil
}
