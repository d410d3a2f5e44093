package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/internal/interop"
)

// Scenario 8: the full path to a real receiving MTA: smtpd -> cleanup ->
// queue -> qmgr -> smtp -> a private Postfix instance, which delivers to
// its own Maildir; a recipient Postfix refuses bounces back.
func TestT08RelayToPostfix(t *testing.T) {
	port, err := interop.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pf := interop.StartPostfix(t, port, "remote.test", "smtpd_recipient_restrictions = check_recipient_access inline:{ {refuse@remote.test=REJECT no such user} }, permit_mynetworks, reject")
	d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%d\"", port))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	code, text := c.message("alice@local.test", []string{"bob@remote.test", "refuse@remote.test"},
		"Subject: to postfix\r\n\r\nhello postfix\r\n..dotted")
	if code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(pf.Mailbox()) == 0 || len(d.mailbox("alice")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("postfix got %d, bounce %d\nmoonpost:\n%s\npostfix:\n%s", len(pf.Mailbox()), len(d.mailbox("alice")), d.logs(), pf.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := pf.Mailbox()[0]
	if !strings.Contains(m, "hello postfix\n.dotted") || !strings.Contains(m, "by mx.test (moonpost)") {
		t.Errorf("postfix stored:\n%s", m)
	}
	if b := d.mailbox("alice")[0]; !strings.Contains(b, "refuse@remote.test") || !strings.Contains(b, "5.7.1") && !strings.Contains(b, "5.1.1") && !strings.Contains(b, "Status: 5.") {
		t.Errorf("bounce:\n%s", b)
	}
	if !strings.Contains(d.logs(), "status=sent (Ok: queued as") {
		t.Errorf("no sent line naming Postfix's queue ID:\n%s", d.logs())
	}
}
