package app

import (
	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/metrics"
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
