package smtpd

import (
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Address is an envelope address split at its authoritative domain.
type Address struct {
	Local  string // local part, unquoted ("a b" for "\"a b\"@x")
	Domain string // lower case, A-label form, no trailing dot; "[1.2.3.4]" for literals
}

// String returns the canonical form: the local part quoted when it is not
// a dot-atom, so later stages never re-read a quoted '@' or '%' as routing.
func (a Address) String() string {
	if a.Local == "" && a.Domain == "" {
		return ""
	}
	return quoteLocal(a.Local) + "@" + a.Domain
}

// IsLiteral reports an address literal domain such as [192.0.2.1].
func (a Address) IsLiteral() bool { return strings.HasPrefix(a.Domain, "[") }

var errAddr = errors.New("bad address syntax")

// idnaProfile converts U-labels to A-labels for comparison against the
// configured domains; Lookup is the profile meant for resolving names.
var idnaProfile = idna.Lookup

// ParseAddress parses a mailbox as go-smtp hands it over: angle brackets
// and any RFC 5321 source route already stripped, a quoted local part
// already unquoted. The domain is everything after the last '@' — since
// the local part was unquoted, a quoted "a@b" leaves its '@' before the
// domain — and it is the only thing relay control looks at. Source routes
// and bang paths are not interpreted: "@a,@b:u@d" is rejected here and
// "a!b@d" or "a%b@d" are plain local parts of domain d.
//
// utf8OK allows UTF-8 (RFC 6531 SMTPUTF8 was given on MAIL).
func ParseAddress(s string, utf8OK bool) (Address, error) {
	if len(s) > 512 || !utf8.ValidString(s) {
		return Address{}, errAddr
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return Address{}, errAddr
	}
	local, domain := s[:at], s[at+1:]
	if err := checkLocal(local, utf8OK); err != nil {
		return Address{}, err
	}
	d, err := normDomain(domain, utf8OK)
	if err != nil {
		return Address{}, err
	}
	return Address{Local: local, Domain: d}, nil
}

// checkLocal accepts any printable local part up to 64 octets (RFC 5321
// 4.5.3.1.1); what is not a dot-atom is quoted by String. A leading '@'
// is a source route that reached us undigested: refuse it.
func checkLocal(local string, utf8OK bool) error {
	if len(local) > 64 || strings.HasPrefix(local, "@") {
		return errAddr
	}
	for _, r := range local {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && !utf8OK) {
			return errAddr
		}
	}
	return nil
}

// normDomain returns the comparable form of a domain or address literal.
func normDomain(d string, utf8OK bool) (string, error) {
	if strings.HasPrefix(d, "[") {
		return normLiteral(d)
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return "", errAddr
	}
	ascii := true
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			ascii = false
		}
	}
	if !ascii {
		if !utf8OK {
			return "", errAddr
		}
		a, err := idnaProfile.ToASCII(d)
		if err != nil {
			return "", errAddr
		}
		d = a
	}
	d = strings.ToLower(d)
	if !validHostname(d) {
		return "", errAddr
	}
	return d, nil
}

// validHostname checks RFC 1035 labels: letters, digits, inner hyphens.
func validHostname(d string) bool {
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// normLiteral accepts [IPv4] and [IPv6:addr], and prints them canonically
// so "[IPv6:0::1]" and "[IPv6:::1]" compare equal.
func normLiteral(d string) (string, error) {
	if !strings.HasSuffix(d, "]") {
		return "", errAddr
	}
	inner := d[1 : len(d)-1]
	if v6, ok := cutPrefixFold(inner, "IPv6:"); ok {
		ip, err := netip.ParseAddr(v6)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", errAddr
		}
		return "[IPv6:" + ip.String() + "]", nil
	}
	ip, err := netip.ParseAddr(inner)
	if err != nil || !ip.Is4() {
		return "", errAddr
	}
	return "[" + ip.String() + "]", nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// quoteLocal quotes a local part that is not an RFC 5321 dot-string.
func quoteLocal(l string) string {
	if isDotString(l) {
		return l
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range l {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func isDotString(l string) bool {
	if l == "" || l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return false
	}
	for _, r := range l {
		if r < 0x80 && !isAtext(byte(r)) && r != '.' {
			return false
		}
	}
	return true
}

// isAtext is RFC 5322 atext for ASCII.
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
