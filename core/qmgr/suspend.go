package qmgr

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/egress"
)

// Suspensions: while one is in force for a site, a domain or a
// destination queue, the mail of the destinations it covers is deferred
// at once, without trying, like a destination declared dead. They come
// from response rules (egress.Rules) and from operators (queue suspend);
// they end at their time or by Resume, and live in memory only: a
// restart forgets them, as Postfix forgets dead destinations.

// Suspension is one suspension. Exactly one of Site, Domain and
// Destination is set.
type Suspension struct {
	Site        string    `json:"site,omitempty"`
	Domain      string    `json:"domain,omitempty"`
	Destination string    `json:"destination,omitempty"` // a queue's key, from a rule of scope "destination"
	Until       time.Time `json:"until"`
	Reason      string    `json:"reason,omitempty"`
	By          string    `json:"by"` // "operator" or "rule PATTERN"
}

func (s Suspension) key() string {
	switch {
	case s.Site != "":
		return "site:" + s.Site
	case s.Domain != "":
		return "domain:" + s.Domain
	}
	return "destination:" + s.Destination
}

// suspend records s, in the manager's goroutine. It is logged when it
// starts one: the replies of a site's other deliveries in flight that
// match the same rule only extend it.
func (m *Manager) suspend(s Suspension) {
	prev, held := m.suspends[s.key()]
	m.suspends[s.key()] = s
	if held && m.Clock.Now().Before(prev.Until) && s.By == prev.By {
		return
	}
	m.Log.Warn("qmgr: delivery suspended", "site", s.Site, "domain", s.Domain, "destination", s.Destination,
		"until", s.Until.Format(time.RFC3339), "by", s.By, "reason", s.Reason)
}

// suspendedFor returns the status to defer d's mail with while a
// suspension covers it, or nil.
func (m *Manager) suspendedFor(d *destination, now time.Time) *dsn.Status {
	if len(m.suspends) == 0 {
		return nil
	}
	for _, c := range d.covers() {
		k := c[0] + ":" + c[1]
		s, ok := m.suspends[k]
		if !ok {
			continue
		}
		if !now.Before(s.Until) {
			delete(m.suspends, k)
			continue
		}
		name := c[1]
		if c[0] == "destination" {
			name = d.transport + ":" + d.nexthop
		}
		return dsn.New(451, "4.7.0", fmt.Sprintf("delivery suspended for %s %s until %s", c[0], name,
			s.Until.UTC().Format(time.RFC3339)))
	}
	return nil
}

// covers names what a suspension of d may be keyed by: its site, its
// domain, itself.
func (d *destination) covers() [3][2]string {
	return [3][2]string{{"site", d.site()}, {"domain", d.domain}, {"destination", d.key}}
}

