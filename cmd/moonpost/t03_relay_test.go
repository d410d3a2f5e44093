package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// waitSink waits until the sink holds n messages.
func waitSink(t *testing.T, d *daemon, s *sink, n int) []sinkMsg {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(s.received()) < n {
		if time.Now().After(deadline) {
			d.signal(syscall.SIGQUIT)
			t.Fatalf("sink has %d messages, want %d\n%s", len(s.received()), n, d.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s.received()
}

// Scenario 3: relaying through a relayhost; the sink gets the message
// exactly as queued, dot-stuffing and all.
func TestT03RelayhostDelivery(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtp]\ntls = \"none\"", s.port()))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	code, text := c.message("alice@local.test", []string{"bob@remote.test", "carol@remote.test"},
		"Subject: t03\r\n\r\n..leading dot\r\nline\r\n...two dots") // dot-stuffed on the wire
	if code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	msgs := waitSink(t, d, s, 1)
	if len(msgs[0].To) != 2 || msgs[0].From != "alice@local.test" {
		t.Fatalf("envelope %+v", msgs[0])
	}
	if !strings.Contains(msgs[0].Data, "\r\n.leading dot\r\nline\r\n..two dots") {
		t.Fatalf("content changed: %q", msgs[0].Data)
	}
	d.waitLog("relay=127.0.0.1[127.0.0.1]:"+s.port()+", delay=", 2)
}

// Scenario 3b: MX lookup through a real DNS server, most preferred host
// first, falling back from a dead MX to the next one.
func TestT03MXFromDNS(t *testing.T) {
	s := newSink(t, "127.0.0.3")
	dead := freePort(t) // nothing listens here any more
	_ = dead
	ns := dnstest.NewServer(t)
	ns.Add(t,
		"remote.test. 300 IN MX 5 mx0.remote.test.",
		"remote.test. 300 IN MX 10 mx1.remote.test.",
		"remote.test. 300 IN MX 20 mx2.remote.test.",
		"mx0.remote.test. 300 IN A 127.0.0.2", // no server on 127.0.0.2: dead MX
		"mx1.remote.test. 300 IN A 127.0.0.3",
		"mx2.remote.test. 300 IN A 127.0.0.4",
	)
	d := newDaemon(t, fmt.Sprintf("[smtp]\ntls = \"none\"\nport = %s\nconnect_timeout = \"2s\"\n[dns]\nservers = [%q]", s.port(), ns.Addr))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.message("alice@local.test", []string{"bob@remote.test"}, "Subject: t03b\r\n\r\nvia MX"); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	msgs := waitSink(t, d, s, 1)
	if msgs[0].To[0] != "bob@remote.test" {
		t.Fatalf("%+v", msgs[0])
	}
	d.waitLog("relay=mx1.remote.test[127.0.0.3]:"+s.port()+", delay=", 1)
}

// Scenario 3c: a permanent refusal bounces to the (local) sender with a
// DSN; a temporary one defers with the reason shown by queue list.
func TestT03BounceAndDefer(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtp]\ntls = \"none\"", s.port()))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	code, text := c.message("alice@local.test", []string{"ok@remote.test", "reject@remote.test", "later@remote.test"},
		"Subject: t03c\r\n\r\nmixed")
	if code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	id := queuedID(text)
	waitSink(t, d, s, 1)
	d.waitLog("sender FAILURE notification", 1)
	d.waitLog("relay=local, delay=", 1)
	box := d.mailbox("alice")
	if len(box) != 1 {
		t.Fatalf("alice has %d messages", len(box))
	}
	for _, want := range []string{"Undelivered Mail Returned to Sender", "Final-Recipient: rfc822; reject@remote.test",
		"Status: 5.1.1", "Action: failed", "Return-Path: <>", "Subject: t03c"} {
		if !strings.Contains(box[0], want) {
			t.Errorf("bounce lacks %q:\n%s", want, box[0])
		}
	}
	_, out := d.run("", "queue", "list")
	if !strings.Contains(out, id) || !strings.Contains(out, "451 4.3.0 try again later") || !strings.Contains(out, "later@remote.test") ||
		strings.Contains(out, "reject@remote.test") {
		t.Fatalf("queue list:\n%s", out)
	}
}
