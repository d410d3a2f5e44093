package config

import (
	"strings"
	"time"
)

// TLSRPT configures SMTP TLS reporting (RFC 8460): counting the TLS
// sessions of the smtp client per recipient domain and sending each
// domain that publishes a _smtp._tls record a daily report.
type TLSRPT struct {
	// enabled: count sessions and send reports. Default false: reports
	// go to third parties, so an operator turns them on.
	Enabled bool `toml:"enabled"`
	// organization_name: the report's organization-name. Default
	// myhostname.
	OrganizationName string `toml:"organization_name"`
	// contact_info: the report's contact-info, an address or URL.
	// Default the postmaster address.
	ContactInfo string `toml:"contact_info"`
	// from: the reports' From and envelope sender; its domain is the
	// submitter. Default tlsrpt-noreply@myorigin.
	From string `toml:"from"`
	// interval: the reporting period, aligned to UTC (default 1d, as
	// the RFC asks; between 1s and 7d).
	Interval Duration `toml:"interval"`
}

// MTASTSEnabled reports smtp.mta_sts, true unless set false (as
// KumoMTA's enable_mta_sts, on by default: a policy only ever tightens
// delivery to domains that ask for it).
func (s SMTP) MTASTSEnabled() bool { return s.MTASTS == nil || *s.MTASTS }

func (c *Config) finishTLSRPT() {
	r := &c.TLSRPT
	if r.OrganizationName == "" {
		r.OrganizationName = c.Hostname
	}
	if r.ContactInfo == "" {
		r.ContactInfo = c.Postmaster
	}
	if r.From == "" {
		r.From = "tlsrpt-noreply@" + c.Origin
	}
	if r.Interval == 0 {
		r.Interval = Duration(24 * time.Hour)
	}
}

func (c *Config) validateTLSRPT(p *problems) {
	r := c.TLSRPT
	if at := strings.LastIndexByte(r.From, '@'); at <= 0 || at == len(r.From)-1 || strings.ContainsAny(r.From, " \t\r\n<>,;") {
		p.bad("tlsrpt.from", "%q is not a mail address", r.From)
	}
	if strings.ContainsAny(r.OrganizationName+r.ContactInfo, "\r\n") {
		p.bad("tlsrpt.organization_name", "organization_name and contact_info must be one line")
	}
	if d := r.Interval.D(); d < time.Second || d > 7*24*time.Hour {
		p.bad("tlsrpt.interval", "%s: want between 1s and 7d", d)
	}
}
