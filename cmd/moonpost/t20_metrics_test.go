package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// t20Script rejects one local recipient by policy, so the rcpt hook runs
// and one rejection has the reason "policy".
const t20Script = `mta.on("rcpt", function(s, rcpt)
  if rcpt == "spam@local.test" then return mta.reject(550, "5.7.1", "no thanks") end
end)
`

// metricValue reads one sample of a scrape; ok is false when absent.
func metricValue(text, series string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// Scenario 20b: what a real SMTP session, a real hook call, a local and
// a relayed delivery did shows on /metrics under the new families, and
// the whole scrape still passes promtool.
func TestT20MetricsFamiliesAfterRealTraffic(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	addr := freePort(t)
	d := newDaemon(t, fmt.Sprintf(`mynetworks = []
relayhost = "[127.0.0.1]:%s"
[hooks]
dir = "scripts"
[smtp]
tls = "none"
[http]
listen = [%q]`, s.port(), addr))
	os.MkdirAll(filepath.Join(d.dir, "scripts"), 0o755)
	if err := os.WriteFile(filepath.Join(d.dir, "scripts", "10-rcpt.lua"), []byte(t20Script), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	d.waitLog("http listening", 1)
	_, before := httpDo(t, "GET", "http://"+addr+"/metrics", "", false)
	conns, _ := metricValue(before, `moonpost_smtpd_connections_total{listener="smtp"}`) // the harness's probe
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	c.expect("MAIL FROM:<alice@remote.test>", 250)
	c.expect("RCPT TO:<bob@elsewhere.test>", 554) // relay denied: not in mynetworks
	c.expect("RCPT TO:<spam@local.test>", 550)
	c.expect("RCPT TO:<postmaster@local.test>", 250)
	c.expect("DATA", 354)
	c.expect("Subject: t20b\r\n\r\nhello\r\n.", 250)
	c.expect("QUIT", 221)
	if code, out := d.run("Subject: t20b relay\n\nout\n", "sendmail", "-f", "alice@local.test", "carol@remote.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitSink(t, d, s, 1)
	eventually(t, "the local delivery", func() bool { return len(d.mailbox("postmaster")) == 1 })
	var text string
	eventually(t, "both outcomes counted", func() bool {
		_, text = httpDo(t, "GET", "http://"+addr+"/metrics", "", false)
		n, _ := metricValue(text, `moonpost_deliveries_total{status="sent",transport="smtp"}`)
		return n == 1
	})
	site := fmt.Sprintf(`moonpost_site_deliveries_total{site="[127.0.0.1]:%s",status="sent"}`, s.port())
	for series, want := range map[string]float64{
		`moonpost_smtpd_connections_total{listener="smtp"}`:                 conns + 1,
		`moonpost_smtpd_rejects_total{reason="relay_denied",stage="rcpt"}`:  1,
		`moonpost_smtpd_rejects_total{reason="policy",stage="rcpt"}`:        1,
		`moonpost_hook_calls_total{event="rcpt",generation="1"}`:            2, // relay control answered the first RCPT
		`moonpost_hook_errors_total{event="rcpt",generation="1"}`:           0,
		`moonpost_hook_duration_seconds_count{event="rcpt",generation="1"}`: 2,
		site: 1,
		`moonpost_site_deliveries_total{site="local",status="sent"}`:       1,
		`moonpost_conncache_events_total{event="stored",transport="smtp"}`: 1,
		`moonpost_conncache_events_total{event="miss",transport="smtp"}`:   1,
		`moonpost_conncache_idle_connections{transport="smtp"}`:            1,
		`moonpost_smtpd_connections`:                                       0,
		`moonpost_lua_calls_in_flight`:                                     0,
	} {
		if got, ok := metricValue(text, series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	for _, series := range []string{
		`moonpost_spool_sync_duration_seconds_count{kind="fsync"}`,
		`moonpost_spool_sync_duration_seconds_count{kind="dirsync"}`,
		`moonpost_lua_states_idle`,
	} {
		if got, ok := metricValue(text, series); !ok || got < 1 {
			t.Errorf("%s = %v (present %v), want at least 1", series, got, ok)
		}
	}
	// The reject line names the scripts' generation that decided; the
	// relay control's does not (no script decided it).
	logs := d.logs()
	if !strings.Contains(logs, "to=<spam@local.test> proto=ESMTP helo=<client.test> generation=1") {
		t.Errorf("the policy reject line does not name the generation:\n%s", logs)
	}
	if strings.Contains(logs, "to=<bob@elsewhere.test> proto=ESMTP helo=<client.test> generation") {
		t.Errorf("the relay reject line names a generation:\n%s", logs)
	}
	if !strings.Contains(text, `moonpost_dns_lookups_total{type="MX"}`) {
		t.Error("no DNS figures")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIP: promtool not installed (Debian package prometheus) — metrics format not checked")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
