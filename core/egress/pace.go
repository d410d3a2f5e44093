package egress

import "time"

// Pacer spreads events evenly at a rate, as Postfix's
// default_destination_rate_delay spaces deliveries: one event every
// period/N. It allows one interval of slack, so that a start the timer
// woke late for is made up by the next one instead of lost, and the
// long-run count stays exact: at most N×t/period + 2 events in any t.
// The zero Pacer with a zero Rate never waits.
type Pacer struct {
	tat time.Time // theoretical arrival time of the next event
}

// Wait reports how long until an event at rate r may start at now (0:
// now).
func (p *Pacer) Wait(r Rate, now time.Time) time.Duration {
	if r.N == 0 {
		return 0
	}
	allowAt := p.tat.Add(-interval(r))
	if now.Before(allowAt) {
		return allowAt.Sub(now)
	}
	return 0
}

// Take counts one event started at now.
func (p *Pacer) Take(r Rate, now time.Time) {
	if r.N == 0 {
		return
	}
	if p.tat.Before(now) {
		p.tat = now
	}
	p.tat = p.tat.Add(interval(r))
}

func interval(r Rate) time.Duration { return r.Per / time.Duration(r.N) }
