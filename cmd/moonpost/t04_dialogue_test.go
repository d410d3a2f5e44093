package main

import (
	"fmt"
	"strings"
	"testing"
)

// Scenario 4: SMTP dialogues against the real daemon from an untrusted
// client (mynetworks empty): relay denied, limits, sequencing, syntax.
func TestT04PolicyAndLimits(t *testing.T) {
	d := newDaemon(t, "mynetworks = []\n[smtpd]\nmessage_size_limit = 2000\nrecipient_limit = 3")
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	c.expect("RCPT TO:<bob@local.test>", 503)
	c.expect("MAIL FROM:<not an address>", 501)
	c.expect("MAIL FROM:<alice@example.org> SIZE=999999", 552)
	c.expect("MAIL FROM:<alice@example.org>", 250)
	if _, text := c.cmd("RCPT TO:<victim@elsewhere.example>"); !strings.Contains(text, "5.7.1") {
		t.Errorf("relay: %s", text)
	}
	c.expect("RCPT TO:<victim@elsewhere.example>", 554)
	c.expect("RCPT TO:<bob%elsewhere.example@local.test>", 250) // a local address; never relayed
	c.expect("RCPT TO:<bob@local.test>", 250)
	c.expect("RCPT TO:<carol@local.test>", 250)
	c.expect("RCPT TO:<dave@local.test>", 452)
	c.expect("DATA", 354)
	c.send("Subject: big\r\n\r\n" + strings.Repeat("x", 3000) + "\r\n.\r\n")
	if code, _ := c.reply(); code != 552 {
		t.Errorf("oversize DATA: %d", code)
	}
	c.expect("QUIT", 221)
	if n := len(d.queued("incoming")) + len(d.queued("active")) + len(d.queued("deferred")); n != 0 {
		t.Errorf("%d messages queued by refused transactions", n)
	}
	if !strings.Contains(d.logs(), "Relay access denied") {
		t.Error("relay refusal not logged")
	}
}

// Scenario 4b: every known end-of-data look-alike yields exactly one
// message, with the smuggled commands inside it.
func TestT04SmugglingYieldsOneMessage(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	variants := []string{"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\r.\r", "\n.\r"}
	for i, v := range variants {
		c := dial(t, d.addr)
		c.expect("EHLO client.test", 250)
		c.expect("MAIL FROM:<alice@example.org>", 250)
		c.expect("RCPT TO:<bob@local.test>", 250)
		c.expect("DATA", 354)
		smuggled := fmt.Sprintf("MAIL FROM:<evil@example.org>\r\nRCPT TO:<smuggled%d@local.test>\r\nDATA\r\nSubject: smuggled\r\n", i)
		c.send(fmt.Sprintf("Subject: v%d\r\n\r\nhello%s%s\r\n.\r\n", i, v, smuggled))
		if code, text := c.reply(); code != 250 {
			t.Fatalf("variant %q: %d %s", v, code, text)
		}
		c.expect("QUIT", 221)
	}
	d.waitLog("relay=local, delay=", len(variants))
	box := d.mailbox("bob")
	if len(box) != len(variants) {
		t.Fatalf("bob got %d messages for %d transactions\n%s", len(box), len(variants), d.logs())
	}
	for i := range variants {
		if n := len(d.mailbox(fmt.Sprintf("smuggled%d", i))); n != 0 {
			t.Errorf("variant %d: smuggled message delivered", i)
		}
	}
	for _, m := range box {
		if !strings.Contains(m, "RCPT TO:<smuggled") {
			t.Errorf("smuggled text not kept inside the message:\n%s", m)
		}
	}
}
