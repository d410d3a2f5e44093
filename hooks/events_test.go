package hooks

import (
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

func TestEventsAndCall(t *testing.T) {
	e := newEngine(t, map[string]string{"40-events.lua": `
local kv = require("kv")
mta.on("delivered", function(ev) kv.incr("delivered:" .. ev.recipient .. ":" .. ev.status.code) end)
mta.on("bounced", function(ev) error("webhook down") end)
mta.on("deferred", function(ev) kv.set("last_deferred", ev.queue_id .. " " .. ev.status.enhanced .. " " .. ev.attempts .. " " .. tostring(ev.class)) end)
mta.on("rcpt", function(s, to) if to == "v@x" then return mta.reject(550, "5.1.1", "gone") end end)
mta.on("alias", function(l, d) return {l .. "@" .. d, "x"} end)
`})
	c := ctx(t)
	ev := policy.Event{QueueID: "Q1", Recipient: "r@x", Status: dsn.Sent, Attempts: 2}
	e.Delivered(c, ev)
	e.Bounced(c, ev) // error only logged: must not panic or block
	ev.Status, ev.Class = dsn.DNSTemp, "transient"
	e.Deferred(c, ev)
	if v := e.kv.Get("delivered:r@x:250"); v.String() != "1" {
		t.Errorf("delivered counter = %v", v)
	}
	if v := e.kv.Get("last_deferred"); v.String() != "Q1 4.4.3 2 transient" {
		t.Errorf("deferred = %v", v)
	}

	res, err := e.Call(c, "rcpt", []any{&policy.Session{}, "v@x"})
	m, _ := res.(map[string]any)
	if err != nil || m["action"] != "reject" || m["code"] != 550 || m["enhanced"] != "5.1.1" {
		t.Errorf("Call rcpt = %#v, %v", res, err)
	}
	res, err = e.Call(c, "alias", []any{"a", "b"})
	if l, _ := res.([]any); err != nil || len(l) != 2 || l[0] != "a@b" {
		t.Errorf("Call alias = %#v, %v", res, err)
	}
	if _, err := e.Call(c, "nope", nil); err == nil {
		t.Error("unknown event accepted")
	}
	v, err := e.Call(c, "cleanup", []any{testMessage("x")})
	if vv, ok := v.(policy.Verdict); err != nil || !ok || vv.Action != policy.Accept {
		t.Errorf("Call cleanup = %#v, %v", v, err)
	}
}
