package app

import (
	"sort"

	"github.com/moonpost/moonpost/core/control"
	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/metrics"
	"github.com/moonpost/moonpost/core/metrics/tally"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

// metricRoles feeds /metrics from the running parts' own counters.
func metricRoles(svc *services, store *queue.Store) metrics.Roles {
	r := metrics.Roles{SMTPD: svc.smtpd.Stats, Sync: store.SyncLatency,
		Sites: svc.qmgr.BySite, Tenants: svc.qmgr.ByTenant, ConnCache: connCaches(svc)}
	if svc.engine != nil {
		r.Hooks, r.Lua = svc.engine.CallStats, svc.engine.Lua
	}
	if c, ok := svc.dns.(dns.Counted); ok {
		r.DNS = c.Stats
	}
	return r
}

// connCaches reports the connection cache of each agent that has one.
func connCaches(svc *services) func() map[string]smtpc.CacheStats {
	return func() map[string]smtpc.CacheStats {
		out := map[string]smtpc.CacheStats{}
		for name, a := range svc.qmgr.Agents {
			if c, ok := a.(interface{ CacheStats() smtpc.CacheStats }); ok {
				out[name] = c.CacheStats()
			}
		}
		return out
	}
}

// busiest gives the status (and moonpost top) the outcomes by site and
// by tenant, the most outcomes first.
func busiest(svc *services) func() (sites, tenants []control.Outcomes) {
	return func() ([]control.Outcomes, []control.Outcomes) {
		return outcomesOf(svc.qmgr.BySite()), outcomesOf(svc.qmgr.ByTenant())
	}
}

func outcomesOf(rows []tally.Row) []control.Outcomes {
	out := make([]control.Outcomes, 0, len(rows))
	for _, r := range rows {
		o := control.Outcomes{Name: r.Key}
		o.Sent, o.Deferred, o.Bounced = r.Counts[qmgr.KindSent], r.Counts[qmgr.KindDeferred], r.Counts[qmgr.KindBounced]
		if o.Sent+o.Deferred+o.Bounced > 0 {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Sent+out[i].Deferred+out[i].Bounced, out[j].Sent+out[j].Deferred+out[j].Bounced
		return a > b || a == b && out[i].Name < out[j].Name
	})
	return out
}
