package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/pickup"
	"github.com/moonpost/moonpost/core/queue"
)

// relayForms are recipient spellings that try to reach elsewhere.example
// (or any other host) through a local domain's back door.
var relayForms = []string{
	"victim@elsewhere.example", "victim@ELSEWHERE.Example", "victim@elsewhere.example.",
	"@local.test:victim@elsewhere.example", "@local.test,@mx.test:victim@elsewhere.example",
	"victim%elsewhere.example@local.test", "victim%elsewhere.example", "elsewhere.example!victim@local.test",
	"elsewhere.example!victim", "\"victim@elsewhere.example\"@local.test", "\"victim%elsewhere.example\"@local.test",
	"victim@[127.0.0.1]", "victim@[IPv6:::1]", "victim@[192.0.2.1]", "victim@local.test.elsewhere.example",
	"victim@bücher.example", "victim@xn--bcher-kva.example", "victim@elsewhere.example@local.test",
	"victim@local.test@elsewhere.example", "victim@@local.test", "victim@LOCAL.TEST.", "Victim@Local.Test",
}

// Scenario 16: no open relay. From an untrusted client every address
// form is either refused or, when it is a local address, delivered
// locally: after resolution nothing reaches a remote server.
func TestT16NoOpenRelay(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, fmt.Sprintf("mynetworks = []\nrelayhost = \"[127.0.0.1]:%s\"\n[smtp]\ntls = \"none\"", s.port()))
	d.start()
	accepted := 0
	for _, rcpt := range relayForms {
		c := dial(t, d.addr)
		c.expect("EHLO client.test", 250)
		c.expect("MAIL FROM:<alice@example.org>", 250)
		code, text := c.cmd("RCPT TO:<" + rcpt + ">")
		switch {
		case code >= 500:
			continue
		case code != 250:
			t.Errorf("%s: %d %s", rcpt, code, text)
			continue
		}
		accepted++
		c.expect("DATA", 354)
		c.send("Subject: relay probe " + rcpt + "\r\n\r\nprobe\r\n.\r\n")
		if code, text := c.reply(); code != 250 {
			t.Errorf("%s: DATA %d %s", rcpt, code, text)
		}
	}
	// Wait for an outcome of each accepted message (delivered, bounced or
	// deferred) and for whatever that made (a bounce) to leave the queue,
	// then make sure none of it went to the relayhost.
	if accepted > 0 {
		d.waitLog(", delay=", accepted)
	}
	d.WaitQueueEmpty("maildrop", "incoming", "active")
	if msgs := s.received(); len(msgs) > 0 {
		for _, m := range msgs {
			t.Errorf("relayed for an untrusted client: to %v", m.To)
		}
	}
	t.Logf("FIGURES open-relay: forms=%d accepted_as_local=%d relayed=%d", len(relayForms), accepted, len(s.received()))
}

// Scenario 16b: CR and LF smuggled into envelope fields never become
// header lines in the queued message, nor commands to the next hop.
func TestT16EnvelopeFieldsCannotInjectHeaders(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtp]\ntls = \"none\"", s.port()))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO evil.test\rX-Injected: helo", 250)
	c.cmd("MAIL FROM:<alice@example.org> ENVID=a\rX-Injected:+envid")
	c.cmd("RSET")
	// An xtext-encoded CR is refused as malformed, or else must stay
	// encoded; either way no header may come of it.
	if code, _ := c.cmd("MAIL FROM:<alice@example.org> ENVID=a+0DX-Injected:+envid"); code != 250 {
		c.expect("MAIL FROM:<alice@example.org> ENVID=plain", 250)
	}
	c.cmd("RCPT TO:<bob@remote.test> ORCPT=rfc822;bob+0D+0AX-Injected:+orcpt@remote.test")
	c.cmd("RCPT TO:<carol@remote.test>\rX-Injected: rcpt")
	c.expect("RCPT TO:<dave@remote.test>", 250)
	c.expect("DATA", 354)
	c.send("Subject: inject\r\n\r\nbody\r\n.\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	for _, m := range waitSink(t, d, s, 1) {
		for _, line := range strings.Split(m.Data, "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, "\r"), "X-Injected") {
				t.Errorf("injected header line %q in:\n%s", line, m.Data)
			}
		}
		for _, r := range m.To {
			if strings.ContainsAny(r, "\r\n") {
				t.Errorf("recipient %q carries a line break to the next hop", r)
			}
		}
	}
}

