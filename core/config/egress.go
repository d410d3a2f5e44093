package config

import (
	"fmt"

	"github.com/moonpost/moonpost/core/egress"
)

// Egress is the [egress] table. The shaping of each destination comes
// from the Lua "egress" hook; the configuration holds the response
// rules, which act on what receivers reply.
type Egress struct {
	// rule: [[egress.rule]] tables, checked in order against each reply
	// of a remote server; the first that matches acts.
	Rules []EgressRule `toml:"rule"`
	// compiled is Rules checked, filled by validateEgress.
	compiled egress.Rules
}

// EgressRule is one [[egress.rule]].
type EgressRule struct {
	// pattern: an RE2 regular expression matched against the reply as
	// "CODE X.Y.Z text", e.g. "^421 4\\.7\\.0 .*rate limited".
	Pattern string `toml:"pattern"`
	// action: "suspend" (defer the mail without trying) or "rate" (cut
	// the message rate to rate).
	Action string `toml:"action"`
	// for: how long the action lasts, e.g. "1h".
	For string `toml:"for"`
	// rate: the lower message rate for action "rate", e.g. "10/min".
	Rate string `toml:"rate"`
	// scope: "site" (default: the destination's site, or the destination
	// itself when it has none) or "destination" (the next hop that
	// replied; suspend only).
	Scope string `toml:"scope"`
}

// EgressRules returns the compiled response rules.
func (c *Config) EgressRules() egress.Rules { return c.Egress.compiled }

func (c *Config) validateEgress(p *problems) {
	c.Egress.compiled = nil
	for i, r := range c.Egress.Rules {
		rule, err := egress.Compile(egress.RuleSpec{Pattern: r.Pattern, Action: r.Action, For: r.For, Rate: r.Rate, Scope: r.Scope}, ParseDuration)
		if err != nil {
			p.bad(fmt.Sprintf("egress.rule[%d]", i), "%v", err)
			continue
		}
		c.Egress.compiled = append(c.Egress.compiled, rule)
	}
}
