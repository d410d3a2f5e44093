package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// greeting reads the first reply line of a fresh connection.
func greeting(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return strings.TrimSpace(line)
}

// Scenario 22b: a changed [smtpd] limit applies at a reload: a session
// that starts after it sees the new limit, while the session that was in
// progress finishes its message under the old one. SIGHUP does the same
// (and a new banner) and logs what it applied.
func TestT22SMTPDLimitsApplyLive(t *testing.T) {
	conf := func(keys string) string {
		return "\n[smtpd]\nclient_event_limit_exceptions = []\n" + keys // loopback is limited too
	}
	d := newDaemon(t, conf(""))
	d.start()
	old := dial(t, d.addr)
	old.expect("EHLO client.test", 250)
	old.expect("MAIL FROM:<alice@remote.test>", 250)
	old.expect("RCPT TO:<postmaster@local.test>", 250)

	if err := os.WriteFile(d.cfg, []byte(baseConfig(d, conf("max_connections_per_ip = 1"))), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := d.run("", "reload")
	if code != 0 || !strings.Contains(out, "applied: smtpd.max_connections_per_ip") || strings.Contains(out, "needs a restart") {
		t.Fatalf("reload: %d %s", code, out)
	}
	if g := greeting(t, d.addr); !strings.HasPrefix(g, "421 4.7.0") {
		t.Errorf("a new session over the new per-client limit got %q", g)
	}
	old.expect("DATA", 354)
	old.expect("Subject: t22b\r\n\r\nstarted before the reload\r\n.", 250)
	old.expect("QUIT", 221)
	eventually(t, "the message of the session in progress", func() bool { return len(d.mailbox("postmaster")) == 1 })

	// The limit is lifted again by SIGHUP; a new session is served.
	os.WriteFile(d.cfg, []byte(baseConfig(d, conf("max_connections_per_ip = 5\nbanner = \"ESMTP t22b\""))), 0o600)
	if err := syscall.Kill(d.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog("SIGHUP: configuration reloaded", 1)
	if !strings.Contains(d.logs(), "applied=smtpd.banner,smtpd.max_connections_per_ip") {
		t.Errorf("the SIGHUP log line does not name the applied key:\n%s", d.logs())
	}
	if g := greeting(t, d.addr); g != "220 mx.test ESMTP t22b" {
		t.Errorf("greeting after the banner changed: %q", g)
	}
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	c.expect("QUIT", 221)

	// A listener added to the file serves after the reload; taken out
	// again, it stops accepting.
	subm := freeLoopbackAddr(t)
	os.WriteFile(d.cfg, []byte(baseConfig(d, conf(fmt.Sprintf("max_connections_per_ip = 5\nsubmission_listen = [%q]", subm)))), 0o600)
	if code, out := d.run("", "reload"); code != 0 || !strings.Contains(out, "smtpd.submission_listen") || strings.Contains(out, "needs a restart") {
		t.Fatalf("reload adding a listener: %d %s", code, out)
	}
	if g := greeting(t, subm); !strings.HasPrefix(g, "220 ") {
		t.Errorf("the added submission listener greets %q", g)
	}
	os.WriteFile(d.cfg, []byte(baseConfig(d, conf("max_connections_per_ip = 5"))), 0o600)
	if code, out := d.run("", "reload"); code != 0 {
		t.Fatalf("reload removing a listener: %d %s", code, out)
	}
	if conn, err := net.DialTimeout("tcp", subm, time.Second); err == nil {
		conn.Close()
		t.Errorf("the removed listener %s still accepts", subm)
	}
	if g := greeting(t, d.addr); !strings.HasPrefix(g, "220 ") {
		t.Errorf("the kept listener greets %q", g)
	}
}

// freeLoopbackAddr is a loopback address whose port was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
