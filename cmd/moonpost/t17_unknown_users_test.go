package main

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Scenario 17: the default policy refuses unknown local users at RCPT
// (local_recipient_maps), so a stranger cannot create mailboxes with
// routing characters in their names; a listed user, an account of the
// system, the user running the daemon and postmaster still get mail.
func TestT17UnknownLocalUsersRefused(t *testing.T) {
	d := newDaemon(t, `local_recipient_maps = ["passwd", "users"]`)
	if err := os.WriteFile(filepath.Join(d.dir, "users"), []byte("alice ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	c.expect("MAIL FROM:<stranger@remote.test>", 250)
	for _, rcpt := range []string{"v1%example.net@mx.test", "example.net!v2@mx.test", `"v3@example.net"@mx.test`, "no-such-user@localhost"} {
		code, text := c.cmd("RCPT TO:<" + rcpt + ">")
		if code != 550 || !strings.HasPrefix(text, "5.1.1 ") || !strings.Contains(text, "User unknown") {
			t.Errorf("RCPT %s: %d %s, want 550 5.1.1", rcpt, code, text)
		}
	}
	for _, rcpt := range []string{"alice@mx.test", "Alice+news@local.test", "postmaster@mx.test", me.Username + "@localhost"} {
		c.expect("RCPT TO:<"+rcpt+">", 250)
	}
	if code, text := c.Data("Subject: hi\n\nhello\n"); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	d.WaitMaildir("spool/mail/alice", 2)
	d.WaitMaildir("spool/mail/postmaster", 1)
	d.WaitMaildir(filepath.Join("spool/mail", strings.ToLower(me.Username)), 1)
	ents, _ := os.ReadDir(filepath.Join(d.dir, "spool", "mail"))
	var boxes []string
	for _, e := range ents {
		boxes = append(boxes, e.Name())
	}
	want := []string{"alice", "postmaster", strings.ToLower(me.Username)}
	slices.Sort(want)
	if !slices.Equal(boxes, want) {
		t.Errorf("mailboxes %q, want only %q", boxes, want)
	}
	if !strings.Contains(d.logs(), "User unknown in local recipient table") {
		t.Errorf("the refusals are not logged:\n%s", d.logs())
	}
}

// Scenario 17b: with local_recipient_maps left at its default (passwd
// and the aliases file) the user running the daemon and postmaster get
// their mail out of the box, and strangers' names are refused.
func TestT17DefaultKnowsTheRunningUser(t *testing.T) {
	d := newDaemon(t, "# local_recipient_maps: the default")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	c.expect("MAIL FROM:<stranger@remote.test>", 250)
	if code, text := c.cmd("RCPT TO:<v1%example.net@localhost>"); code != 550 || !strings.HasPrefix(text, "5.1.1 ") {
		t.Errorf("RCPT v1%%example.net: %d %s, want 550 5.1.1", code, text)
	}
	c.expect("RCPT TO:<"+me.Username+"@mx.test>", 250)
	c.expect("RCPT TO:<Postmaster@localhost>", 250)
	if code, text := c.Data("Subject: hi\n\nhello\n"); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	d.WaitMaildir(filepath.Join("spool/mail", strings.ToLower(me.Username)), 1)
	d.WaitMaildir("spool/mail/postmaster", 1)
}
