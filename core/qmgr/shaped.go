package qmgr

import (
	"sync"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/metrics/tally"
)

// Outcome kinds of the site and tenant counters, the order of the
// counts in their rows.
const (
	KindSent = iota
	KindDeferred
	KindBounced
)

// TopLabels is how many sites and how many tenants get a series of their
// own in the outcome counters; the rest are counted as "other".
const TopLabels = 20

// shapedCounts are the recipient outcomes of delivery attempts by
// destination site and by tenant, with a bounded label set each.
type shapedCounts struct {
	once           sync.Once
	sites, tenants *tally.Top
}

func (c *shapedCounts) init() {
	c.once.Do(func() {
		c.sites = &tally.Top{N: TopLabels, Kinds: 3}
		c.tenants = &tally.Top{N: TopLabels, Kinds: 3}
	})
}

// count adds the outcomes of one delivery attempt.
func (c *shapedCounts) count(req *deliver.Request, transport string, res []deliver.Result) {
	c.init()
	site := siteOf(req, transport)
	for k := range res {
		kind := KindDeferred
		switch st := res[k].Status; {
		case st.OK():
			kind = KindSent
		case st.Permanent():
			kind = KindBounced
		}
		c.sites.Add(site, kind)
		c.tenants.Add(req.Tenant, kind)
	}
}

// siteOf names the destination of a request for the counters: its
// egress site, else the next hop of a network transport, else the
// transport (a pipe's next hop is a command, not a destination).
func siteOf(req *deliver.Request, transport string) string {
	if req.Egress != nil && req.Egress.Site != "" {
		return req.Egress.Site
	}
	if transport == "smtp" || transport == "lmtp" {
		return req.Nexthop
	}
	return transport
}

// BySite returns the recipient outcomes of delivery attempts by
// destination site, counts indexed by KindSent, KindDeferred and
// KindBounced; the last row is tally.Other.
func (m *Manager) BySite() []tally.Row {
	m.shaped.init()
	return m.shaped.sites.Snapshot()
}

// ByTenant is BySite by tenant ("" for mail without one).
func (m *Manager) ByTenant() []tally.Row {
	m.shaped.init()
	return m.shaped.tenants.Snapshot()
}
