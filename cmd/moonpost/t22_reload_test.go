package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// t22Config relays everything to a port nobody listens on, so mail stays
// deferred, retried every second; the keys given join their tables.
func t22Config(d *daemon, dead, smtpdKeys, queueKeys, tables string) string {
	return baseConfig(d, fmt.Sprintf(`relayhost = "[127.0.0.1]:%s"
[smtpd]
%s
[smtp]
tls = "none"
connect_timeout = "2s"
[queue]
min_backoff = "1s"
max_backoff = "1s"
scan_interval = "1s"
%s
%s`, dead, smtpdKeys, queueKeys, tables))
}

// Scenario 22: "moonpost reload" and SIGHUP re-read moonpost.toml. A
// shortened queue lifetime applies to mail already deferred (it bounces
// at its next attempt), an [http] listener added to the file opens, and a
// changed smtpd limit is named as needing a restart, in the answer and
// the log. A file that does not load is refused: the daemon keeps its
// running configuration and goes on taking mail.
func TestT22ReloadConfiguration(t *testing.T) {
	dead := strings.TrimPrefix(freePort(t), "127.0.0.1:")
	d := newDaemon(t, "")
	write := func(smtpdKeys, queueKeys, tables string) {
		t.Helper()
		if err := os.WriteFile(d.cfg, []byte(t22Config(d, dead, smtpdKeys, queueKeys, tables)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("", "", "")
	d.start()
	if code, out := d.run("Subject: t22\n\nstuck\n", "sendmail", "-f", "alice@local.test", "bob@remote.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	eventually(t, "a deferred message", func() bool { return len(d.queued("deferred")) == 1 })
	if code, out := d.run("", "reload"); code != 0 || !strings.Contains(out, "applied: no changed settings") {
		t.Fatalf("reload of an unchanged file: %d %s", code, out)
	}

	httpAddr := freePort(t)
	write("header_size_limit = 200000", `max_lifetime = "1s"`, fmt.Sprintf("[http]\nlisten = [%q]\n", httpAddr))
	code, out := d.run("", "reload")
	if code != 0 || !strings.Contains(out, "queue.max_lifetime") || !strings.Contains(out, "http.listen") ||
		!strings.Contains(out, "needs a restart: smtpd.header_size_limit") {
		t.Fatalf("reload: %d %s", code, out)
	}
	d.waitLog("changed settings need a restart to take effect", 1)
	if !strings.Contains(d.logs(), "keys=smtpd.header_size_limit") {
		t.Errorf("the restart warning does not name the key:\n%s", d.logs())
	}
	bounce := d.WaitMaildir("spool/mail/alice", 1)
	if !strings.Contains(bounce[0], "bob@remote.test") {
		t.Errorf("bounce does not name the recipient:\n%s", bounce[0])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("the [http] listener added by the reload: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}

	good, _ := os.ReadFile(d.cfg)
	os.WriteFile(d.cfg, append(append([]byte{}, good...), "\nno_such_key = 1\n"...), 0o600)
	if code, out := d.run("", "reload"); code != 78 || !strings.Contains(out, "no_such_key") {
		t.Fatalf("reload of a bad file: %d %s", code, out)
	}
	if err := syscall.Kill(d.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog("SIGHUP: reload failed, the running configuration stays", 1)
	if code, text := sendSized(t, d.addr, 512); code != 250 {
		t.Fatalf("after a refused reload: %d %s", code, text)
	}
	os.WriteFile(d.cfg, good, 0o600)
	if code, out := d.run("", "reload", "--json"); code != 0 || !strings.Contains(out, `"restart":["smtpd.header_size_limit"]`) {
		t.Fatalf("reload after the fix: %d %s", code, out)
	}
}
