package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// metaScript keeps the recipient's domain as connection metadata at
// RCPT, derives the message's plan from it in cleanup and holds the
// message; the transport hook routes by the plan and the delivery event
// logs both.
const metaScript = `
local log = require("log")
mta.on("rcpt", function(s, to) s:set_meta("tenant", (to:match("@(.*)$"))) end)
mta.on("cleanup", function(msg)
  msg:set_meta("plan", msg:meta("tenant") .. "-gold")
  msg:hold("until the restart")
end)
mta.on("transport", function(rcpt, info)
  if info.meta.plan ~= "local.test-gold" then return "error:5.3.0 no plan in the transport hook" end
  return {transport = "local", nexthop = "local.test"}
end)
mta.on("delivered", function(ev)
  log.info("meta at delivery", {tenant = ev.meta.tenant, plan = ev.meta.plan})
end)
`

// Scenario 22: metadata set at RCPT lives in the queue file, so after a
// daemon restart the transport hook and the delivery event still see it.
func TestT22MetaSurvivesRestart(t *testing.T) {
	d := newDaemon(t, "[hooks]\ndir = \"scripts\"")
	if err := os.MkdirAll(filepath.Join(d.dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "scripts", "10-meta.lua"), []byte(metaScript), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	code, text := c.message("alice@example.org", []string{"bob@local.test"}, "Subject: t22\r\n\r\nhello")
	if code != 250 {
		t.Fatalf("DATA reply %d %s", code, text)
	}
	id := queuedID(text)
	c.expect("QUIT", 221)
	d.waitLog("(queue hold)", 1) // cleanup committed it to hold/
	d.stop()
	held := d.queued("hold")
	if len(held) != 1 {
		t.Fatalf("hold/ holds %d files", len(held))
	}
	raw, err := os.ReadFile(held[0])
	if err != nil || !strings.Contains(string(raw), "\nV plan\tlocal.test-gold\n") {
		t.Fatalf("queue file lacks the meta record (%v):\n%.400s", err, raw)
	}

	d.start()
	if rc, out := d.run("", "queue", "release", id); rc != 0 {
		t.Fatalf("release: %d %s", rc, out)
	}
	d.waitLog(id+": removed", 1)
	if box := d.mailbox("bob"); len(box) != 1 {
		t.Fatalf("bob's mailbox holds %d messages:\n%s", len(box), d.logs())
	}
	d.waitLog(`msg="meta at delivery"`, 1)
	if logs := d.logs(); !strings.Contains(logs, "tenant=local.test plan=local.test-gold") &&
		!strings.Contains(logs, "plan=local.test-gold tenant=local.test") {
		t.Errorf("the delivery event did not log the meta:\n%s", logs)
	}
}

// Scenario 22b: moonpost check warns, with file and line, about each use
// of an old Lua name, and the scripts still pass.
func TestT22CheckWarnsAboutOldNames(t *testing.T) {
	d := newDaemon(t, "[hooks]\ndir = \"scripts\"")
	if err := os.MkdirAll(filepath.Join(d.dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := "mta.on(\"rcpt\", function(s, to)\n  if s.client_addr == \"\" then return mta.tempfail(\"later\") end\nend)\n" +
		"mta.on(\"auth\", function(user, pass, s) return nil end)\n"
	if err := os.WriteFile(filepath.Join(d.dir, "scripts", "10-old.lua"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := d.run("", "check")
	if code != 0 {
		t.Fatalf("check: %d %s", code, out)
	}
	for _, want := range []string{
		"warning: 10-old.lua:2: mta.tempfail is deprecated; use mta.defer",
		"warning: 10-old.lua:2: s.client_addr is deprecated; use s.client.addr",
		"warning: 10-old.lua:4: auth handler takes (user, pass, s), the old order",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}
