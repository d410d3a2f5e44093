package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/metrics/tally"
	"github.com/moonpost/moonpost/core/smtpd"
	"github.com/moonpost/moonpost/hooks"
)

// Roles are the sources of the families of this file; each may be nil.
type Roles struct {
	SMTPD func() smtpd.Stats
	Hooks func() []hooks.CallStats
	Lua   func() hooks.LuaFigures
	DNS   func() map[string]dns.Stats
	// Sync returns the spool's sync latencies by kind (queue.Store.SyncLatency).
	Sync func() map[string]tally.HistogramSnapshot
	// ConnCache returns each caching agent's figures by transport.
	ConnCache func() map[string]smtpc.CacheStats
	// Sites and Tenants are the recipient outcomes by destination site and
	// by tenant (qmgr.Manager.BySite, ByTenant), counts by KindSent,
	// KindDeferred, KindBounced.
	Sites, Tenants func() []tally.Row
}

var (
	descSMTPConns    = prometheus.NewDesc("moonpost_smtpd_connections_total", "SMTP connections admitted, by listener.", []string{"listener"}, nil)
	descSMTPActive   = prometheus.NewDesc("moonpost_smtpd_connections", "SMTP connections open now.", nil, nil)
	descSMTPRejects  = prometheus.NewDesc("moonpost_smtpd_rejects_total", "SMTP rejections, by stage (connect, mail, rcpt, data, auth, session) and reason.", []string{"stage", "reason"}, nil)
	descHookCalls    = prometheus.NewDesc("moonpost_hook_calls_total", "Hook calls that ran the Lua handlers, by event and script generation.", []string{"event", "generation"}, nil)
	descHookErrors   = prometheus.NewDesc("moonpost_hook_errors_total", "Hook calls that failed (Lua error, timeout, bad return value), by event and generation.", []string{"event", "generation"}, nil)
	descHookSkipped  = prometheus.NewDesc("moonpost_hook_breaker_skips_total", "Hook calls answered by the open circuit breaker without running the handlers.", []string{"event", "generation"}, nil)
	descHookLatency  = prometheus.NewDesc("moonpost_hook_duration_seconds", "Duration of the hook calls that ran the handlers, by event and generation.", []string{"event", "generation"}, nil)
	descLuaIdle      = prometheus.NewDesc("moonpost_lua_states_idle", "Lua states waiting in the live generation's pool.", nil, nil)
	descLuaBusy      = prometheus.NewDesc("moonpost_lua_calls_in_flight", "Hook calls running now.", nil, nil)
	descLuaLimit     = prometheus.NewDesc("moonpost_lua_memory_limit_bytes", "Heap growth one hook call may cause before it is stopped (0: no limit).", nil, nil)
	descLuaStops     = prometheus.NewDesc("moonpost_lua_memory_stops_total", "Hook calls stopped for exceeding the memory limit.", nil, nil)
	descLuaHeap      = prometheus.NewDesc("moonpost_lua_heap_bytes", "The Go heap, which holds the Lua states, as the memory watchdog last sampled it.", nil, nil)
	descDNSLookups   = prometheus.NewDesc("moonpost_dns_lookups_total", "DNS questions asked of the resolver, by type.", []string{"type"}, nil)
	descDNSHits      = prometheus.NewDesc("moonpost_dns_cache_hits_total", "DNS questions answered from the cache, by type.", []string{"type"}, nil)
	descDNSQueries   = prometheus.NewDesc("moonpost_dns_queries_total", "DNS queries sent to servers, by type.", []string{"type"}, nil)
	descDNSFailures  = prometheus.NewDesc("moonpost_dns_failures_total", "DNS questions that failed temporarily, by type.", []string{"type"}, nil)
	descSyncLatency  = prometheus.NewDesc("moonpost_spool_sync_duration_seconds", "Duration of the spool's sync calls, by kind (fsync, dirsync, syncfs).", []string{"kind"}, nil)
	descCacheIdle    = prometheus.NewDesc("moonpost_conncache_idle_connections", "Outbound connections cached idle now, by transport.", []string{"transport"}, nil)
	descCacheMax     = prometheus.NewDesc("moonpost_conncache_max_connections", "The bound on cached outbound connections, by transport.", []string{"transport"}, nil)
	descCacheEvents  = prometheus.NewDesc("moonpost_conncache_events_total", "Connection cache events by transport: hit, miss, stored, full, expired, broken.", []string{"transport", "event"}, nil)
	descSiteOutcome  = prometheus.NewDesc("moonpost_site_deliveries_total", "Recipient delivery outcomes by destination site (the busiest, the rest as \"other\") and status.", []string{"site", "status"}, nil)
	descTenantOutome = prometheus.NewDesc("moonpost_tenant_deliveries_total", "Recipient delivery outcomes by tenant (the busiest, the rest as \"other\") and status.", []string{"tenant", "status"}, nil)
)

