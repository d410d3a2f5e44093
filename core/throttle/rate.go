package throttle

import (
	"fmt"
	"time"

	"github.com/moonpost/moonpost/core/rate"
)

// Rate is N events per Per (see package rate).
type Rate = rate.Rate

// ParseRate reads "N/s", "N/min" or "N/h", N a positive integer.
func ParseRate(s string) (Rate, error) {
	r, err := rate.Parse(s)
	if err != nil {
		return Rate{}, fmt.Errorf("throttle: %w", err)
	}
	return r, nil
}

// gcra decides one event at now for a key whose theoretical arrival
// time is tat (zero for a new key). It returns the key's new TAT when
// allowed, or how long to wait otherwise. The tolerance is Per minus one
// interval, so a full bucket lets N events through at once.
func gcra(tat, now time.Time, r Rate) (newTAT time.Time, allowed bool, retry time.Duration) {
	if tat.Before(now) {
		tat = now
	}
	newTAT = tat.Add(r.Interval())
	allowAt := newTAT.Add(-r.Per)
	if now.Before(allowAt) {
		return tat, false, allowAt.Sub(now)
	}
	return newTAT, true, 0
}