// Scenario 16c: queue IDs given to the command line never become paths
// outside the spool.
func TestT16QueueIDsCannotEscapeTheSpool(t *testing.T) {
	d := newDaemon(t, "")
	outside := filepath.Join(d.dir, "outside")
	os.WriteFile(outside, []byte("moonpost-queue 1\n"), 0o600)
	for _, id := range []string{"../outside", "../../outside", "/etc/passwd", "..", ".", "incoming/../../outside", "660C553FF287CC033E/../../x"} {
		for _, args := range [][]string{{"queue", "show", id}, {"queue", "delete", id}, {"queue", "hold", id}} {
			code, out := d.run("", args...)
			if code == 0 {
				t.Errorf("%v succeeded: %s", args, out)
			}
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("file outside the spool touched: %v", err)
	}
}

// Scenario 16d: a submission listener without TLS never offers AUTH and
// refuses it when tried.
func TestT16NoAuthWithoutTLS(t *testing.T) {
	sub := freePort(t)
	pw := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(pw, []byte("alice:{PLAIN}secret\n"), 0o600)
	d := newDaemon(t, fmt.Sprintf("\n[smtpd]\nsubmission_listen = [%q]\npassword_file = %q", sub, pw))
	d.start()
	c := dial(t, sub)
	if text := c.expect("EHLO client.test", 250); strings.Contains(strings.ToUpper(text), "AUTH") {
		t.Errorf("AUTH offered without TLS:\n%s", text)
	}
	if code, text := c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA=="); code < 500 {
		t.Errorf("AUTH without TLS: %d %s", code, text)
	}
	if code, _ := c.cmd("MAIL FROM:<alice@example.org>"); code < 500 {
		t.Errorf("MAIL without AUTH on submission: %d", code)
	}
}

// Scenario 16e: bad maildrop files from local users are quarantined in
// corrupt/: a symlink, a file over the size limit, and garbage. The
// target of the symlink is untouched.
func TestT16MaildropValidated(t *testing.T) {
	d := newDaemon(t, "[pickup]\nscan_interval = \"1s\"\nmax_size = 2000")
	d.start()
	drop := filepath.Join(d.dir, "spool", "maildrop")
	target := filepath.Join(d.dir, "secret")
	os.WriteFile(target, []byte("not mail\n"), 0o600)
	now := time.Now()
	link, garbage := queue.NewID(now), queue.NewID(now.Add(time.Microsecond))
	if err := os.Symlink(target, filepath.Join(drop, string(link))); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(drop, string(garbage)), []byte("moonpost-queue 1\nS \x00\x01\nR\n"), 0o600)
	big, err := pickup.Post(filepath.Join(d.dir, "spool"), &queue.Envelope{Sender: "alice", Recipients: []queue.Recipient{{Addr: "bob"}}},
		strings.NewReader("Subject: big\n\n"+strings.Repeat("x", 5000)+"\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(d.queued("corrupt")) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	bad := d.queueIDs("corrupt")
	for _, id := range []queue.ID{link, garbage, big} {
		if !bad[string(id)] {
			t.Errorf("maildrop file %s not quarantined; corrupt/ has %v\n%s", id, bad, d.logs())
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "not mail\n" {
		t.Errorf("symlink target changed: %q", b)
	}
	if n := len(d.mailbox("bob")); n != 0 {
		t.Errorf("bob got %d messages from rejected maildrop files", n)
	}
}
