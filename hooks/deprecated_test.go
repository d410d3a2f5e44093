package hooks

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

func TestDeprecatedNamesAreReportedWithTheirLine(t *testing.T) {
	fsys := fstest.MapFS{
		"10-old.lua": {Data: []byte(`local regex = require("regex")
mta.on("rcpt", function(s, to) if s.client_addr == "" then return mta.tempfail("later") end end)
-- mta.tempfail in a comment is not a use
mta.on("cleanup", function(msg) msg:reject(550, "no") end)
mta.on("delivered", function(ev) return regex.replace("a", ev.queue_id, "b") end)
`)},
		"20-new.lua":      {Data: []byte(`mta.on("rcpt", function(s) if s.client.addr == "" then return mta.defer("later") end end)`)},
		"old_test.lua":    {Data: []byte(`mta.tempfail()`)},
		"tables/x.lua.gz": {Data: []byte(`mta.tempfail()`)},
	}
	got, err := Deprecated(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10-old.lua:2: mta.tempfail is deprecated; use mta.defer",
		"10-old.lua:2: s.client_addr is deprecated; use s.client.addr",
		"10-old.lua:4: msg:reject() is deprecated; use return mta.reject()",
		"10-old.lua:5: regex.replace is deprecated; use regex.gsub",
		"10-old.lua:5: ev.queue_id is deprecated; use ev.id",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The new names work, and the old ones still do.
func TestNewAndOldNamesBothWork(t *testing.T) {
	e := newEngine(t, map[string]string{"10-names.lua": `
local kv = require("kv")
mta.on("rcpt", function(s, to)
  if s.client.addr ~= s.client_addr or s.client.name ~= s.client_name then return mta.reject("client differs") end
  if to == "old@x" then return mta.tempfail(452, "4.2.2", "old") end
  return mta.defer(452, "4.2.2", "new")
end)
mta.on("delivered", function(ev) kv.set("ids", ev.id .. "=" .. ev.queue_id) end)
`})
	c := ctx(t)
	s := &policy.Session{ClientName: "c.example", Meta: map[string]string{}}
	for _, to := range []string{"old@x", "new@x"} {
		if st, err := e.Rcpt(c, s, to); err != nil || st == nil || st.Code != 452 {
			t.Errorf("%s: %v, %v", to, st, err)
		}
	}
	e.Delivered(c, policy.Event{QueueID: "Q1", Status: dsn.Sent})
	if v := e.kv.Get("ids"); v.String() != "Q1=Q1" {
		t.Errorf("ev.id, ev.queue_id = %v", v)
	}
}

// A test's session table gets both spellings of the client.
func TestTestSessionHasBothClientSpellings(t *testing.T) {
	e := newEngine(t, map[string]string{"10-c.lua": `
mta.on("rcpt", function(s, to) return s.client.addr .. "|" .. s.client_addr end)
`})
	L := e.NewState()
	defer L.Close()
	if err := L.DoString(`
assert(hooks.call("rcpt", {client = {addr = "192.0.2.1"}}, "x@y") == "192.0.2.1|192.0.2.1")
assert(hooks.call("rcpt", {client_addr = "192.0.2.2"}, "x@y") == "192.0.2.2|192.0.2.2")
`); err != nil {
		t.Fatal(err)
	}
}
