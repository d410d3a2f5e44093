package app

import (
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/queue"
)

func TestRenderTopRatesAndRows(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	prev := &topSnapshot{at: t0, status: control.Status{Counters: map[string]int{"received": 10, "delivered": 4},
		Sites: []control.Outcomes{{Name: "gmail.com", Sent: 100}, {Name: "quiet.example", Sent: 5}}}}
	cur := &topSnapshot{at: t0.Add(2 * time.Second),
		status: control.Status{PID: 42, Uptime: "1m0s", Scripts: true, Generation: 3,
			Counters: map[string]int{"received": 30, "delivered": 14, "deferred": 1, "in_flight": 5},
			Sites:    []control.Outcomes{{Name: "gmail.com", Sent: 120, Deferred: 2}, {Name: "quiet.example", Sent: 5}},
			Tenants:  []control.Outcomes{{Name: "acme", Sent: 8, Bounced: 2}}},
		stats: admin.Stats{States: map[queue.State]admin.Count{"deferred": {Messages: 7, Bytes: 2048}, "active": {Messages: 2}},
			TopDeferred: []admin.DomainCount{{Domain: "slow.example", Messages: 6, Recipients: 9}}}}
	frame := renderTop(prev, cur, 0)
	for _, want := range []string{"pid 42", "scripts generation 3", "10.0        5.0        0.5",
		"deliveries in flight: 5", "deferred            7          2", "slow.example", "21:00:02",
		"gmail.com                            10.0        1.0        0.0", "acme                                  4.0        0.0        1.0"} {
		if !strings.Contains(frame, want) {
			t.Errorf("frame lacks %q:\n%s", want, frame)
		}
	}
	if strings.Contains(frame, "quiet.example") {
		t.Errorf("a site without outcomes between the polls is shown:\n%s", frame)
	}
	for _, l := range strings.Split(renderTop(prev, cur, 20), "\n") {
		if len(l) > 20 {
			t.Errorf("line over the width: %q", l)
		}
	}
}
