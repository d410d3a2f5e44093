package config

import (
	"fmt"
	"net/netip"
)

// validateStress checks the [smtpd] stress and anvil keys.
func (c *Config) validateStress(p *problems) {
	s := &c.SMTPD
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"smtpd.stress_idle_timeout", s.StressIdleTimeout}, {"smtpd.stress_session_timeout", s.StressSessionTimeout},
		{"smtpd.anvil_rate_time_unit", s.RateTimeUnit},
	} {
		if d.v <= 0 {
			p.bad(d.key, "must be positive")
		}
	}
	if s.ConnRateLimit < 0 {
		p.bad("smtpd.client_connection_rate_limit", "must be 0 (off) or positive, got %d", s.ConnRateLimit)
	}
	if s.AuthFailRateLimit < 0 {
		p.bad("smtpd.client_auth_failure_rate_limit", "must be 0 (off) or positive, got %d", s.AuthFailRateLimit)
	}
	for i, n := range s.LimitExceptions {
		if _, err := ParsePrefix(n); err != nil {
			p.bad(fmt.Sprintf("smtpd.client_event_limit_exceptions[%d]", i), "%v", err)
		}
	}
}

// LimitExceptions returns client_event_limit_exceptions as prefixes: nil
// when the key is unset (smtpd then spares mynetworks), an empty slice
// when it is set to [] (nobody is spared).
func (c *Config) LimitExceptions() []netip.Prefix {
	if c.SMTPD.LimitExceptions == nil {
		return nil
	}
	out := []netip.Prefix{}
	for _, n := range c.SMTPD.LimitExceptions {
		if p, err := ParsePrefix(n); err == nil {
			out = append(out, p)
		}
	}
	return out
}
