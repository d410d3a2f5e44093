package dmarc

import (
	"strings"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
	"github.com/moonpost/moonpost/core/dns/dnstest"
)

func TestMain(m *testing.M) { e2e.Main(m) }

func TestDMARCRejectAndQuarantine(t *testing.T) {
	ns := dnstest.NewServer(t)
	ns.Add(t,
		`good.test. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`,
		`_dmarc.good.test. 300 IN TXT "v=DMARC1; p=reject"`,
		`_dmarc.reject.test. 300 IN TXT "v=DMARC1; p=reject"`,
		`_dmarc.quarantine.test. 300 IN TXT "v=DMARC1; p=quarantine"`)
	d := e2e.Setup(t, ".", "127.0.0.1:5300", ns.Addr)
	d.Start()
	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO client.test", 250)
	send := func(from, hdrFrom, subject string) (int, string) {
		return c.Send(from, []string{"alice@example.test"}, "From: "+hdrFrom+"\nSubject: "+subject+"\n\nbody\n")
	}
	if code, text := send("news@good.test", "news@good.test", "aligned"); code != 250 {
		t.Fatalf("aligned SPF pass: %d %s", code, text)
	}
	if code, text := send("x@spoof.test", "ceo@reject.test", "spoof"); code != 550 || !strings.HasPrefix(text, "5.7.1 Rejected by the DMARC policy of reject.test") {
		t.Errorf("p=reject: %d %s", code, text)
	}
	// The data hook decided, with the results of the checks.
	d.WaitLog("reject: DATA from unknown[127.0.0.1]: 550 5.7.1 Rejected by the DMARC policy of reject.test; from=<x@spoof.test> proto=ESMTP generation=1", 1)
	if code, text := send("x@spoof.test", "ceo@quarantine.test", "held"); code != 250 {
		t.Errorf("p=quarantine: %d %s", code, text)
	}
	c.Cmd("QUIT")
	m := d.WaitMaildir("spool/mail/alice", 1)[0]
	unfolded := strings.NewReplacer("\r\n ", " ", "\n ", " ").Replace(m)
	if !strings.Contains(m, "Subject: aligned") || !strings.Contains(unfolded, "dmarc=pass header.from=good.test") {
		t.Errorf("delivered:\n%s", m)
	}
	if held := d.Queued("hold"); len(held) != 1 {
		t.Errorf("hold/ has %v, want the quarantined message", held)
	}
}
