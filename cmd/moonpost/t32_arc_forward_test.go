package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/queue"
)

// Scenario 32: an alias forwards inbound mail to a remote address; moonpost
// checks the message as it comes in, then seals the forward with ARC
// (dkim.arc_domain) carrying what it found, and the chain the next hop
// receives validates.
func TestT32AliasForwardIsARCSealed(t *testing.T) {
	ns := dnstest.NewServer(t)
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, "")
	aliases := filepath.Join(d.dir, "aliases")
	os.WriteFile(aliases, []byte("list: far@far.test\n"), 0o644)
	key := filepath.Join(d.dir, "remote.test.arc.pem")
	if code, out := d.run("", "dkim", "keygen", "remote.test", "arc", "--out", key); code != 0 {
		t.Fatalf("keygen: %d %s", code, out)
	}
	os.WriteFile(d.cfg, []byte(fmt.Sprintf(`myhostname = "mx-b.test"
mydestination = ["remote.test"]
local_recipient_maps = []
mynetworks = ["192.0.2.0/24"]
relayhost = "[127.0.0.1]:%s"
spool_dir = %q
[smtpd]
listen = [%q]
[smtp]
tls = "none"
[local]
aliases = %q
[dns]
servers = [%q]
[dkim]
arc_domain = "remote.test"
arc_selector = "arc"
[[dkim.sign]]
domain = "remote.test"
selector = "arc"
key = %q
`, s.port(), filepath.Join(d.dir, "spool"), d.addr, aliases, ns.Addr, key)), 0o600)
	k, err := auth.LoadKeyFile(key)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := auth.PublicRecord(k.Public())
	ns.Add(t, dkimTXT("arc._domainkey.remote.test", rec), `example.com. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`)
	d.start()

	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.message("joe@example.com", []string{"list@remote.test"}, "From: joe@example.com\r\nSubject: to the list\r\n\r\nhello list"); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	got := waitSink(t, d, s, 1)[0]
	unfolded := strings.NewReplacer("\r\n\t", " ", "\r\n ", " ").Replace(got.Data)
	if got.To[0] != "far@far.test" || !strings.Contains(unfolded, "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=remote.test; s=arc") ||
		!strings.Contains(unfolded, "ARC-Authentication-Results: i=1; mx-b.test; spf=pass smtp.mailfrom=example.com") {
		t.Fatalf("forward not sealed:\n%s", got.Data)
	}
	d.waitLog("arc sealed", 1)

	// The next hop's view: moonpost's own validation of what it received.
	head, body, _ := strings.Cut(got.Data, "\r\n\r\n")
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(head + "\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	v := &auth.Verifier{Resolver: dns.New(dns.Config{Servers: []string{ns.Addr}, Timeout: 2 * time.Second}), AuthservID: "next.test",
		Log: slog.New(slog.DiscardHandler)}
	res := v.Check(context.Background(), &queue.Envelope{Sender: got.From, Client: queue.Client{Addr: "127.0.0.1", Helo: "mx-b.test"}}, &h, strings.NewReader(body))
	if res.ARC != "pass" {
		t.Fatalf("arc=%s for\n%s", res.ARC, got.Data)
	}
}
