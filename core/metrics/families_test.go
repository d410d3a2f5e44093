package metrics

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/metrics/tally"
	"github.com/moonpost/moonpost/core/smtpd"
	"github.com/moonpost/moonpost/hooks"
)

func TestRoleFamilies(t *testing.T) {
	var h tally.Histogram
	h.Observe(3 * time.Millisecond)
	src := &Sources{Roles: Roles{
		SMTPD: func() smtpd.Stats {
			return smtpd.Stats{Connections: map[string]uint64{"smtp": 4}, Active: 2,
				Rejects: map[smtpd.RejectKey]uint64{{Stage: "rcpt", Reason: "relay_denied"}: 3}}
		},
		Hooks: func() []hooks.CallStats {
			return []hooks.CallStats{{Event: "rcpt", Generation: 2, Calls: 5, Errors: 1, Latency: h.Snapshot()}}
		},
		Lua: func() hooks.LuaFigures { return hooks.LuaFigures{IdleStates: 3, MemoryStops: 1, MemoryLimit: 1 << 20} },
		DNS: func() map[string]dns.Stats { return map[string]dns.Stats{"MX": {Lookups: 9, Hits: 7, Queries: 2}} },
		Sync: func() map[string]tally.HistogramSnapshot {
			return map[string]tally.HistogramSnapshot{"fsync": h.Snapshot()}
		},
		ConnCache: func() map[string]smtpc.CacheStats {
			return map[string]smtpc.CacheStats{"smtp": {Idle: 1, Max: 100, Hits: 6}}
		},
		Sites: func() []tally.Row {
			return []tally.Row{{Key: "example.com", Counts: []uint64{8, 1, 0}}, {Key: "other", Counts: []uint64{2, 0, 1}}}
		},
		Tenants: func() []tally.Row { return []tally.Row{{Key: "acme", Counts: []uint64{5, 0, 0}}} },
	}}
	text := scrape(t, src)
	for _, want := range []string{
		`moonpost_smtpd_connections_total{listener="smtp"} 4`,
		`moonpost_smtpd_connections 2`,
		`moonpost_smtpd_rejects_total{reason="relay_denied",stage="rcpt"} 3`,
		`moonpost_hook_calls_total{event="rcpt",generation="2"} 5`,
		`moonpost_hook_errors_total{event="rcpt",generation="2"} 1`,
		`moonpost_hook_duration_seconds_bucket{event="rcpt",generation="2",le="0.005"} 1`,
		`moonpost_hook_duration_seconds_count{event="rcpt",generation="2"} 1`,
		`moonpost_lua_states_idle 3`,
		`moonpost_lua_memory_stops_total 1`,
		`moonpost_dns_cache_hits_total{type="MX"} 7`,
		`moonpost_dns_queries_total{type="MX"} 2`,
		`moonpost_spool_sync_duration_seconds_bucket{kind="fsync",le="0.0025"} 0`,
		`moonpost_spool_sync_duration_seconds_count{kind="fsync"} 1`,
		`moonpost_conncache_events_total{event="hit",transport="smtp"} 6`,
		`moonpost_conncache_idle_connections{transport="smtp"} 1`,
		`moonpost_site_deliveries_total{site="example.com",status="sent"} 8`,
		`moonpost_site_deliveries_total{site="other",status="bounced"} 1`,
		`moonpost_tenant_deliveries_total{status="sent",tenant="acme"} 5`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIP: promtool not installed (Debian package prometheus) — format not checked")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
