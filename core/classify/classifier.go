package classify

import (
	"sync/atomic"

	"github.com/moonpost/moonpost/core/dsn"
)

// Classifier holds the rules in effect. A reload builds new Rules, and
// only once they parsed swaps them in with Set; a classification in
// progress keeps the rules it started with. The zero Classifier (and a
// nil one) classifies with Default. Safe for concurrent use.
type Classifier struct {
	rules atomic.Pointer[Rules]
}

// New returns a Classifier using rs (nil: Default).
func New(rs *Rules) *Classifier {
	c := &Classifier{}
	c.Set(rs)
	return c
}

// Set makes rs the rules in effect (nil: Default).
func (c *Classifier) Set(rs *Rules) {
	if rs == nil {
		rs = Default()
	}
	c.rules.Store(rs)
}

// Rules returns the rules in effect.
func (c *Classifier) Rules() *Rules {
	if c == nil {
		return Default()
	}
	if rs := c.rules.Load(); rs != nil {
		return rs
	}
	return Default()
}

// Classify classifies st with the rules in effect (see Rules.Classify).
func (c *Classifier) Classify(st *dsn.Status) Class { return c.Rules().Classify(st) }
