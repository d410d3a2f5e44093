package config

import (
	"fmt"
	"strings"

	"github.com/moonpost/moonpost/core/auth"
)

// DKIM configures signing ([dkim] and its [[dkim.sign]] tables).
type DKIM struct {
	// sign: the keys. Mail originating here (authenticated submission,
	// local submission, clients in mynetworks) whose From domain has an
	// entry is signed with each of that domain's entries.
	Sign []DKIMSign `toml:"sign"`
	// headers: the header fields to sign when present; default
	// auth.DefaultHeaders. From is always signed, and oversigned.
	Headers []string `toml:"headers"`
	// arc_domain, arc_selector: the [[dkim.sign]] key that seals mail
	// forwarded by an alias to a remote address with an ARC set; "" (the
	// default) seals nothing.
	ARCDomain   string `toml:"arc_domain"`
	ARCSelector string `toml:"arc_selector"`
}

// DKIMSign is one [[dkim.sign]] table: domain (the From domain and d=, or
// "*" for every domain with a key file KEY_DIR/<domain>/<selector>.pem),
// selector, key (a PEM file) and key_dir. core/auth owns the type.
type DKIMSign = auth.KeySpec

// Auth configures inbound authentication ([auth]).
type Auth struct {
	// verify: check SPF, DKIM and DMARC of mail that does not originate
	// here and add an Authentication-Results header. Default true.
	Verify bool `toml:"verify"`
	// authserv_id: the name in our Authentication-Results headers;
	// default myhostname.
	AuthservID string `toml:"authserv_id"`
	// max_signatures: DKIM signatures verified per message; default 5.
	MaxSignatures int `toml:"max_signatures"`
	// max_lookups: DNS questions per message for DKIM keys and DMARC
	// (SPF keeps its own RFC 7208 limit of 10); default 20.
	MaxLookups int `toml:"max_lookups"`
	// timeout: all authentication lookups of one message; default 15s.
	Timeout Duration `toml:"timeout"`
}

func (c *Config) finishAuth() {
	if c.Auth.AuthservID == "" {
		c.Auth.AuthservID = c.Hostname
	}
	for i, s := range c.DKIM.Sign {
		c.DKIM.Sign[i].Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s.Domain), "."))
	}
}

func (c *Config) validateAuth(p *problems) {
	for i, s := range c.DKIM.Sign {
		key := fmt.Sprintf("dkim.sign[%d]", i)
		if s.Domain == "" || strings.ContainsAny(s.Domain, " \t/@") {
			p.bad(key+".domain", "%q is not a domain", s.Domain)
		}
		if s.Selector == "" || strings.ContainsAny(s.Selector, " \t/@;") {
			p.bad(key+".selector", "%q is not a selector", s.Selector)
		}
		switch {
		case s.Domain == "*" && (s.KeyDir == "" || s.Key != ""):
			p.bad(key+".key_dir", "domain \"*\" takes key_dir (KEY_DIR/<domain>/<selector>.pem), not key")
		case s.Domain != "*" && (s.Key == "" || s.KeyDir != ""):
			p.bad(key+".key", "domain %q takes a key file, not key_dir", s.Domain)
		}
	}
	if (c.DKIM.ARCDomain == "") != (c.DKIM.ARCSelector == "") {
		p.bad("dkim.arc_domain", "arc_domain and arc_selector go together")
	}
	if c.Auth.MaxSignatures <= 0 || c.Auth.MaxLookups <= 0 || c.Auth.Timeout <= 0 {
		p.bad("auth", "max_signatures, max_lookups and timeout must be positive")
	}
}
