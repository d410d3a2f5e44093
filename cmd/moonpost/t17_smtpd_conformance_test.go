package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Scenario 17: RCPT TO:<Postmaster> without a domain (RFC 5321 4.5.1)
// reaches the local postmaster: completed to postmaster@myhostname and
// delivered through the aliases file to root's mailbox.
func TestT17BarePostmasterDelivered(t *testing.T) {
	dir := t.TempDir()
	aliases := filepath.Join(dir, "aliases")
	if err := os.WriteFile(aliases, []byte("postmaster: root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t, fmt.Sprintf("mynetworks = []\n[local]\naliases = %q", aliases))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	c.expect("MAIL FROM:<stranger@example.org>", 250)
	c.expect("RCPT TO:<Postmaster>", 250)
	c.expect("DATA", 354)
	c.send("Subject: abuse report\r\n\r\nfor the postmaster\r\n.\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	c.expect("QUIT", 221)
	deadline := time.Now().Add(20 * time.Second)
	for len(d.mailbox("root")) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("root's mailbox is empty\n%s", d.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := d.mailbox("root")[0]; !strings.Contains(m, "for the postmaster") || !strings.Contains(m, "Delivered-To: root@") {
		t.Errorf("root's copy:\n%s", m)
	}
}

// Scenario 17b: the error and free-space knobs reach smtpd: at
// smtpd.hard_error_limit errors the daemon says 421 and closes, and a
// queue_minfree larger than any disk refuses MAIL with 452 4.3.1.
func TestT17ErrorLimitAndMinFree(t *testing.T) {
	d := newDaemon(t, "\n[smtpd]\nhard_error_limit = 3\nerror_sleep_time = \"0\"\nqueue_minfree = 9000000000000000000")
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.cmd("MAIL FROM:<alice@example.org>"); code != 452 || !strings.HasPrefix(text, "4.3.1") {
		t.Errorf("MAIL on a 'full' spool: %d %s", code, text)
	}
	c.expect("MAIL FROM:<not an address>", 501)
	c.send("MAIL FROM:<still not>\r\n")
	if code, _ := c.reply(); code != 501 {
		t.Errorf("third error: %d", code)
	}
	if code, text := c.reply(); code != 421 || !strings.HasPrefix(text, "4.7.0") {
		t.Errorf("after the hard error limit: %d %s", code, text)
	}
}
