package smtpd

import (
	"strings"
	"testing"
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

// Listeners cannot change without a restart; the refused configuration
// changes nothing.
func TestReconfigureRefusesNewListeners(t *testing.T) {
	ts := startServer(t, nil)
	cfg := *ts.srv.config()
	cfg.Listeners = append([]Listener(nil), cfg.Listeners[:1]...)
	cfg.MaxRecipients = 1
	if err := ts.srv.Reconfigure(cfg); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("Reconfigure with other listeners: %v", err)
	}
	if ts.srv.config().MaxRecipients == 1 {
		t.Error("a refused configuration was applied")
	}
}
