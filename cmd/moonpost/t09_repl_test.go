package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// repl runs one chunk with moonpost repl -e and requires success.
func (d *daemon) repl(code string) string {
	d.t.Helper()
	rc, out := d.run("", "repl", "-e", code)
	if rc != 0 {
		d.t.Fatalf("repl -e %q: exit %d\n%s", code, rc, out)
	}
	return strings.TrimSpace(out)
}

// relayDaemon relays non-local mail to a loopback sink.
func relayDaemon(t *testing.T) (*daemon, *smtpSink) {
	sink := newOutageSink(t)
	d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]\"\n[smtp]\nport = %s\ntls = \"none\"\n[queue]\nmin_backoff = \"1h\"\nmax_backoff = \"2h\"\n", sink.port()))
	d.start()
	return d, sink
}

func (d *daemon) send(from string, to ...string) string {
	d.t.Helper()
	c := dial(d.t, d.addr)
	c.expect("EHLO client.test", 250)
	code, text := c.message(from, to, "Subject: t03\r\n\r\nhello")
	if code != 250 {
		d.t.Fatalf("DATA: %d %s", code, text)
	}
	c.expect("QUIT", 221)
	return queuedID(text)
}

// Scenario 9: an outage at the relay defers mail; the operator finds it
// from the REPL, holds it, releases and requeues it once the relay is
// back, deletes spam by predicate and bounces what is left, while local
// mail keeps flowing. Each step is checked against the spool and the
// mail actually delivered or bounced.
func TestT09ReplQueueAdministration(t *testing.T) {
	d, sink := relayDaemon(t)
	sink.setDown(true)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, d.send("alice@mx.test", fmt.Sprintf("u%d@remote.test", i)))
	}
	d.send("carol@example.org", "bob@localhost")
	eventually(t, "three deferred, local mail delivered", func() bool {
		return len(d.queued("deferred")) == 3 && len(d.mailbox("bob")) == 1
	})

	if got := d.repl(`return #queue.list{state = "deferred", rcpt_domain = "remote.test", reason_match = "4\\.3\\.0"}`); got != "3" {
		t.Fatalf("list: %q", got)
	}
	if got := d.repl(`local r = queue.dry_run.hold{rcpt_domain = "remote.test"} return r.count`); got != "3" || len(d.queued("hold")) != 0 {
		t.Fatalf("dry run: %q", got)
	}
	d.repl(`queue.hold({rcpt_domain = "remote.test"}, "relay outage")`)
	if len(d.queued("hold")) != 3 || len(d.queued("deferred")) != 0 {
		t.Fatalf("hold: hold=%d deferred=%d", len(d.queued("hold")), len(d.queued("deferred")))
	}
	if out := d.repl(`queue.get("` + ids[0] + `").hold_reason`); out != `"relay outage"` {
		t.Fatalf("hold reason %q", out)
	}

	// The relay is back: release one, requeue another, by ID.
	sink.setDown(false)
	d.repl(`queue.release("` + ids[0] + `")`)
	eventually(t, "released mail relayed", func() bool { return sink.count("u0@remote.test") == 1 })
	d.repl(`queue.requeue{"` + ids[1] + `"}`)
	eventually(t, "requeued mail relayed", func() bool { return sink.count("u1@remote.test") == 1 })

	// Spam arrives during a second outage; it is deleted by predicate.
	sink.setDown(true)
	spam := d.send("spammer@bad.example", "v@remote.test")
	eventually(t, "spam deferred", func() bool { return len(d.queued("deferred")) == 1 })
	if got := d.repl(`return queue.delete{sender = "@bad.example"}.applied`); got != "1" {
		t.Fatalf("delete: %q", got)
	}
	if len(d.queued("deferred")) != 0 || strings.Contains(d.repl(`queue.list()`), spam) {
		t.Fatal("spam still queued")
	}

	// The last held message is bounced: alice gets the notice.
	if got := d.repl(`return queue.bounce("` + ids[2] + `", "no longer relayed").applied`); got != "1" {
		t.Fatalf("bounce: %q", got)
	}
	eventually(t, "bounce delivered to the sender", func() bool {
		box := d.mailbox("alice")
		return len(box) == 1 && strings.Contains(box[0], "no longer relayed") && strings.Contains(box[0], "u2@remote.test")
	})
	eventually(t, "queue empty", func() bool {
		return len(d.queued("hold"))+len(d.queued("deferred"))+len(d.queued("active"))+len(d.queued("incoming")) == 0
	})
	if sink.count("u2@remote.test")+sink.count("v@remote.test") != 0 {
		t.Fatal("bounced or deleted mail was relayed")
	}
}

