package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Scenario 33: every failed or deferred delivery has a bounce class: in
// the log line, the queue file (queue show, queue list --class, the
// REPL's queue.list{class=...}, the HTTP API's ?class=), and a reload
// takes a new rules file, refusing one with a bad line.
func TestT33BounceClasses(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	addr := freePort(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(httpToken+"\n"), 0o600)
	rules := filepath.Join(t.TempDir(), "bounce-rules")
	os.WriteFile(rules, []byte("# none yet\n"), 0o644)
	extra := func(rulesKey string) string {
		return fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtp]\ntls = \"none\"\n[http]\nlisten = [%q]\ntoken_file = %q\n[bounce]\n%s",
			s.port(), addr, tokenFile, rulesKey)
	}
	d := newDaemon(t, extra(""))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	code, text := c.message("alice@local.test", []string{"full@remote.test", "later@remote.test", "reject@remote.test"}, "Subject: t33\r\n\r\nx")
	if code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	id := queuedID(text)
	d.waitLog("to=<full@remote.test>", 1)
	d.waitLog("sender FAILURE notification", 1)
	for rcpt, class := range map[string]string{"full": "mailbox_full", "later": "transient", "reject": "invalid_recipient"} {
		if n := strings.Count(d.logs(), "to=<"+rcpt+"@remote.test>"); n != 1 || !strings.Contains(lineWith(d.logs(), "to=<"+rcpt+"@remote.test>"), ", class="+class) {
			t.Errorf("%s: log line without class=%s:\n%s", rcpt, class, lineWith(d.logs(), "to=<"+rcpt+"@"))
		}
	}
	eventually(t, "the message deferred", func() bool { return len(d.queued("deferred")) == 1 })

	_, out := d.run("", "queue", "list", "--class", "mailbox_full")
	if !strings.Contains(out, id) || !strings.Contains(out, "full@remote.test") {
		t.Errorf("queue list --class mailbox_full:\n%s", out)
	}
	if _, out := d.run("", "queue", "list", "--class", "rate_limited"); !strings.Contains(out, "Mail queue is empty") {
		t.Errorf("queue list --class rate_limited:\n%s", out)
	}
	if code, out := d.run("", "queue", "list", "--class", "ratelimited"); code == 0 || !strings.Contains(out, `unknown bounce class "ratelimited"`) {
		t.Errorf("a misspelt class: %d %s", code, out)
	}
	if _, out := d.run("", "queue", "list", "--json", "--filter", "class=transient,mailbox_full"); !strings.Contains(out, `"class":"mailbox_full"`) ||
		!strings.Contains(out, `"class":"transient"`) {
		t.Errorf("queue list --json:\n%s", out)
	}
	if _, out := d.run("", "queue", "show", id); !strings.Contains(out, "recipient: full@remote.test (pending) 452 4.2.2 The recipient's inbox is out of storage space. [class=mailbox_full]") ||
		!strings.Contains(out, "[class=invalid_recipient]") {
		t.Errorf("queue show:\n%s", out)
	}
	if rc, out := d.run("", "repl", "-e", `local l = queue.list{class = "mailbox_full"}; return #l .. " " .. l[1].recipients[1].class`); rc != 0 || !strings.Contains(out, "1 mailbox_full") {
		t.Errorf("repl queue.list{class=}: %d %s", rc, out)
	}
	if code, body := httpDo(t, "GET", "http://"+addr+"/api/queue?class=mailbox_full", "", true); code != 200 || !strings.Contains(body, id) {
		t.Errorf("GET /api/queue?class=mailbox_full: %d %s", code, body)
	}
	if code, body := httpDo(t, "GET", "http://"+addr+"/api/queue?class=bogus", "", true); code != 400 {
		t.Errorf("GET /api/queue?class=bogus: %d %s", code, body)
	}

	// A bad rules file refuses the reload, naming its line; the fixed
	// one classifies the next attempt.
	os.WriteFile(d.cfg, []byte(baseConfig(d, extra(fmt.Sprintf("classifier_rules = %q\n", rules)))), 0o600)
	os.WriteFile(rules, []byte("# ours\nrate_limited ^451 4\\.3\\.0 (try again\n"), 0o644)
	if code, out := d.run("", "reload"); code != 78 || !strings.Contains(out, rules+":2: bad pattern") {
		t.Fatalf("reload with a bad rules file: %d %s", code, out)
	}
	os.WriteFile(rules, []byte("# ours\nrate_limited ^451 4\\.3\\.0 try again\n"), 0o644)
	if code, out := d.run("", "reload"); code != 0 || !strings.Contains(out, "bounce.classifier_rules") {
		t.Fatalf("reload with the fixed rules file: %d %s", code, out)
	}
	if code, out := d.run("", "queue", "flush"); code != 0 {
		t.Fatalf("flush: %d %s", code, out)
	}
	d.waitLog("to=<later@remote.test>", 2)
	if l := lastLineWith(d.logs(), "to=<later@remote.test>"); !strings.Contains(l, "class=rate_limited") {
		t.Errorf("after the reload: %s", l)
	}
	if l := lastLineWith(d.logs(), "to=<full@remote.test>"); !strings.Contains(l, "class=mailbox_full") {
		t.Errorf("the shipped rules after the file's: %s", l)
	}
}

func lineWith(logs, s string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func lastLineWith(logs, s string) string {
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}
