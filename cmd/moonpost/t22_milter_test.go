package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gomilter "github.com/emersion/go-milter"
)

// tagMilter adds one header field to every message.
type tagMilter struct {
	gomilter.NoOpMilter
	name string
}

func (m tagMilter) Body(mod *gomilter.Modifier) (gomilter.Response, error) {
	mod.AddHeader(m.name, "seen")
	return gomilter.RespAccept, nil
}

func startTagMilter(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &gomilter.Server{NewMilter: func() gomilter.Milter { return tagMilter{name: name} }, Actions: gomilter.OptAddHeader}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "inet:" + ln.Addr().String()
}

// Scenario 22: [[milter]] tables in the real daemon. Mail from the
// network passes every milter in order; mail from sendmail only those
// whose applies_to has "local"; the delivered messages carry their edits.
func TestT22Milters(t *testing.T) {
	d := newDaemon(t, `
[[milter]]
name = "network-only"
address = "`+startTagMilter(t, "X-Network-Milter")+`"

[[milter]]
name = "everything"
address = "`+startTagMilter(t, "X-Every-Milter")+`"
applies_to = ["smtpd", "local"]
`)
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.message("alice@example.org", []string{"bob@local.test"}, "Subject: t22 smtp\r\n\r\nover smtp"); code != 250 {
		t.Fatalf("DATA reply %d %s", code, text)
	}
	c.expect("QUIT", 221)
	if code, out := d.run("Subject: t22 local\nTo: carol@local.test\n\nfrom sendmail\n", "sendmail", "-t", "-f", "alice"); code != 0 {
		t.Fatalf("sendmail exit %d: %s", code, out)
	}
	d.waitLog("relay=local, delay=", 2)
	bob, carol := d.mailbox("bob"), d.mailbox("carol")
	if len(bob) != 1 || !strings.Contains(bob[0], "X-Network-Milter: seen") || !strings.Contains(bob[0], "X-Every-Milter: seen") {
		t.Errorf("smtp message: %q", bob)
	}
	if len(carol) != 1 || strings.Contains(carol[0], "X-Network-Milter") || !strings.Contains(carol[0], "X-Every-Milter: seen") {
		t.Errorf("sendmail message: %q", carol)
	}
}

// trapMilter refuses one recipient with a reply of its own, at RCPT.
type trapMilter struct{ gomilter.NoOpMilter }

func (trapMilter) RcptTo(to string, _ *gomilter.Modifier) (gomilter.Response, error) {
	if strings.HasPrefix(to, "trap@") || strings.HasPrefix(to, "vip-trap@") {
		return gomilter.NewResponseStr('y', "550 5.7.1 Spamtrap address"), nil
	}
	return gomilter.RespContinue, nil
}

func (trapMilter) Body(mod *gomilter.Modifier) (gomilter.Response, error) {
	mod.AddHeader("X-Trap-Milter", "seen")
	return gomilter.RespAccept, nil
}

// trapScript lets the milter's RCPT refusal stand, except for vip-trap,
// and records what it saw in a header.
const trapScript = `
mta.on("milter", function(result, msg)
  if result.phase == "rcpt" and result.rcpt == "vip-trap@local.test" then
    result.add_header("X-Judged", result.phase .. " " .. result.rcpt .. " " .. result.code)
    return mta.accept()
  end
end)
`

// Scenario 22b: the daemon calls its milters live at each SMTP phase: a
// milter's refusal at RCPT, with its own reply, answers that RCPT; the
// Lua "milter" event sees it (phase, recipient, code) and may override
// it; the message reaches the other recipients with the milter's edit.
func TestT22MilterLivePhases(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &gomilter.Server{NewMilter: func() gomilter.Milter { return trapMilter{} }, Actions: gomilter.OptAddHeader}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	d := newDaemon(t, "[hooks]\ndir = \"scripts\"\n\n[[milter]]\nname = \"trap\"\naddress = \"inet:"+ln.Addr().String()+"\"\n")
	if err := os.MkdirAll(filepath.Join(d.dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "scripts", "10-milter.lua"), []byte(trapScript), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	c.expect("MAIL FROM:<alice@example.org>", 250)
	if code, text := c.cmd("RCPT TO:<trap@local.test>"); code != 550 || text != "5.7.1 Spamtrap address" {
		t.Errorf("RCPT to the trap: %d %q", code, text)
	}
	c.expect("RCPT TO:<vip-trap@local.test>", 250)
	c.expect("RCPT TO:<bob@local.test>", 250)
	c.expect("DATA", 354)
	c.send("Subject: t22 live\r\n\r\nlive phases\r\n.\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	c.expect("QUIT", 221)
	d.waitLog("relay=local, delay=", 2)
	bob := d.mailbox("bob")
	if len(bob) != 1 || !strings.Contains(bob[0], "X-Trap-Milter: seen") ||
		!strings.Contains(bob[0], "X-Judged: rcpt vip-trap@local.test 550") {
		t.Errorf("bob's message: %q", bob)
	}
	if len(d.mailbox("trap")) != 0 {
		t.Error("the trap got mail")
	}
	if !strings.Contains(d.logs(), "NOQUEUE: milter-reject: RCPT from unknown[127.0.0.1]: 550 5.7.1 Spamtrap address; milter=trap") {
		t.Errorf("no milter-reject line:\n%s", d.logs())
	}
}