// Scenario 9b: the CLI equivalents, status, and what the REPL does with
// broken chunks.
func TestT09QueueCommandsAndStatus(t *testing.T) {
	d, sink := relayDaemon(t)
	sink.setDown(true)
	id := d.send("alice@mx.test", "u@remote.test")
	eventually(t, "deferred", func() bool { return len(d.queued("deferred")) == 1 })

	rc, out := d.run("", "queue", "hold", "--dry-run", "--filter", "rcpt_domain=remote.test")
	if rc != 0 || !strings.Contains(out, id) || !strings.Contains(out, "would touch 1 message") || len(d.queued("hold")) != 0 {
		t.Fatalf("hold --dry-run: %d %s", rc, out)
	}
	if rc, out = d.run("", "queue", "hold", id+"*"); rc != 0 || len(d.queued("hold")) != 1 {
		t.Fatalf("hold: %d %s", rc, out)
	}
	rc, out = d.run("", "mailq")
	if rc != 0 || !strings.Contains(out, id+"!") {
		t.Fatalf("mailq: %s", out)
	}
	rc, out = d.run("", "status")
	if rc != 0 || !strings.Contains(out, "moonpost is running") || !strings.Contains(out, d.addr) ||
		!strings.Contains(out, "hold 1") || !strings.Contains(out, "scripts: generation 1") {
		t.Fatalf("status: %d\n%s", rc, out)
	}
	for _, bad := range [][]string{{"queue", "delete", "../../etc/passwd"}, {"queue", "delete", "--filter", "sendr=x"}} {
		if rc, out := d.run("", bad...); rc == 0 {
			t.Fatalf("%v accepted: %s", bad, out)
		}
	}
	sink.setDown(false)
	if rc, out = d.run(id+"\n", "queue", "release", "-"); rc != 0 {
		t.Fatalf("release -: %d %s", rc, out)
	}
	eventually(t, "released and relayed", func() bool { return sink.count("u@remote.test") == 1 })
	if rc, out = d.run("", "queue", "flush"); rc != 0 {
		t.Fatalf("flush: %d %s", rc, out)
	}

	// A chunk that errors gives its line and a non-zero exit; a chunk
	// from stdin too; the daemon carries on.
	rc, out = d.run("", "repl", "-e", "local a = 1\nerror('broken here')")
	if rc == 0 || !strings.Contains(out, ":2: broken here") {
		t.Fatalf("erroring chunk: %d %s", rc, out)
	}
	rc, out = d.run("x = 6\nprint(x * 7)\n", "repl")
	if rc != 0 || strings.TrimSpace(out) != "42" {
		t.Fatalf("chunk from stdin: %d %q", rc, out)
	}
	if rc, _ = d.run("function f(\n", "repl"); rc == 0 {
		t.Fatal("incomplete chunk from stdin succeeded")
	}

	// A runaway chunk is cut off at the deadline while mail still flows.
	done := make(chan string)
	go func() { _, out := d.run("", "repl", "-e", "while true do end"); done <- out }()
	time.Sleep(200 * time.Millisecond)
	d.send("carol@example.org", "bob@localhost")
	eventually(t, "local mail during the runaway chunk", func() bool { return len(d.mailbox("bob")) == 1 })
	select {
	case out = <-done:
		if !strings.Contains(out, "chunk stopped") {
			t.Fatalf("runaway chunk: %s", out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("runaway chunk never stopped")
	}
	if got := d.repl("1 + 1"); got != "2" {
		t.Fatalf("after the runaway chunk: %q", got)
	}
	// -timeout sets the chunk's own deadline, up to an hour.
	rc, out = d.run("", "repl", "-timeout", "300ms", "-e", "while true do end")
	if rc != 65 || !strings.Contains(out, "ran longer than 300ms") {
		t.Fatalf("repl -timeout 300ms: %d %s", rc, out)
	}
	rc, out = d.run("", "repl", "-timeout", "3h", "-e", "1")
	if rc != 65 || !strings.Contains(out, "above the longest allowed, 1h0m0s") {
		t.Fatalf("repl -timeout 3h: %d %s", rc, out)
	}

	d.stop()
	rc, out = d.run("", "repl", "-e", "1")
	if rc != 75 || !strings.Contains(out, "not running") {
		t.Fatalf("repl with the daemon down: %d %s", rc, out)
	}
}
