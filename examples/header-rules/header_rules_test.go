package headerrules

import (
	"strings"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }

func TestHeaderRules(t *testing.T) {
	d := e2e.Setup(t, ".")
	d.Start()
	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO client.test", 250)
	send := func(hdr string) (int, string) {
		return c.Send("s@remote.test", []string{"alice@example.test"}, hdr+"\n\nbody\n")
	}
	if code, text := send("Subject: hello\nX-Originating-IP: 192.0.2.7\nX-Priority: 1 (Highest)"); code != 250 {
		t.Fatalf("plain: %d %s", code, text)
	}
	if code, text := send("Subject: your invoice 42"); code != 250 {
		t.Fatalf("held: %d %s", code, text)
	}
	if code, text := send("Subject: you won the lottery"); code != 250 {
		t.Fatalf("discarded: %d %s", code, text)
	}
	if code, text := send("Subject: cheap viagra"); code != 554 || text != "5.7.1 Message content rejected by policy" {
		t.Errorf("rejected: %d %s", code, text)
	}
	if code, text := send("Subject: news\nX-Mailer: MassMailer 2"); code != 550 || !strings.HasPrefix(text, "5.7.1 Bulk") {
		t.Errorf("rejected by X-Mailer: %d %s", code, text)
	}
	c.Cmd("QUIT")

	got := d.WaitMaildir("spool/mail/alice", 1)
	m := got[0]
	for _, want := range []string{"X-Policy: header-rules on mx.example.test", "X-Priority: 3 (Normal)", "Subject: hello"} {
		if !strings.Contains(m, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, m)
		}
	}
	if strings.Contains(m, "X-Originating-IP") {
		t.Errorf("X-Originating-IP kept:\n%s", m)
	}
	if held := d.Queued("hold"); len(held) != 1 {
		t.Errorf("hold/ has %v, want the invoice", held)
	}
	d.WaitLog("lottery", 1)
	if n := len(d.Maildir("spool/mail/alice")); n != 1 {
		t.Errorf("%d messages delivered, want 1 (the others held, discarded, rejected)", n)
	}
}
