package e2e_test

import (
	"strings"
	"testing"

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
	for _, who := range []string{"loop", "deep", "huge", "error"} {
		code, text := c.Cmd("RCPT TO:<" + who + "@mx.test>")
		if code != 451 || !strings.HasPrefix(text, "4.3.0") {
			t.Errorf("%s: %d %s, want 451 4.3.0", who, code, text)
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
