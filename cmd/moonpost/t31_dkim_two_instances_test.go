package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// Scenario 31: two moonposts on loopback. The first signs mail from
// example.com (a key made by "moonpost dkim keygen") and relays it to the
// second, which checks SPF, DKIM and DMARC against a DNS server serving
// the published records and writes one Authentication-Results header
// into the delivered Maildir file, after dropping a forged one. An
// unsigned spoof of example.com is marked dmarc=fail and, by the shipped
// policy, still delivered.
func TestT31SignOnOneVerifyOnTheOther(t *testing.T) {
	ns := dnstest.NewServer(t)
	recv := newDaemon(t, "")
	os.WriteFile(recv.cfg, []byte(fmt.Sprintf(`myhostname = "mx-b.test"
mydestination = ["remote.test"]
local_recipient_maps = []
mynetworks = ["192.0.2.0/24"]
spool_dir = %q
[smtpd]
listen = [%q]
[dns]
servers = [%q]
[auth]
authserv_id = "mx-b.test"
`, filepath.Join(recv.dir, "spool"), recv.addr, ns.Addr)), 0o600)

	send := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtp]\ntls = \"none\"", recv.addr[strings.LastIndexByte(recv.addr, ':')+1:]))
	keyFile := filepath.Join(send.dir, "example.com.s1.pem")
	if code, out := send.run("", "dkim", "keygen", "example.com", "s1", "--type", "ed25519", "--out", keyFile); code != 0 {
		t.Fatalf("keygen: %d %s", code, out)
	}
	rsaFile := filepath.Join(send.dir, "example.com.r1.pem")
	if code, out := send.run("", "dkim", "keygen", "example.com", "r1", "--out", rsaFile); code != 0 {
		t.Fatalf("keygen: %d %s", code, out)
	}
	cfg, _ := os.ReadFile(send.cfg)
	cfg = append(cfg, fmt.Sprintf("\n[[dkim.sign]]\ndomain = \"example.com\"\nselector = \"s1\"\nkey = %q\n"+
		"\n[[dkim.sign]]\ndomain = \"example.com\"\nselector = \"r1\"\nkey = %q\n", keyFile, rsaFile)...)
	os.WriteFile(send.cfg, cfg, 0o600)
	for sel, f := range map[string]string{"s1": keyFile, "r1": rsaFile} {
		k, err := auth.LoadKeyFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := auth.PublicRecord(k.Public())
		ns.Add(t, dkimTXT(sel+"._domainkey.example.com", rec))
	}
	ns.Add(t, `example.com. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`,
		`_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"`)

	recv.start()
	send.start()
	if code, out := send.run("From: Joe <joe@example.com>\nTo: bob@remote.test\nSubject: signed\n"+
		"Authentication-Results: mx-b.test; dkim=pass header.d=bank.example\n\nhello from example.com\n",
		"sendmail", "-f", "joe@example.com", "bob@remote.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	got := recv.WaitMaildir(filepath.Join("spool", "mail", "bob"), 1)[0]
	ar := dkimHeaderValues(got, "Authentication-Results")
	if len(ar) != 1 {
		t.Fatalf("%d Authentication-Results headers (the forged one must go):\n%s", len(ar), got)
	}
	for _, want := range []string{"mx-b.test;", "spf=pass smtp.mailfrom=example.com", "dkim=pass header.d=example.com header.s=s1",
		"dkim=pass header.d=example.com header.s=r1", "dmarc=pass header.from=example.com"} {
		if !strings.Contains(ar[0], want) {
			t.Errorf("Authentication-Results lacks %q:\n%s", want, ar[0])
		}
	}
	if strings.Contains(got, "bank.example") {
		t.Errorf("forged result delivered:\n%s", got)
	}
	send.waitLog("dkim signed", 2)

	// A key file broken in place is reported at once and the previous
	// key goes on signing.
	os.WriteFile(keyFile, []byte("not a key any more"), 0o600)
	send.waitLog("key file changed and does not load; the previous key stays", 1)
	if code, out := send.run("From: joe@example.com\nSubject: after\n\nstill signed\n", "sendmail", "-f", "joe@example.com", "bob@remote.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	after := ""
	for _, m := range recv.WaitMaildir(filepath.Join("spool", "mail", "bob"), 2) {
		if strings.Contains(m, "Subject: after") {
			after = m
		}
	}
	if !strings.Contains(strings.Join(dkimHeaderValues(after, "Authentication-Results"), ""), "dkim=pass header.d=example.com header.s=s1") {
		t.Fatalf("not signed with the previous key:\n%s", after)
	}

	// An unsigned spoof straight to the receiver: dmarc=fail, delivered.
	c := dial(t, recv.addr)
	c.expect("EHLO spoofer.test", 250)
	if code, text := c.message("x@spoof.test", []string{"bob@remote.test"}, "From: ceo@example.com\r\nSubject: spoof\r\n\r\npay now"); code != 250 {
		t.Fatalf("spoof refused by the default policy: %d %s", code, text)
	}
	msgs := recv.WaitMaildir(filepath.Join("spool", "mail", "bob"), 3)
	for _, m := range msgs {
		if strings.Contains(m, "Subject: spoof") {
			ar := strings.Join(dkimHeaderValues(m, "Authentication-Results"), "\n")
			if !strings.Contains(ar, "dkim=none") || !strings.Contains(ar, "dmarc=fail header.from=example.com") {
				t.Fatalf("spoof's results:\n%s", m)
			}
			return
		}
	}
	t.Fatal("spoof not delivered")
}

// dkimHeaderValues returns the unfolded values of a field in a message
// (LF or CRLF line ends).
func dkimHeaderValues(msg, name string) []string {
	head, _, _ := strings.Cut(strings.ReplaceAll(msg, "\r\n", "\n"), "\n\n")
	var out []string
	for _, f := range strings.Split(strings.ReplaceAll(strings.ReplaceAll(head, "\n ", " "), "\n\t", " "), "\n") {
		if k, v, ok := strings.Cut(f, ":"); ok && strings.EqualFold(k, name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