var roleDescs = []*prometheus.Desc{descSMTPConns, descSMTPActive, descSMTPRejects, descHookCalls, descHookErrors,
	descHookSkipped, descHookLatency, descLuaIdle, descLuaBusy, descLuaLimit, descLuaStops, descLuaHeap,
	descDNSLookups, descDNSHits, descDNSQueries, descDNSFailures, descSyncLatency, descCacheIdle, descCacheMax,
	descCacheEvents, descSiteOutcome, descTenantOutome}

// outcomeStatus names the counts of a tally row (qmgr.KindSent, ...).
var outcomeStatus = []string{"sent", "deferred", "bounced"}

func (c *collector) collectRoles(ch chan<- prometheus.Metric) {
	r := &c.src.Roles
	if r.SMTPD != nil {
		collectSMTPD(ch, r.SMTPD())
	}
	if r.Hooks != nil {
		collectHooks(ch, r.Hooks())
	}
	if r.Lua != nil {
		l := r.Lua()
		gauge(ch, descLuaIdle, float64(l.IdleStates))
		gauge(ch, descLuaBusy, float64(l.Busy))
		gauge(ch, descLuaLimit, float64(l.MemoryLimit))
		ch <- prometheus.MustNewConstMetric(descLuaStops, prometheus.CounterValue, float64(l.MemoryStops))
		gauge(ch, descLuaHeap, float64(l.HeapBytes))
	}
	if r.DNS != nil {
		for typ, s := range r.DNS() {
			counter(ch, descDNSLookups, s.Lookups, typ)
			counter(ch, descDNSHits, s.Hits, typ)
			counter(ch, descDNSQueries, s.Queries, typ)
			counter(ch, descDNSFailures, s.Failures, typ)
		}
	}
	if r.Sync != nil {
		for kind, h := range r.Sync() {
			ch <- prometheus.MustNewConstHistogram(descSyncLatency, h.Count, h.Sum, h.Buckets, kind)
		}
	}
	if r.ConnCache != nil {
		collectConnCache(ch, r.ConnCache())
	}
	collectTop(ch, descSiteOutcome, r.Sites)
	collectTop(ch, descTenantOutome, r.Tenants)
}

func collectSMTPD(ch chan<- prometheus.Metric, s smtpd.Stats) {
	for l, n := range s.Connections {
		counter(ch, descSMTPConns, n, l)
	}
	gauge(ch, descSMTPActive, float64(s.Active))
	for k, n := range s.Rejects {
		counter(ch, descSMTPRejects, n, k.Stage, k.Reason)
	}
}

func collectHooks(ch chan<- prometheus.Metric, calls []hooks.CallStats) {
	for _, s := range calls {
		gen := strconv.Itoa(s.Generation)
		counter(ch, descHookCalls, s.Calls, s.Event, gen)
		counter(ch, descHookErrors, s.Errors, s.Event, gen)
		counter(ch, descHookSkipped, s.Skipped, s.Event, gen)
		ch <- prometheus.MustNewConstHistogram(descHookLatency, s.Latency.Count, s.Latency.Sum, s.Latency.Buckets, s.Event, gen)
	}
}

func collectConnCache(ch chan<- prometheus.Metric, by map[string]smtpc.CacheStats) {
	for tr, s := range by {
		gauge(ch, descCacheIdle, float64(s.Idle), tr)
		gauge(ch, descCacheMax, float64(s.Max), tr)
		for ev, n := range map[string]uint64{"hit": s.Hits, "miss": s.Misses, "stored": s.Stored,
			"full": s.Full, "expired": s.Expired, "broken": s.Broken} {
			counter(ch, descCacheEvents, n, tr, ev)
		}
	}
}

func collectTop(ch chan<- prometheus.Metric, d *prometheus.Desc, rows func() []tally.Row) {
	if rows == nil {
		return
	}
	for _, r := range rows() {
		for kind, n := range r.Counts {
			if kind < len(outcomeStatus) {
				counter(ch, d, n, r.Key, outcomeStatus[kind])
			}
		}
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, n uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}
