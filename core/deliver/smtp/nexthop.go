package smtp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultPort is where mail exchangers listen.
const DefaultPort = 25

// Nexthop is a parsed destination in Postfix transport-map syntax.
type Nexthop struct {
	// Host is a domain (lower case, no trailing dot), a host name, or an
	// IP address literal without brackets.
	Host string
	Port int // 1..65535; DefaultPort when the next hop named none
	// NoMX is set for the bracketed form: connect to Host's addresses
	// directly instead of looking up its MX records.
	NoMX bool
	// PortGiven is set when the next hop named its port; only then does
	// it win over the agent's default port.
	PortGiven bool
}

// String gives the canonical spelling: "example.com:25",
// "[mx.example.com]:587", "[ipv6:2001:db8::1]:25". It is also the key of
// the connection cache.
func (n Nexthop) String() string {
	host := n.Host
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() {
		host = "ipv6:" + host
	}
	if n.NoMX {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(n.Port)
}

// ParseNexthop reads "example.com", "example.com:2525",
// "[mx.example.com]", "[mx.example.com]:587", "[192.0.2.1]:25" or
// "[ipv6:2001:db8::1]:25". IP literals must be bracketed, as in Postfix,
// and IPv6 ones carry the "ipv6:" tag of RFC 5321 address literals.
func ParseNexthop(s string) (Nexthop, error) {
	var n Nexthop
	rest := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return n, fmt.Errorf("next hop %q: missing ']'", s)
		}
		n.NoMX = true
		n.Host, rest = s[1:end], s[end+1:]
		if err := parseBracketed(&n); err != nil {
			return n, fmt.Errorf("next hop %q: %w", s, err)
		}
	} else {
		host, port, hasPort := strings.Cut(s, ":")
		n.Host, rest = host, ""
		if hasPort {
			rest = ":" + port
		}
		if _, err := netip.ParseAddr(n.Host); err == nil {
			return n, fmt.Errorf("next hop %q: an IP address must be in brackets", s)
		}
		if err := checkHostname(n.Host); err != nil {
			return n, fmt.Errorf("next hop %q: %w", s, err)
		}
	}
	port, err := parsePort(rest)
	if err != nil {
		return n, fmt.Errorf("next hop %q: %w", s, err)
	}
	n.Port, n.PortGiven = port, rest != ""
	n.Host = strings.ToLower(strings.TrimSuffix(n.Host, "."))
	return n, nil
}

// parseBracketed validates the inside of [...]: a tagged IPv6 literal,
// an IPv4 literal or a host name.
func parseBracketed(n *Nexthop) error {
	if len(n.Host) >= 5 && strings.EqualFold(n.Host[:5], "ipv6:") {
		ip, err := netip.ParseAddr(n.Host[5:])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return errors.New("bad IPv6 address literal")
		}
		n.Host = ip.String()
		return nil
	}
	if ip, err := netip.ParseAddr(n.Host); err == nil {
		if !ip.Is4() {
			return errors.New(`IPv6 literals need the "ipv6:" tag`)
		}
		n.Host = ip.String()
		return nil
	}
	return checkHostname(n.Host)
}

// parsePort reads "" (the default) or ":N".
func parsePort(s string) (int, error) {
	if s == "" {
		return DefaultPort, nil
	}
	if s[0] != ':' {
		return 0, errors.New("junk after host")
	}
	p := s[1:]
	if p == "" || len(p) > 5 || strings.TrimLeft(p, "0123456789") != "" {
		return 0, errors.New("bad port")
	}
	port, _ := strconv.Atoi(p)
	if port < 1 || port > 65535 {
		return 0, errors.New("port out of range")
	}
	return port, nil
}

// checkHostname accepts what can become a DNS name: ASCII letters,
// digits, '-', '_' and '.', plus any non-ASCII (IDNA is the resolver's
// job), with no empty label.
func checkHostname(h string) error {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return errors.New("bad host name length")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("empty or overlong label in host name")
		}
	}
	for _, r := range h {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r >= 0x80 && r != 0xFFFD
		if !ok {
			return fmt.Errorf("bad character %q in host name", r)
		}
	}
	return nil
}