// onLoop runs f in the manager's goroutine and waits for it.
func (m *Manager) onLoop(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case m.shaping <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Suspend suspends a site or a domain (s.Site or s.Domain) until
// s.Until, for an operator.
func (m *Manager) Suspend(ctx context.Context, s Suspension) error {
	if (s.Site == "") == (s.Domain == "") || s.Destination != "" {
		return errors.New("suspend: name a site or a domain")
	}
	if !s.Until.After(m.Clock.Now()) {
		return errors.New("suspend: the end must be in the future")
	}
	if s.By == "" {
		s.By = "operator"
	}
	return m.onLoop(ctx, func() { m.suspend(s) })
}

// Resume ends the suspensions of a site or a domain (either may be
// empty) and reports how many ended.
func (m *Manager) Resume(ctx context.Context, site, domain string) (int, error) {
	if site == "" && domain == "" {
		return 0, errors.New("resume: name a site or a domain")
	}
	n := 0
	err := m.onLoop(ctx, func() {
		for k, s := range m.suspends {
			if (site != "" && s.Site == site) || (domain != "" && (s.Domain == domain || keyDomain(s.Destination) == domain)) {
				delete(m.suspends, k)
				n++
			}
		}
		if n > 0 {
			m.Log.Info("qmgr: delivery resumed by operator", "site", site, "domain", domain)
		}
	})
	return n, err
}

// keyDomain is the next hop's domain of a destination queue's key
// ("transport:nexthop", then options), "" for none.
func keyDomain(key string) string {
	if key == "" {
		return ""
	}
	_, hop, _ := strings.Cut(key, ":")
	hop, _, _ = strings.Cut(hop, "\x00")
	return egress.DomainOf(hop)
}

// Suspensions lists the suspensions in force, soonest to end first.
func (m *Manager) Suspensions(ctx context.Context) ([]Suspension, error) {
	var list []Suspension
	err := m.onLoop(ctx, func() {
		now := m.Clock.Now()
		for k, s := range m.suspends {
			if !now.Before(s.Until) {
				delete(m.suspends, k)
				continue
			}
			list = append(list, s)
		}
	})
	sort.Slice(list, func(i, j int) bool { return list[i].Until.Before(list[j].Until) })
	return list, err
}

// Shaping is the live state of one destination queue.
type Shaping struct {
	Destination string `json:"destination"` // transport:nexthop
	Domain      string `json:"domain"`
	Site        string `json:"site,omitempty"`
	Queued      int    `json:"queued"` // deliveries waiting
	// InFlight, Window, ConnectionLimit and Started are the lane's: the
	// site's, shared with its other destinations.
	InFlight          int       `json:"in_flight"`
	Window            int       `json:"window"`
	ConnectionLimit   int       `json:"connection_limit"`
	MaxMessageRate    string    `json:"max_message_rate,omitempty"`
	MaxConnectionRate string    `json:"max_connection_rate,omitempty"`
	RateCut           string    `json:"rate_cut,omitempty"`
	RateCutUntil      time.Time `json:"rate_cut_until,omitzero"`
	// HeldUntil: the shared egress rate held a delivery back, and the
	// lane waits until then (sharedrate.go).
	HeldUntil      time.Time `json:"held_until,omitzero"`
	Started        int       `json:"started"`
	SuspendedUntil time.Time `json:"suspended_until,omitzero"`
	Suspended      string    `json:"suspended,omitempty"` // why
	DeadUntil      time.Time `json:"dead_until,omitzero"`
}

// Destinations shows the live shaping of every destination queue.
func (m *Manager) Destinations(ctx context.Context) ([]Shaping, error) {
	var list []Shaping
	err := m.onLoop(ctx, func() {
		now := m.Clock.Now()
		for _, d := range m.dests {
			list = append(list, m.shapingOf(d, now))
		}
	})
	sort.Slice(list, func(i, j int) bool {
		if list[i].Destination != list[j].Destination {
			return list[i].Destination < list[j].Destination
		}
		return list[i].Site < list[j].Site
	})
	return list, err
}

func (m *Manager) shapingOf(d *destination, now time.Time) Shaping {
	l := d.lane
	v := Shaping{Destination: d.transport + ":" + d.nexthop, Domain: d.domain, Site: d.site(), Queued: d.jobs.len(),
		InFlight: l.active, Window: l.limit, ConnectionLimit: l.max(m.Config), Started: l.started,
		MaxMessageRate: rateText(l.pol.MaxMessageRate), MaxConnectionRate: rateText(l.pol.MaxConnectionRate)}
	if now.Before(l.cutUntil) {
		v.RateCut, v.RateCutUntil = rateText(l.cut), l.cutUntil
	}
	if now.Before(l.heldUntil) {
		v.HeldUntil = l.heldUntil
	}
	if now.Before(d.deadUntil) {
		v.DeadUntil = d.deadUntil
	}
	for _, c := range d.covers() {
		if s, ok := m.suspends[c[0]+":"+c[1]]; ok && now.Before(s.Until) && s.Until.After(v.SuspendedUntil) {
			v.SuspendedUntil, v.Suspended = s.Until, s.By+": "+s.Reason
		}
	}
	return v
}

func rateText(r egress.Rate) string {
	if r.N == 0 {
		return ""
	}
	return r.String()
}
