package smtpd

import (
	"net"
	"strings"
	"testing"
	"time"
)

// A new session takes the settings of a reconfiguration, banner and
// recipient limit included; a session in progress finishes under the
// settings it began with.
func TestReconfigureAppliesToNewSessions(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxRecipients = 3 })
	old := dialReady(t, ts.smtp)
	old.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	old.cmd("RCPT TO:<r1@local.example>").expect("250 ")
	old.cmd("RCPT TO:<r2@local.example>").expect("250 ")

	cfg := *ts.srv.config()
	cfg.MaxRecipients, cfg.Hostname, cfg.Banner = 1, "mx2.local.example", "ESMTP ready for you"
	if err := ts.srv.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	cl := dial(t, ts.smtp)
	if banner := cl.expect("220 "); banner != "220 mx2.local.example ESMTP ready for you" {
		t.Errorf("banner of a new session %q", banner)
	}
	ehlo := cl.cmd("EHLO client.example").expect("250 ")
	if !strings.Contains(ehlo, "RCPTMAX=1") {
		t.Errorf("EHLO of a new session does not say the new limit: %q", ehlo)
	}
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<r1@local.example>").expect("250 ")
	cl.cmd("RCPT TO:<r2@local.example>").expect("452 ")
	cl.cmd("QUIT").expect("221 ")

	// The session that began before goes on under its own limit.
	old.cmd("RCPT TO:<r3@local.example>").expect("250 ")
	old.cmd("DATA").expect("354 ")
	old.send("Subject: x\r\n\r\nbody\r\n.\r\n").expect("250 ")
	old.cmd("QUIT").expect("221 ")
	if envs, _ := ts.sub.calls(); len(envs) != 1 || len(envs[0].Recipients) != 3 {
		t.Errorf("submitted %d messages", len(envs))
	}
}

// Listeners are added and removed live: a removed one stops accepting
// while its session in progress finishes, an added one serves at once,
// the kept one keeps its socket; a listener that cannot be bound
// refuses the whole change.
func TestReconfigureAddsAndRemovesListeners(t *testing.T) {
	ts := startServer(t, nil)
	subm := ts.srv.Addrs()[1].String()
	inProgress := dialReady(t, subm)

	// A socket another process holds: the change is refused, nothing moves.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := ts.srv.Settings()
	cfg.Listeners = []Listener{cfg.Listeners[0], {Name: "smtp", Addr: taken.Addr().String()}}
	cfg.MaxRecipients = 1
	if err := ts.srv.Reconfigure(cfg); err == nil {
		t.Fatal("a listener on a taken address was accepted")
	}
	if ts.srv.config().MaxRecipients == 1 || len(ts.srv.Addrs()) != 2 {
		t.Fatal("a refused configuration was applied")
	}

	// Drop submission, add a second smtp listener.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	added := free.Addr().String()
	free.Close()
	cfg = ts.srv.Settings()
	cfg.Listeners = []Listener{cfg.Listeners[0], {Name: "smtp", Addr: added}}
	if err := ts.srv.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if got := ts.srv.Addrs(); len(got) != 2 || got[0].String() != ts.smtp || got[1].String() != added {
		t.Fatalf("listening on %v, want %s and %s", got, ts.smtp, added)
	}
	dialReady(t, added).cmd("QUIT").expect("221 ")
	dialReady(t, ts.smtp).cmd("QUIT").expect("221 ")
	if c, err := net.DialTimeout("tcp", subm, time.Second); err == nil {
		c.Close()
		t.Errorf("the removed listener %s still accepts", subm)
	}
	// The session on the removed listener goes on to the end.
	inProgress.cmd("NOOP").expect("250 ")
	inProgress.cmd("QUIT").expect("221 ")
}
