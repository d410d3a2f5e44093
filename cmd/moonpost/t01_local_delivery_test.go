package main

import (
	"strings"
	"testing"
)

// Scenario 1: mail in over SMTP to local users lands in their Maildirs;
// the 250 names the queue ID; queue list and show see queued mail.
func TestT01SMTPToLocalMaildir(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	code, text := c.message("alice@example.org", []string{"bob@local.test", "carol@localhost"},
		"Subject: t01\r\nMessage-ID: <t01@example.org>\r\n\r\nhello bob")
	if code != 250 || !strings.HasPrefix(text, "2.0.0 Ok: queued as ") {
		t.Fatalf("DATA reply %d %s", code, text)
	}
	id := queuedID(text)
	c.expect("QUIT", 221)
	d.waitLog(id+": removed", 1)
	for _, user := range []string{"bob", "carol"} {
		box := d.mailbox(user)
		if len(box) != 1 || !strings.Contains(box[0], "Message-ID: <t01@example.org>") ||
			!strings.Contains(box[0], "Received: from client.test") || !strings.Contains(box[0], "Delivered-To: ") {
			t.Fatalf("%s's mailbox: %q", user, box)
		}
	}
	if !strings.Contains(d.logs(), id+": to=<bob@local.test>, relay=local") {
		t.Errorf("no Postfix-style delivery line:\n%s", d.logs())
	}
}

// Scenario 1b: queue list and queue show read held or waiting mail.
func TestT01QueueListAndShow(t *testing.T) {
	d := newDaemon(t, "")
	// No daemon: mail waits in the maildrop, visible to the queue tools.
	if code, out := d.run("Subject: waiting\n\nbody\n", "sendmail", "-f", "alice@example.org", "bob@remote.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	code, out := d.run("", "queue", "list")
	if code != 0 || !strings.Contains(out, "alice@example.org") || !strings.Contains(out, "bob@remote.test") {
		t.Fatalf("queue list: %d\n%s", code, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	code, out = d.run("", "queue", "show", id)
	if code != 0 || !strings.Contains(out, "sender: alice@example.org") || !strings.Contains(out, "Subject: waiting") {
		t.Fatalf("queue show: %d\n%s", code, out)
	}
	if code, _ := d.run("", "queue", "show", "../../etc/passwd"); code == 0 {
		t.Fatal("queue show accepted a path")
	}
	code, out = d.run("", "queue", "list", "--json")
	if code != 0 || !strings.Contains(out, `"queue_name":"maildrop"`) {
		t.Fatalf("queue list --json: %s", out)
	}
	// The filters are the actions' (core/admin's).
	code, out = d.run("", "queue", "list", "--filter", "rcpt_domain=remote.test", "--filter", "state=maildrop")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "1 Request.") {
		t.Fatalf("queue list --filter rcpt_domain=remote.test: %d\n%s", code, out)
	}
	code, out = d.run("", "queue", "list", "--filter", "sender=nobody@example.org")
	if code != 0 || strings.Contains(out, id) || !strings.Contains(out, "Mail queue is empty") {
		t.Fatalf("queue list --filter sender=nobody@example.org: %d\n%s", code, out)
	}
	if code, out = d.run("", "queue", "list", "--filter", "colour=blue"); code == 0 {
		t.Fatalf("queue list took an unknown filter key: %s", out)
	}
}
