package hooks

import (
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

const metaScript = `
local kv = require("kv")
mta.on("connect", function(s) s:set_meta("seen_at", "connect") end)
mta.on("helo", function(s, helo) s:set_meta("helo_len", #helo) end)
mta.on("mail", function(s, from)
  if s:meta("seen_at") ~= "connect" then return mta.reject(550, "5.0.0", "connect meta lost") end
end)
mta.on("rcpt", function(s, to)
  if to == "big@x" then s:set_meta("k", string.rep("v", 5000)) end
  if to == "table@x" then s:set_meta("k", {}) end
  if to == "badkey@x" then s:set_meta("a b", "v") end
  s:set_meta("tenant", (to:match("@(.*)$")))
end)
mta.on("data", function(s, hdr) s:set_meta("gone", nil) end)
mta.on("cleanup", function(msg)
  msg:set_meta("plan", msg:meta("tenant") .. "-gold")
  msg:set_meta("seen_at", nil)
end)
mta.on("transport", function(rcpt, info)
  return {transport = "smtp", nexthop = info.meta.plan}
end)
mta.on("delivered", function(ev) kv.set("delivered_plan", ev.meta.plan or "none") end)
`

func TestMetaAcrossPhases(t *testing.T) {
	e := newEngine(t, map[string]string{"10-meta.lua": metaScript})
	c := ctx(t)
	s := &policy.Session{Meta: map[string]string{"gone": "x"}}
	for _, step := range []func() (*dsn.Status, error){
		func() (*dsn.Status, error) { return e.Connect(c, s) },
		func() (*dsn.Status, error) { return e.Helo(c, s, "mx.example") },
		func() (*dsn.Status, error) { return e.Mail(c, s, "a@x") },
		func() (*dsn.Status, error) { return e.Rcpt(c, s, "r@tenant.example") },
		func() (*dsn.Status, error) { return e.Data(c, s, nil, nil) },
	} {
		if st, err := step(); st != nil || err != nil {
			t.Fatalf("phase: %v, %v", st, err)
		}
	}
	if s.Meta["helo_len"] != "10" || s.Meta["tenant"] != "tenant.example" || s.Meta["gone"] != "" {
		t.Fatalf("session meta = %q", s.Meta)
	}
	m := testMessage("x")
	m.Envelope.Meta = queue.CloneMeta(s.Meta) // as smtpd queues it
	if v, err := e.Cleanup(c, m); err != nil || v.Action != policy.Accept {
		t.Fatalf("cleanup: %+v, %v", v, err)
	}
	if m.Envelope.Meta["plan"] != "tenant.example-gold" || m.Envelope.Meta["seen_at"] != "" || s.Meta["plan"] != "" {
		t.Fatalf("message meta = %q, session %q", m.Envelope.Meta, s.Meta)
	}
	r, err := e.Route(c, "r@tenant.example", m.Envelope)
	if err != nil || r.Nexthop != "tenant.example-gold" {
		t.Fatalf("route = %+v, %v", r, err)
	}
	e.Delivered(c, policy.Event{QueueID: "Q", Recipient: "r@x", Status: dsn.Sent, Meta: m.Envelope.Meta})
	if v := e.kv.Get("delivered_plan"); v.String() != "tenant.example-gold" {
		t.Errorf("delivered saw plan %v", v)
	}
}

func TestMetaBoundsAreScriptErrors(t *testing.T) {
	e := newEngine(t, map[string]string{"10-meta.lua": metaScript})
	c := ctx(t)
	for to, want := range map[string]string{
		"big@x":    "longer than 4096 bytes",
		"table@x":  "meta values are strings",
		"badkey@x": "only printable ASCII",
	} {
		_, err := e.Rcpt(c, &policy.Session{Meta: map[string]string{}}, to)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "10-meta.lua:") {
			t.Errorf("%s: %v, want %q with the script line", to, err, want)
		}
	}
	// A session no connection owns (nil Meta) reads nothing and refuses to keep.
	if _, err := e.Connect(c, &policy.Session{}); err == nil || !strings.Contains(err.Error(), "keeps no metadata") {
		t.Errorf("connect without a map: %v", err)
	}
}
