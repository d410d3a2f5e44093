package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/smtpd"
)

// Scenario 2: sendmail while the daemon is down; the mail waits in
// maildrop/ and is delivered once the daemon starts.
func TestT02SendmailWhileDown(t *testing.T) {
	d := newDaemon(t, "")
	code, out := d.run("From someone Sat Jan  1 00:00:00 2000\nSubject: t02\nTo: bob@local.test\n\nfirst line\n.\nafter the dot\n",
		"sendmail", "-t", "-F", "Alice Example", "-f", "alice")
	if code != 0 {
		t.Fatalf("sendmail exit %d: %s", code, out)
	}
	if n := len(d.queued("maildrop")); n != 1 {
		t.Fatalf("%d files in maildrop", n)
	}
	d.start()
	d.waitLog("relay=local, delay=", 1)
	box := d.mailbox("bob")
	if len(box) != 1 {
		t.Fatalf("bob has %d messages", len(box))
	}
	m := box[0]
	for _, want := range []string{"From: \"Alice Example\" <alice@mx.test>", "Subject: t02", "first line"} {
		if !strings.Contains(m, want) {
			t.Errorf("missing %q in\n%s", want, m)
		}
	}
	if strings.Contains(m, "after the dot") || strings.Contains(m, "From someone") {
		t.Errorf("dot or From_ line handled wrong:\n%s", m)
	}
}

// Scenario 2b: sendmail's exit codes follow sysexits.
func TestT02SendmailExitCodes(t *testing.T) {
	d := newDaemon(t, "")
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"sendmail"}, 64},                           // no recipients
		{[]string{"sendmail", "-Z", "x@y"}, 64},              // unknown option
		{[]string{"sendmail", "bad\rname@x"}, 65},            // bad address
		{[]string{"sendmail", "-R", "sometimes", "a@b"}, 64}, // bad -R
		{[]string{"sendmail", "-i", "ok@local.test"}, 0},
	}
	for _, c := range cases {
		if code, out := d.run("Subject: x\n\nbody\n", c.args...); code != c.want {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.want, out)
		}
	}
	bad := newDaemon(t, "bogus_key = 1")
	if code, _ := bad.run("x", "sendmail", "a@b"); code != 78 {
		t.Errorf("bad config: exit %d, want 78", code)
	}
}

// Scenario 2c: sendmail -bs speaks SMTP on stdin/stdout into the maildrop.
func TestT02SendmailBS(t *testing.T) {
	d := newDaemon(t, "")
	dialogue := "EHLO local\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\nSubject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n"
	code, out := d.run(dialogue, "sendmail", "-bs")
	if code != 0 || !strings.Contains(out, "250 2.0.0 Ok: queued as ") || !strings.Contains(out, "221") {
		t.Fatalf("-bs: %d\n%s", code, out)
	}
	if n := len(d.queued("maildrop")); n != 1 {
		t.Fatalf("%d maildrop files", n)
	}
}

// Scenario 2d: moonpost passwd writes a line the submission listener's
// password file accepts.
func TestT02PasswdLine(t *testing.T) {
	d := newDaemon(t, "")
	code, out := d.run("s3cret\n", "passwd", "alice")
	if code != 0 || !strings.HasPrefix(out, "alice:{PBKDF2-SHA256}") {
		t.Fatalf("passwd: %d %q", code, out)
	}
	pf := smtpd.PasswordFile{Path: filepath.Join(d.dir, "passwd")}
	os.WriteFile(pf.Path, []byte(out), 0o600)
	for pass, want := range map[string]bool{"s3cret": true, "wrong": false} {
		if ok, err := pf.Authenticate(context.Background(), "alice", pass); err != nil || ok != want {
			t.Errorf("%q: %v %v", pass, ok, err)
		}
	}
	if code, _ := d.run("", "passwd", "bad:user"); code != 64 {
		t.Errorf("bad user: exit %d", code)
	}
}
