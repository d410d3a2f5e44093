package egress

import (
	"fmt"
	"regexp"
	"time"
)

// Action is what a response rule does when a reply matches.
type Action string

const (
	Suspend Action = "suspend" // defer the scope's mail without trying, for For
	Slow    Action = "rate"    // cut the scope's message rate to Rate, for For
)

// Scope says what a rule acts on.
type Scope string

const (
	ScopeSite        Scope = "site"        // the site (the destination when it has none)
	ScopeDestination Scope = "destination" // the one next hop that replied
)

// Rule is one response rule, checked against each reply of a delivery
// ("421 4.7.0 text").
type Rule struct {
	Pattern *regexp.Regexp
	Action  Action
	For     time.Duration
	Rate    Rate // Slow only
	Scope   Scope
}

// RuleSpec is a rule as configured, before it is checked.
type RuleSpec struct {
	Pattern, Action, For, Rate, Scope string
}

// Compile checks a configured rule: an RE2 pattern, a known action and
// scope, a positive duration, and a rate for "rate" (which acts on the
// site only).
func Compile(s RuleSpec, parseDur func(string) (time.Duration, error)) (Rule, error) {
	re, err := regexp.Compile(s.Pattern)
	if err != nil {
		return Rule{}, fmt.Errorf("pattern: %w", err)
	}
	if s.Pattern == "" {
		return Rule{}, fmt.Errorf("pattern: empty (it would match every reply)")
	}
	r := Rule{Pattern: re, Action: Action(s.Action), Scope: Scope(s.Scope)}
	if r.Scope == "" {
		r.Scope = ScopeSite
	}
	if r.Scope != ScopeSite && r.Scope != ScopeDestination {
		return Rule{}, fmt.Errorf("scope: want site or destination, not %q", s.Scope)
	}
	if r.For, err = parseDur(s.For); err != nil || r.For <= 0 {
		return Rule{}, fmt.Errorf("for: want a positive duration such as \"1h\", not %q", s.For)
	}
	switch r.Action {
	case Suspend:
		if s.Rate != "" {
			return Rule{}, fmt.Errorf("rate: only for action \"rate\"")
		}
	case Slow:
		if r.Scope != ScopeSite {
			return Rule{}, fmt.Errorf("scope: a rate cut acts on the site's limits; want scope \"site\"")
		}
		if r.Rate, err = rateOf(s.Rate); err != nil {
			return Rule{}, fmt.Errorf("rate: %w", err)
		}
	default:
		return Rule{}, fmt.Errorf("action: want suspend or rate, not %q", s.Action)
	}
	return r, nil
}

// Rules are checked in order; the first rule that matches a reply acts.
type Rules []Rule

// Match returns the first rule matching reply, or nil.
func (rs Rules) Match(reply string) *Rule {
	for i := range rs {
		if rs[i].Pattern.MatchString(reply) {
			return &rs[i]
		}
	}
	return nil
}
