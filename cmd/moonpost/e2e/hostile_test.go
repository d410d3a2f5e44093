package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// TestHostileScripts drives misbehaving handlers through the daemon:
// each is contained with 451 4.3.0, the session and the daemon go on,
// and a well-behaved message is still delivered afterwards.
func TestHostileScripts(t *testing.T) {
	d := e2e.Setup(t, "testdata/hostile")
	d.Start()
	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO hostile.test", 250)
	c.Expect("MAIL FROM:<s@remote.test>", 250)
	for _, who := range []string{"loop", "deep", "huge", "error", "evil" + strings.Repeat("a", 60)} {
		start := time.Now()
		code, text := c.Cmd("RCPT TO:<" + who + "@mx.test>")
		if code != 451 || !strings.HasPrefix(text, "4.3.0") {
			t.Errorf("%s: %d %s, want 451 4.3.0", who, code, text)
		}
		// call_timeout is 300ms; the margin is for a loaded machine.
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: answered after %v", who, d)
		}
	}
	c.Expect("RCPT TO:<alice@mx.test>", 250)
	if code, text := c.Data("Subject: boom\n\nx\n"); code != 451 || !strings.HasPrefix(text, "4.3.0") {
		t.Errorf("error in cleanup: %d %s, want 451 4.3.0", code, text)
	}
	// A handle kept from one message and used in the next fails that
	// message temporarily; the first one is queued normally.
	if code, text := c.Send("s@remote.test", []string{"alice@mx.test"}, "Subject: stash\n\nx\n"); code != 250 {
		t.Errorf("stash: %d %s", code, text)
	}
	if code, text := c.Send("s@remote.test", []string{"alice@mx.test"}, "Subject: use stash\n\nx\n"); code != 451 {
		t.Errorf("stashed handle: %d %s, want 451", code, text)
	}
	if code, text := c.Send("s@remote.test", []string{"alice@mx.test"}, "Subject: fine\n\nx\n"); code != 250 {
		t.Errorf("after the hostile calls: %d %s", code, text)
	}
	c.Cmd("QUIT")
	e2e.Mail(t, d.Addr, "s@remote.test", []string{"bob@mx.test"}, "Subject: new session\n\nx\n")
	d.WaitMaildir("spool/mail/alice", 2)
	d.WaitMaildir("spool/mail/bob", 1)
	logs := d.Logs()
	for _, want := range []string{"10-hostile.lua", "generation=1", "broken cleanup handler"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// TestHookBreaker: a rcpt handler that fails on every call opens its
// circuit breaker after breaker_threshold calls; 150 failures write one
// "hook failed" line and one smtpd "policy error" line (the interval is
// 10s), the opening is logged once, and moonpost status shows the open
// breaker.
func TestHookBreaker(t *testing.T) {
	d := e2e.Setup(t, "testdata/hostile")
	d.Start()
	for range 15 {
		c := e2e.Dial(t, d.Addr)
		c.Expect("EHLO hostile.test", 250)
		c.Expect("MAIL FROM:<s@remote.test>", 250)
		for range 10 {
			if code, _ := c.Cmd("RCPT TO:<error@mx.test>"); code != 451 {
				t.Fatalf("failing handler: %d, want 451", code)
			}
		}
		c.Cmd("QUIT")
	}
	d.WaitLog("circuit breaker open", 1)
	logs := d.Logs()
	if n := strings.Count(logs, "hook failed"); n < 1 || n > 2 {
		t.Errorf("%d \"hook failed\" lines for 150 failures, want 1 (2 if an interval passed)", n)
	}
	if n := strings.Count(logs, "NOQUEUE: policy error"); n < 1 || n > 2 {
		t.Errorf("%d smtpd policy error lines for 150 failures, want 1 (2 if an interval passed)", n)
	}
	if n := strings.Count(logs, "circuit breaker open"); n != 1 {
		t.Errorf("%d breaker lines, want 1", n)
	}
	if code, out := d.Run("status"); code != 0 || !strings.Contains(out, "circuit breakers: rcpt open") {
		t.Errorf("status (exit %d) does not show the open breaker:\n%s", code, out)
	}
}
