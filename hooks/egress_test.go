package hooks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/egress"
)

const egressScript = `
mta.on("egress", function(d)
  if d.domain == "gmail.test" then
    return {connection_limit = 5, initial_concurrency = 2, max_message_rate = "100/min",
            max_connection_rate = "10/s", max_deliveries_per_connection = 50, idle_timeout = "30s",
            tls = "verify", source = "127.0.0.2", site = "google"}
  end
  if d.domain == "hosted.test" and d.mx[1] == "aspmx.l.google.test" then return {site = "google"} end
  if d.domain == "tenant.test" then return {site = "t-" .. d.tenant, source = d.transport .. "-pool"} end
  if d.domain == "typo.test" then return {conection_limit = 5} end
  if d.domain == "badrate.test" then return {max_message_rate = "10 per second"} end
  if d.domain == "badtls.test" then return {tls = "maybe", connection_limit = 0} end
  if d.domain == "over.test" then return {connection_limit = 2, initial_concurrency = 3} end
  if d.domain == "string.test" then return "fast" end
  if d.domain == "boom.test" then error("no shaping for you") end
end)
`

func TestEgress(t *testing.T) {
	e := newEngine(t, map[string]string{"30-egress.lua": egressScript}, func(c *Config) { c.BreakerThreshold = -1 })
	ctx := context.Background()
	p, err := e.Egress(ctx, egress.Dest{Domain: "gmail.test", Transport: "smtp", Nexthop: "gmail.test"})
	if err != nil {
		t.Fatal(err)
	}
	want := egress.Policy{ConnectionLimit: 5, InitialConcurrency: 2, MaxMessageRate: egress.Rate{N: 100, Per: time.Minute},
		MaxConnectionRate: egress.Rate{N: 10, Per: time.Second}, MaxDeliveriesPerConnection: 50, IdleTimeout: 30 * time.Second,
		TLS: "verify", Source: "127.0.0.2", Site: "google"}
	if *p != want {
		t.Errorf("gmail.test: got %+v, want %+v", *p, want)
	}
	p, err = e.Egress(ctx, egress.Dest{Domain: "hosted.test", MX: []string{"aspmx.l.google.test"}, Transport: "smtp"})
	if err != nil || p == nil || p.Site != "google" {
		t.Errorf("hosted.test by MX: %+v, %v", p, err)
	}
	p, err = e.Egress(ctx, egress.Dest{Domain: "tenant.test", Transport: "smtp", Tenant: "acme"})
	if err != nil || p == nil || p.Site != "t-acme" || p.Source != "smtp-pool" {
		t.Errorf("tenant.test: %+v, %v", p, err)
	}
	if p, err := e.Egress(ctx, egress.Dest{Domain: "other.test"}); p != nil || err != nil {
		t.Errorf("no decision: %+v, %v", p, err)
	}
	for dom, msg := range map[string]string{
		"typo.test":    `unknown key "conection_limit"`,
		"badrate.test": `max_message_rate: want a rate`,
		"badtls.test":  `connection_limit: want a whole number from 1`,
		"over.test":    `initial_concurrency 3 is above connection_limit 2`,
		"string.test":  `must return a table or nil`,
		"boom.test":    `no shaping for you`,
	} {
		_, err := e.Egress(ctx, egress.Dest{Domain: dom})
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: err %v, want one with %q", dom, err, msg)
		}
	}
	_, err = e.Egress(ctx, egress.Dest{Domain: "badtls.test"})
	if err == nil || !strings.Contains(err.Error(), "tls: want one of none, may") {
		t.Errorf("badtls.test: every problem should be named: %v", err)
	}
}

// TestEgressCachedPerGeneration checks the hook runs once per
// destination, however many messages ask, and again after a reload.
func TestEgressCachedPerGeneration(t *testing.T) {
	e := newEngine(t, map[string]string{"30-egress.lua": `
n = 0
mta.on("egress", function(d) n = n + 1; return {site = "s" .. n} end)`})
	c := &egress.Cache{Hook: e.Egress, Generation: func() int { n, _ := e.Generation(); return n }}
	ctx := context.Background()
	first, _ := c.Policy(ctx, "smtp", "a.test", "")
	for range 100 {
		p, err := c.Policy(ctx, "smtp", "a.test", "")
		if err != nil || p != first {
			t.Fatalf("cached answer changed: %+v, %v", p, err)
		}
	}
	if c.Calls() != 1 {
		t.Errorf("hook called %d times for one destination, want 1", c.Calls())
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Policy(ctx, "smtp", "a.test", ""); p == first || c.Calls() != 2 {
		t.Errorf("after a reload: %+v, calls %d; want a new answer from one more call", p, c.Calls())
	}
}

// TestEgressCall: hooks.call("egress", ...) decodes as the queue manager
// does, so the REPL shows a policy's mistakes.
func TestEgressCall(t *testing.T) {
	e := newEngine(t, map[string]string{"30-egress.lua": egressScript}, func(c *Config) { c.BreakerThreshold = -1 })
	got, err := e.Call(context.Background(), "egress", []any{map[string]any{"domain": "hosted.test", "mx": []any{"aspmx.l.google.test"}}})
	if m, ok := got.(map[string]any); err != nil || !ok || m["site"] != "google" || len(m) != 1 {
		t.Errorf("hosted.test: %v, %v", got, err)
	}
	got, err = e.Call(context.Background(), "egress", []any{map[string]any{"domain": "gmail.test"}})
	if m, _ := got.(map[string]any); err != nil || m["max_message_rate"] != "100/min" || m["idle_timeout"] != "30s" || m["connection_limit"] != 5 {
		t.Errorf("gmail.test: %v, %v", got, err)
	}
	if _, err := e.Call(context.Background(), "egress", []any{map[string]any{"domain": "typo.test"}}); err == nil {
		t.Error("typo.test: no error")
	}
}
