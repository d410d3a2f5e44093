package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// egressScript shapes the relay host as one site: two deliveries at
// once, five messages a second.
const egressScript = `
mta.on("egress", function(d)
  if d.transport == "smtp" then
    return {site = "relay", connection_limit = 2, initial_concurrency = 2, max_message_rate = "5/s",
            max_deliveries_per_connection = 100, idle_timeout = "10s"}
  end
end)
`

// Scenario 33: the egress hook shapes delivery to a sink (rate and
// connection limit), the operator suspends and resumes the site from the
// CLI, and a response rule suspends it on a matching reply.
func TestT33EgressShaping(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, fmt.Sprintf(`relayhost = "[127.0.0.1]:%s"
[hooks]
dir = "scripts"
[smtp]
tls = "none"
[[egress.rule]]
pattern = "^451 4\\.3\\.0 try again later"
action = "suspend"
for = "1h"
`, s.port()))
	if err := os.MkdirAll(filepath.Join(d.dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "scripts", "30-egress.lua"), []byte(egressScript), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	const n = 16
	for i := range n {
		if code, text := c.message("alice@local.test", []string{fmt.Sprintf("r%d@remote.test", i)}, "Subject: t33\r\n\r\nshaped"); code != 250 {
			t.Fatalf("%d %s", code, text)
		}
	}
	msgs := waitSink(t, d, s, n)
	// 5/s: sixteen messages take at least 15 intervals of 200 ms.
	if span := msgs[n-1].At.Sub(msgs[0].At); span < 2500*time.Millisecond {
		t.Errorf("%d messages arrived within %v; a 5/s rate needs at least 3 s", n, span)
	}

	// The live view shows the site's limits.
	code, out := d.run("", "queue", "destinations", "--json")
	var view []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &view) != nil || len(view) != 1 {
		t.Fatalf("queue destinations: %d %s", code, out)
	}
	v := view[0]
	if v["site"] != "relay" || v["max_message_rate"] != "5/s" || v["connection_limit"] != 2.0 || v["started"] != float64(n) {
		t.Errorf("destinations view %v", v)
	}
	if code, out := d.run("", "queue", "destinations"); code != 0 || !strings.Contains(out, "SITE") || !strings.Contains(out, "relay") {
		t.Errorf("queue destinations: %d %s", code, out)
	}

	// The operator suspends the site: mail waits, untried; resume and
	// flush deliver it.
	if code, out := d.run("", "queue", "suspend", "--site", "relay", "--for", "1h", "--reason", "receiver asked"); code != 0 || !strings.Contains(out, "suspended site relay until") {
		t.Fatalf("queue suspend: %d %s", code, out)
	}
	if code, out := d.run("", "queue", "suspensions"); code != 0 || !strings.Contains(out, "site relay") || !strings.Contains(out, "receiver asked") {
		t.Errorf("queue suspensions: %d %s", code, out)
	}
	if code, text := c.message("alice@local.test", []string{"held@remote.test"}, "Subject: held\r\n\r\nwaits"); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	d.waitLog("delivery suspended for site relay until", 1)
	if got := len(s.received()); got != n {
		t.Errorf("the sink got %d messages while the site was suspended, want %d", got, n)
	}
	if code, out := d.run("", "queue", "resume", "--site", "relay"); code != 0 || !strings.Contains(out, "1 suspension ended") {
		t.Fatalf("queue resume: %d %s", code, out)
	}
	d.run("", "queue", "flush")
	waitSink(t, d, s, n+1)

	// A reply that matches the rule suspends the site by itself.
	if code, text := c.message("alice@local.test", []string{"later@remote.test"}, "Subject: rule\r\n\r\n451"); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	d.waitLog("qmgr: delivery suspended", 2)
	code, out = d.run("", "queue", "suspensions", "--json")
	if code != 0 || !strings.Contains(out, `"site":"relay"`) || !strings.Contains(out, `"by":"rule ^451`) {
		t.Errorf("suspensions after the rule: %d %s", code, out)
	}
	if code, text := c.message("alice@local.test", []string{"after@remote.test"}, "Subject: after\r\n\r\nwaits"); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	d.waitLog("delivery suspended for site relay until", 2)
	if got := len(s.received()); got != n+1 {
		t.Errorf("the sink got %d messages after the rule suspended the site, want %d", got, n+1)
	}
	c.expect("QUIT", 221)
}

// Scenario 33b: the egress hook's source reaches the smtp client: mail
// of tenant-less senders goes out from a [[smtp.source]] address with
// its EHLO name, the pool's second address takes the next connection,
// as the sink sees them.
func TestT33EgressSourceAddress(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, fmt.Sprintf(`relayhost = "[127.0.0.1]:%s"
[hooks]
dir = "scripts"
[smtp]
tls = "none"
[[smtp.source]]
name = "out5"
address = "127.0.0.5"
ehlo = "out5.example.test"
[[smtp.source]]
name = "out6"
address = "127.0.0.6"
ehlo = "out6.example.test"
[[smtp.pool]]
name = "bulk"
sources = ["out5", "out6"]
`, s.port()))
	if err := os.MkdirAll(filepath.Join(d.dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := `mta.on("egress", function(d) return {source = "bulk", max_deliveries_per_connection = 1, connection_limit = 1} end)`
	if err := os.WriteFile(filepath.Join(d.dir, "scripts", "30-egress.lua"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	for i := range 4 {
		if code, text := c.message("alice@local.test", []string{fmt.Sprintf("r%d@remote.test", i)}, "Subject: t33b\r\n\r\nsourced"); code != 250 {
			t.Fatalf("%d %s", code, text)
		}
	}
	seen := map[string]string{}
	for _, m := range waitSink(t, d, s, 4) {
		host, _, _ := strings.Cut(m.Peer, ":")
		seen[host] = m.Helo
	}
	if seen["127.0.0.5"] != "out5.example.test" || seen["127.0.0.6"] != "out6.example.test" || len(seen) != 2 {
		t.Errorf("the sink saw these sources and EHLO names: %v", seen)
	}
	// moonpost route shows the egress step and the line that decided it.
	code, out := d.run("", "route", "x@remote.test")
	if code != 0 || !strings.Contains(out, "egress: connection_limit=1 max_deliveries_per_connection=1 source=bulk") || !strings.Contains(out, "30-egress.lua:1") {
		t.Errorf("route: %d\n%s", code, out)
	}
}
