package rejectunknown

import (
	"strings"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }

func TestRejectUnknown(t *testing.T) {
	d := e2e.Setup(t, ".")
	d.Start()
	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO client.test", 250)
	c.Expect("MAIL FROM:<forged@remote.test>", 250)
	code, text := c.Cmd("RCPT TO:<nosuchuser@example.test>")
	if code != 550 || !strings.HasPrefix(text, "5.1.1") {
		t.Errorf("unknown user: %d %s, want 550 5.1.1", code, text)
	}
	c.Expect("RCPT TO:<alice+tag@example.test>", 250)
	c.Expect("RCPT TO:<Bob@Example.Test>", 250)
	if code, text := c.Data("Subject: hi\n\nx\n"); code != 250 {
		t.Fatalf("data: %d %s", code, text)
	}
	d.WaitMaildir("spool/mail/alice", 1)
	d.WaitMaildir("spool/mail/bob", 1)
	if q := d.Queued("deferred"); len(q) != 0 {
		t.Errorf("deferred: %v", q)
	}
}
