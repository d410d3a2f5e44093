package config

import (
	"fmt"
	"slices"

	"github.com/moonpost/moonpost/core/rate"
)

// RateLimit is one [[smtpd.rate_limit]] block.
type RateLimit struct {
	// Per names what is counted against: "client" (the IP address),
	// "sender" (the MAIL FROM address), "sender_domain", or
	// "sasl_username" (the authenticated user).
	Per string `toml:"per"`
	// Count is "messages" (MAIL commands) or "recipients" (RCPT).
	Count string `toml:"count"`
	// Rate is "N/s", "N/min" or "N/h".
	Rate string `toml:"rate"`
	// Local keeps the count in this node even when [redis] is set.
	Local bool `toml:"local"`
}

// RatePers and RateCounts are the accepted values of per and count.
var (
	RatePers   = []string{"client", "sender", "sender_domain", "sasl_username"}
	RateCounts = []string{"messages", "recipients"}
)

func (c *Config) validateRateLimits(p *problems) {
	for i, r := range c.SMTPD.RateLimits {
		key := fmt.Sprintf("smtpd.rate_limit[%d]", i)
		if !slices.Contains(RatePers, r.Per) {
			p.bad(key+".per", "must be one of %v, got %q", RatePers, r.Per)
		}
		if !slices.Contains(RateCounts, r.Count) {
			p.bad(key+".count", "must be one of %v, got %q", RateCounts, r.Count)
		}
		if _, err := rate.Parse(r.Rate); err != nil {
			p.bad(key+".rate", "%v", err)
		}
	}
}
