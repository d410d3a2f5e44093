package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Source is one [[smtp.source]]: a local address outbound mail may be
// sent from, with its EHLO name.
type Source struct {
	Name    string `toml:"name"`
	Address string `toml:"address"` // an IPv4 or IPv6 address of this host
	EHLO    string `toml:"ehlo"`    // default smtp.helo_name
}

// Pool is one [[smtp.pool]]: sources taken in turn, by weight.
type Pool struct {
	Name    string   `toml:"name"`
	Sources []string `toml:"sources"`
	Weights []int    `toml:"weights"` // optional, one per source
}

// tlsLevels are Postfix's smtp_tls_security_level values.
var tlsLevels = []string{"none", "may", "encrypt", "verify", "secure", "dane", "dane-only"}

// finishSMTPTLS settles the default TLS level: tls_security_level, else
// the older tls, else may.
func (c *Config) finishSMTPTLS() {
	if c.SMTP.TLSSecurityLevel == "" {
		c.SMTP.TLSSecurityLevel = c.SMTP.TLS
	}
	if c.SMTP.TLSSecurityLevel == "" {
		c.SMTP.TLSSecurityLevel = "may"
	}
	if c.SMTP.TLS == "" {
		c.SMTP.TLS = c.SMTP.TLSSecurityLevel
	}
	if c.SMTP.DNSSupportLevel == "" {
		c.SMTP.DNSSupportLevel = "enabled"
	}
}

func (c *Config) validateSMTPTLS(p *problems) {
	s := c.SMTP
	oneOf(p, "smtp.tls_security_level", s.TLSSecurityLevel, tlsLevels...)
	if s.TLS != s.TLSSecurityLevel {
		p.bad("smtp.tls", "%q contradicts smtp.tls_security_level %q; set only tls_security_level", s.TLS, s.TLSSecurityLevel)
	}
	oneOf(p, "smtp.lmtp_tls", s.LMTPTLS, "none", "may", "encrypt", "verify", "secure")
	oneOf(p, "smtp.dns_support_level", s.DNSSupportLevel, "enabled", "dnssec")
	if strings.HasPrefix(s.TLSSecurityLevel, "dane") && s.DNSSupportLevel != "dnssec" {
		p.bad("smtp.tls_security_level", "%q needs smtp.dns_support_level = \"dnssec\" (a validating resolver in dns.servers)", s.TLSSecurityLevel)
	}
	if s.ReuseCountLimit < 0 {
		p.bad("smtp.connection_reuse_count_limit", "must not be negative")
	}
	names := map[string]bool{}
	for i, src := range s.Sources {
		key := fmt.Sprintf("smtp.source[%d]", i)
		if src.Name == "" || names[src.Name] {
			p.bad(key+".name", "needs a unique name, got %q", src.Name)
		}
		names[src.Name] = true
		if ip, err := netip.ParseAddr(src.Address); err != nil || ip.Zone() != "" {
			p.bad(key+".address", "%q is not an IP address", src.Address)
		}
		if strings.ContainsAny(src.EHLO, " \t\r\n/@[]") {
			p.bad(key+".ehlo", "%q is not a host name", src.EHLO)
		}
	}
	for i, pl := range s.Pools {
		c.validatePool(p, fmt.Sprintf("smtp.pool[%d]", i), pl, names)
	}
}

func (c *Config) validatePool(p *problems, key string, pl Pool, names map[string]bool) {
	if pl.Name == "" || names[pl.Name] {
		p.bad(key+".name", "needs a name no other source or pool has, got %q", pl.Name)
	}
	if len(pl.Sources) == 0 {
		p.bad(key+".sources", "is empty")
	}
	for _, m := range pl.Sources {
		if !c.isSource(m) {
			p.bad(key+".sources", "%q is not a [[smtp.source]] name", m)
		}
	}
	if pl.Weights != nil && len(pl.Weights) != len(pl.Sources) {
		p.bad(key+".weights", "has %d weights for %d sources", len(pl.Weights), len(pl.Sources))
	}
	for _, w := range pl.Weights {
		if w < 1 || w > 1000 {
			p.bad(key+".weights", "%d: want 1 to 1000", w)
		}
	}
	names[pl.Name] = true
}

func (c *Config) isSource(name string) bool {
	for _, s := range c.SMTP.Sources {
		if s.Name == name {
			return true
		}
	}
	return false
}
