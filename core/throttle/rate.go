package throttle

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N events per Per.
type Rate struct {
	N   int64
	Per time.Duration
}

// maxRateN bounds N, so Per/N stays a meaningful interval.
const maxRateN = 1_000_000_000

var units = map[string]time.Duration{"s": time.Second, "min": time.Minute, "h": time.Hour}

// ParseRate reads "N/s", "N/min" or "N/h", N a positive integer.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	per, known := units[unit]
	if !ok || !known {
		return Rate{}, fmt.Errorf("throttle: rate %q: want N/s, N/min or N/h", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > maxRateN || num[0] == '+' {
		return Rate{}, fmt.Errorf("throttle: rate %q: N must be a whole number from 1 to %d", s, maxRateN)
	}
	return Rate{N: n, Per: per}, nil
}

// String is the rate in the form ParseRate reads.
func (r Rate) String() string {
	for u, d := range units {
		if d == r.Per {
			return fmt.Sprintf("%d/%s", r.N, u)
		}
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// interval is the emission interval Per/N: the time one event costs.
func (r Rate) interval() time.Duration {
	return r.Per / time.Duration(r.N)
}

// gcra decides one event at now for a key whose theoretical arrival
// time is tat (zero for a new key). It returns the key's new TAT when
// allowed, or how long to wait otherwise. The tolerance is Per minus one
// interval, so a full bucket lets N events through at once.
func gcra(tat, now time.Time, r Rate) (newTAT time.Time, allowed bool, retry time.Duration) {
	if tat.Before(now) {
		tat = now
	}
	newTAT = tat.Add(r.interval())
	allowAt := newTAT.Add(-r.Per)
	if now.Before(allowAt) {
		return tat, false, allowAt.Sub(now)
	}
	return newTAT, true, 0
}
