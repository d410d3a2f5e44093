package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Scenario 6: sendmail to a local alias; the alias fans out to two
// mailboxes and a command, and "postmaster" maps to root.
func TestT06SendmailThroughAliases(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "piped")
	aliases := filepath.Join(dir, "aliases")
	os.WriteFile(aliases, []byte(fmt.Sprintf(`# test aliases
postmaster: root
team: bob,
	carol, "|/bin/sh -c 'cat > %s'"
`, out)), 0o644)
	d := newDaemon(t, fmt.Sprintf("[local]\naliases = %q", aliases))
	d.start()
	if code, o := d.run("Subject: to the team\n\nhello team\n", "sendmail", "-f", "alice@example.org", "team@local.test"); code != 0 {
		t.Fatalf("sendmail %d %s", code, o)
	}
	if code, o := d.run("Subject: to postmaster\n\nhi\n", "sendmail", "postmaster"); code != 0 {
		t.Fatalf("sendmail %d %s", code, o)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(d.mailbox("bob")) < 1 || len(d.mailbox("carol")) < 1 || len(d.mailbox("root")) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("mailboxes bob=%d carol=%d root=%d\n%s", len(d.mailbox("bob")), len(d.mailbox("carol")), len(d.mailbox("root")), d.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := d.mailbox("bob")[0]; !strings.Contains(m, "hello team") || !strings.Contains(m, "Delivered-To: bob@") {
		t.Errorf("bob's copy:\n%s", m)
	}
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(out); err == nil && strings.Contains(string(b), "hello team") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the |command target never ran\n%s", d.logs())
}

// :include: lists are read from [local] include_dirs, and refused elsewhere.
func TestT06IncludeFromConfiguredDir(t *testing.T) {
	dir := t.TempDir()
	lists := filepath.Join(dir, "lists")
	os.Mkdir(lists, 0o755)
	os.WriteFile(filepath.Join(lists, "staff"), []byte("# the staff\ndave, erin\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "outside"), []byte("frank\n"), 0o644)
	aliases := filepath.Join(dir, "aliases")
	os.WriteFile(aliases, []byte(fmt.Sprintf("staff: :include:%s\nstray: :include:%s\n",
		filepath.Join(lists, "staff"), filepath.Join(dir, "outside"))), 0o644)
	d := newDaemon(t, fmt.Sprintf("[local]\naliases = %q\ninclude_dirs = [%q]", aliases, lists))
	d.start()
	for _, rcpt := range []string{"staff@local.test", "stray@local.test"} {
		if code, o := d.run("Subject: hi\n\nhello staff\n", "sendmail", "-f", "alice@example.org", rcpt); code != 0 {
			t.Fatalf("sendmail %d %s", code, o)
		}
	}
	d.WaitMaildir(filepath.Join("spool", "mail", "dave"), 1)
	d.WaitMaildir(filepath.Join("spool", "mail", "erin"), 1)
	d.waitLog("to=<stray@local.test>", 1)
	if !strings.Contains(d.logs(), "status=bounced") || len(d.mailbox("frank")) != 0 {
		t.Errorf("an :include: outside include_dirs was not refused\n%s", d.logs())
	}
}
