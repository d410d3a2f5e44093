package config

import "github.com/moonpost/moonpost/core/classify"

// Bounce configures bounce classification: the rules that give each
// failed or deferred delivery its class (core/classify, docs/bounces.md).
type Bounce struct {
	// classifier_rules: a rules file of "CLASS PATTERN" lines, tried
	// before the shipped rules; default "": the shipped rules alone.
	// Read at start and at each reload; a line that does not parse
	// refuses the configuration, naming the file and the line.
	ClassifierRules string `toml:"classifier_rules"`
	// classifier_defaults: whether the shipped rules follow the file's;
	// default true. false needs classifier_rules.
	ClassifierDefaults bool `toml:"classifier_defaults"`
}

// BounceRules loads the classification rules the configuration names.
func (c *Config) BounceRules() (*classify.Rules, error) {
	return classify.Load(c.Bounce.ClassifierRules, c.Bounce.ClassifierDefaults)
}

func (c *Config) validateBounce(p *problems) {
	if !c.Bounce.ClassifierDefaults && c.Bounce.ClassifierRules == "" {
		p.bad("bounce.classifier_defaults", "false needs bounce.classifier_rules: no rules would remain")
		return
	}
	if _, err := c.BounceRules(); err != nil {
		p.bad("bounce.classifier_rules", "%v", err)
	}
}
