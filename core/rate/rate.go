// Package rate is the one spelling of an event rate in moonpost's
// configuration and scripts: "N/s", "N/min" or "N/h".
package rate

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

// maxN bounds N, so Per/N stays a meaningful interval.
const maxN = 1_000_000_000

var units = map[string]time.Duration{"s": time.Second, "min": time.Minute, "h": time.Hour}

// Parse reads "N/s", "N/min" or "N/h", N a positive integer.
func Parse(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	per, known := units[unit]
	if !ok || !known {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/min or N/h", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > maxN || num[0] == '+' {
		return Rate{}, fmt.Errorf("rate %q: N must be a whole number from 1 to %d", s, maxN)
	}
	return Rate{N: n, Per: per}, nil
}

// String is the rate in the form Parse reads.
func (r Rate) String() string {
	for u, d := range units {
		if d == r.Per {
			return fmt.Sprintf("%d/%s", r.N, u)
		}
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// Interval is the emission interval Per/N: the time one event costs.
func (r Rate) Interval() time.Duration {
	return r.Per / time.Duration(r.N)
}
