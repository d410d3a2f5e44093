// Package grafana holds a Grafana dashboard of moonpost's metrics and
// the test that it asks only for metrics the daemon exports.
package grafana

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/metrics"
	"github.com/moonpost/moonpost/core/metrics/tally"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/smtpd"
	"github.com/moonpost/moonpost/hooks"
)

// exported scrapes a /metrics handler fed with every source and returns
// the metric names it exports (each histogram's and summary's series
// names too).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	store, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	src := &metrics.Sources{
		Qmgr: func() qmgr.Stats {
			return qmgr.Stats{ByTransport: map[string]qmgr.Outcomes{"smtp": {Delivered: 1, Deferred: 1, Bounced: 1}}}
		},
		Received:   func() map[string]int64 { return map[string]int64{"smtp": 1} },
		Store:      store,
		Generation: func() (int, bool) { return 1, false },
		Started:    time.Now(),
		Webhooks: func() map[string]metrics.WebhookFigures {
			return map[string]metrics.WebhookFigures{"w": {Sent: 1}}
		},
		Roles: metrics.Roles{
			SMTPD: func() smtpd.Stats {
				return smtpd.Stats{Connections: map[string]uint64{"smtp": 1},
					Rejects: map[smtpd.RejectKey]uint64{{Stage: "rcpt", Reason: "policy"}: 1}}
			},
			Hooks: func() []hooks.CallStats { return []hooks.CallStats{{Event: "rcpt", Generation: 1, Calls: 1}} },
			Lua:   func() hooks.LuaFigures { return hooks.LuaFigures{} },
			DNS:   func() map[string]dns.Stats { return map[string]dns.Stats{"MX": {Lookups: 1}} },
			Sync:  store.SyncLatency,
			ConnCache: func() map[string]smtpc.CacheStats {
				return map[string]smtpc.CacheStats{"smtp": {Hits: 1}}
			},
			Sites:   func() []tally.Row { return []tally.Row{{Key: "other", Counts: []uint64{1, 0, 0}}} },
			Tenants: func() []tally.Row { return []tally.Row{{Key: "other", Counts: []uint64{1, 0, 0}}} },
		},
	}
	rec := httptest.NewRecorder()
	metrics.Handler(src).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	names := map[string]bool{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f[2]+s] = true
				}
			}
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\b(?:moonpost|go|process)_[a-z0-9_]+\b`)

// TestDashboardUsesExportedMetrics checks every metric name in the
// dashboard (queries and template variables) against a real scrape.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("moonpost-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	have := exported(t)
	used := map[string]bool{}
	for _, m := range metricName.FindAllString(string(b), -1) {
		used[m] = true
	}
	if len(used) < 10 {
		t.Fatalf("only %d metric names found in the dashboard: %v", len(used), used)
	}
	var missing []string
	for m := range used {
		if !have[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard uses metrics the daemon does not export: %v", missing)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
}
