package egress

import "time"

// Pacer spreads events evenly at a rate, as Postfix's
// default_destination_rate_delay spaces deliveries: one event every
// period/N, the first at once. A start that the caller made late (its
// timer fired after the due time) keeps the schedule when it is late by
// less than one interval, so late wake-ups do not lower the long-run
// rate; there are never two starts for one interval. In any span t at
// most N×t/period + 1 events start.
// The zero Pacer with a zero Rate never waits.
type Pacer struct {
	next time.Time // when the next event may start
}

// Wait reports how long until an event at rate r may start at now (0:
// now).
func (p *Pacer) Wait(r Rate, now time.Time) time.Duration {
	if r.N == 0 || !now.Before(p.next) {
		return 0
	}
	return p.next.Sub(now)
}

// Take counts one event started at now.
func (p *Pacer) Take(r Rate, now time.Time) {
	if r.N == 0 {
		return
	}
	iv := r.Interval()
	if !p.next.IsZero() && !now.Before(p.next) && now.Sub(p.next) < iv {
		p.next = p.next.Add(iv) // late by less than an interval: on schedule
		return
	}
	p.next = now.Add(iv)
}
