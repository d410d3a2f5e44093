package egress

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N events per Per ("10/s", "100/min", "1000/h"). The zero Rate
// is no limit. It is the throttle module's notation; this package keeps
// its own parser so that the configuration can check rules with it.
type Rate struct {
	N   int64
	Per time.Duration
}

var rateUnits = map[string]time.Duration{"s": time.Second, "min": time.Minute, "h": time.Hour}

// maxRateN bounds N: a million a second is past any real destination.
const maxRateN = 1_000_000

// ParseRate reads "N/s", "N/min" or "N/h", N a whole number from 1.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	per, known := rateUnits[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || !known || err != nil || n <= 0 || n > maxRateN || num[0] == '+' {
		return Rate{}, fmt.Errorf(`rate %q: want N/s, N/min or N/h, N from 1 to %d`, s, maxRateN)
	}
	return Rate{N: n, Per: per}, nil
}

// String is the rate as ParseRate reads it.
func (r Rate) String() string {
	for u, d := range rateUnits {
		if d == r.Per {
			return fmt.Sprintf("%d/%s", r.N, u)
		}
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}
