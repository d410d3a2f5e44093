package app

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moonpost/moonpost/core/control"
)

// topBusiest is how many sites and tenants moonpost top shows.
const topBusiest = 5

// writeBusiest writes the sites or tenants with the most recipient
// outcomes per second between two polls, busiest first.
func writeBusiest(b *strings.Builder, title string, prev, cur []control.Outcomes, secs float64) {
	fmt.Fprintf(b, "\n%-32s %10s %10s %10s\n", title+" (per second)", "sent", "deferred", "bounced")
	before := map[string]control.Outcomes{}
	for _, o := range prev {
		before[o.Name] = o
	}
	type row struct {
		name                    string
		sent, deferred, bounced float64
	}
	var rows []row
	for _, o := range cur {
		p := before[o.Name]
		r := row{o.Name, perSecond(o.Sent, p.Sent, secs), perSecond(o.Deferred, p.Deferred, secs), perSecond(o.Bounced, p.Bounced, secs)}
		if r.sent+r.deferred+r.bounced > 0 {
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, c := rows[i].sent+rows[i].deferred+rows[i].bounced, rows[j].sent+rows[j].deferred+rows[j].bounced
		return a > c || a == c && rows[i].name < rows[j].name
	})
	if len(rows) == 0 {
		b.WriteString("  (none)\n")
	}
	for i, r := range rows {
		if i == topBusiest {
			break
		}
		name := r.name
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(b, "  %-30s %10.1f %10.1f %10.1f\n", name, r.sent, r.deferred, r.bounced)
	}
}

func perSecond(now, before uint64, secs float64) float64 {
	if secs <= 0 || now < before {
		return 0
	}
	return float64(now-before) / secs
}
