package main

import (
	"net"
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
