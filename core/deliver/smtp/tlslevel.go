package smtp

import (
	"fmt"
	"strings"
)

// TLSPolicy is a TLS security level, as Postfix's
// smtp_tls_security_level. Each level adds to the one before it, except
// none; none and may are the only levels that send mail in plaintext.
type TLSPolicy int

const (
	// TLSUnset is the zero value: the agent's default applies (TLSMay
	// for Config.TLS).
	TLSUnset TLSPolicy = iota
	// TLSNone: never STARTTLS.
	TLSNone
	// TLSMay: STARTTLS when offered, certificate not checked (an
	// unverified channel still beats plaintext against passive
	// snooping). A failed handshake is retried once in plaintext, so a
	// broken TLS stack at the peer delays no mail.
	TLSMay
	// TLSEncrypt: STARTTLS is required, the certificate is not checked.
	// A peer without STARTTLS or a failed handshake defers (4.7.4).
	TLSEncrypt
	// TLSVerify: as encrypt, and the certificate must chain to a trusted
	// root and carry the MX host name (Postfix's smtp_tls_verify_cert_match
	// = hostname). The MX name comes from DNS, so without DNSSEC this
	// trusts the MX lookup.
	TLSVerify
	// TLSSecure: as verify, but the name must be the next-hop domain or
	// a subdomain of it (Postfix's smtp_tls_secure_cert_match =
	// nexthop, dot-nexthop), which a forged MX answer cannot satisfy.
	TLSSecure
	// TLSDane: opportunistic DANE (RFC 7672). Where the MX lookup, the
	// host's addresses and its TLSA records are DNSSEC validated, the
	// certificate must match a usable TLSA record (DANE-TA or DANE-EE);
	// TLSA records that are all unusable give encrypt; no secure TLSA
	// records give may.
	TLSDane
	// TLSDaneOnly: mandatory DANE: a host without usable TLSA records is
	// not delivered to.
	TLSDaneOnly
)

var tlsNames = map[TLSPolicy]string{
	TLSUnset: "", TLSNone: "none", TLSMay: "may", TLSEncrypt: "encrypt",
	TLSVerify: "verify", TLSSecure: "secure", TLSDane: "dane", TLSDaneOnly: "dane-only",
}

// String gives the Postfix level name ("" for TLSUnset).
func (p TLSPolicy) String() string {
	if s, ok := tlsNames[p]; ok {
		return s
	}
	return fmt.Sprintf("TLSPolicy(%d)", int(p))
}

// ParseTLSPolicy reads a Postfix level name: none, may, encrypt,
// verify, secure, dane or dane-only. "" is TLSUnset.
func ParseTLSPolicy(s string) (TLSPolicy, error) {
	for p, name := range tlsNames {
		if strings.EqualFold(s, name) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("TLS security level %q: want none, may, encrypt, verify, secure, dane or dane-only", s)
}

// TLSLevels lists the level names, for configuration checks.
var TLSLevels = []string{"none", "may", "encrypt", "verify", "secure", "dane", "dane-only"}

// required reports whether the level never sends in plaintext.
func (p TLSPolicy) required() bool { return p >= TLSEncrypt }

// checksName reports whether the level verifies the certificate chain
// and name against the roots (DANE levels do so only per TLSA record).
func (p TLSPolicy) checksName() bool { return p == TLSVerify || p == TLSSecure }

// isDane reports the DANE levels.
func (p TLSPolicy) isDane() bool { return p == TLSDane || p == TLSDaneOnly }
