package hooks

import (
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

const tenantScript = `
local kv = require("kv")
mta.on("mail", function(s, from)
  if s.tenant ~= nil then return mta.reject(550, "5.0.0", "tenant before any was set") end
  s:set_tenant(from:match("@(.*)$"))
  if s.tenant ~= from:match("@(.*)$") then return mta.reject(550, "5.0.0", "s.tenant not updated") end
end)
mta.on("rcpt", function(s, to)
  if to == "space@x" then s:set_tenant("a b") end
  if to == "long@x" then s:set_tenant(string.rep("t", 65)) end
  if to == "table@x" then s:set_tenant({}) end
  if to == "empty@x" then s:set_tenant("") end
  if to == "clear@x" then s:set_tenant(nil) end
end)
mta.on("cleanup", function(msg)
  kv.set("cleanup_saw", msg.tenant or "none")
  if msg:header("Subject") == "override" then msg:set_tenant("billing") end
  if msg:header("Subject") == "clear" then msg:set_tenant(nil) end
  if msg:header("Subject") == "bad" then msg:set_tenant("a,b") end
end)
mta.on("transport", function(rcpt, info)
  return {transport = "smtp", nexthop = "[" .. (info.tenant or "shared") .. ".relay.test]"}
end)
mta.on("delivered", function(ev) kv.set("delivered_tenant", ev.tenant or "none") end)
`

// The session's tenant is set at MAIL, read back at once, inherited by
// the message; cleanup sees it and may replace it; the transport hook
// and the delivery events see the message's.
func TestTenantAcrossPhases(t *testing.T) {
	e := newEngine(t, map[string]string{"10-tenant.lua": tenantScript})
	c := ctx(t)
	tenant := ""
	s := &policy.Session{Meta: map[string]string{}, Tenant: &tenant}
	if st, err := e.Mail(c, s, "a@acme.example"); st != nil || err != nil {
		t.Fatalf("mail: %v, %v", st, err)
	}
	if tenant != "acme.example" {
		t.Fatalf("session tenant %q", tenant)
	}
	for subject, want := range map[string]string{"keep": "acme.example", "override": "billing", "clear": ""} {
		m := testMessage(subject)
		m.Envelope.Tenant = tenant // as smtpd queues it
		if v, err := e.Cleanup(c, m); err != nil || v.Action != policy.Accept {
			t.Fatalf("cleanup %s: %+v, %v", subject, v, err)
		}
		if m.Envelope.Tenant != want {
			t.Errorf("%s: message tenant %q, want %q", subject, m.Envelope.Tenant, want)
		}
		if v := e.kv.Get("cleanup_saw"); v.String() != "acme.example" {
			t.Errorf("%s: cleanup saw %v", subject, v)
		}
	}
	if tenant != "acme.example" {
		t.Errorf("cleanup changed the session's tenant: %q", tenant)
	}
	m := testMessage("keep")
	m.Envelope.Tenant = "acme.example"
	r, err := e.Route(c, "r@dest.example", m.Envelope)
	if err != nil || r.Nexthop != "[acme.example.relay.test]" || r.Reads&policy.ReadsTenant == 0 {
		t.Fatalf("route = %+v, %v", r, err)
	}
	e.Delivered(c, policy.Event{QueueID: "Q", Recipient: "r@x", Status: dsn.Sent, Tenant: "acme.example"})
	if v := e.kv.Get("delivered_tenant"); v.String() != "acme.example" {
		t.Errorf("delivered saw tenant %v", v)
	}
	e.Delivered(c, policy.Event{QueueID: "Q", Recipient: "r@x", Status: dsn.Sent})
	if v := e.kv.Get("delivered_tenant"); v.String() != "none" {
		t.Errorf("delivered without a tenant saw %v", v)
	}
}

// A bad name is a Lua error at the script's line (the call fails
// temporarily), and leaves the tenant as it was; nil clears it.
func TestBadTenantIsScriptError(t *testing.T) {
	e := newEngine(t, map[string]string{"10-tenant.lua": tenantScript})
	c := ctx(t)
	for to, want := range map[string]string{
		"space@x": "only printable ASCII",
		"long@x":  "1 to 64 bytes",
		"empty@x": "1 to 64 bytes",
		"table@x": "tenant name (string) or nil expected",
	} {
		tenant := "kept"
		_, err := e.Rcpt(c, &policy.Session{Tenant: &tenant}, to)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "10-tenant.lua:") {
			t.Errorf("%s: %v, want %q with the script line", to, err, want)
		}
		if tenant != "kept" {
			t.Errorf("%s: tenant changed to %q", to, tenant)
		}
	}
	tenant := "kept"
	if _, err := e.Rcpt(c, &policy.Session{Tenant: &tenant}, "clear@x"); err != nil || tenant != "" {
		t.Errorf("clear: %v, tenant %q", err, tenant)
	}
	m := testMessage("bad")
	m.Envelope.Tenant = "acme"
	if _, err := e.Cleanup(c, m); err == nil || !strings.Contains(err.Error(), "only printable ASCII") {
		t.Errorf("cleanup with a bad name: %v", err)
	}
	if m.Envelope.Tenant != "acme" {
		t.Errorf("a failed cleanup changed the tenant to %q", m.Envelope.Tenant)
	}
	// A session no connection owns refuses to keep one.
	if _, err := e.Mail(c, &policy.Session{}, "a@b"); err == nil || !strings.Contains(err.Error(), "keeps no tenant") {
		t.Errorf("mail without a connection: %v", err)
	}
}

// hooks.call carries a test session's tenant in s.tenant, and a cleanup
// table's in and out, as it does their metadata.
func TestTenantInHooksCall(t *testing.T) {
	e := newEngine(t, map[string]string{"10-tenant.lua": tenantScript})
	L := e.NewState()
	defer L.Close()
	err := L.DoString(`
		local s = {}
		assert(hooks.call("mail", s, "a@acme.example") == nil)
		assert(s.tenant == "acme.example", tostring(s.tenant))
		local r = hooks.call("cleanup", {sender = "a@x", recipients = {"b@y"}, tenant = s.tenant,
			headers = {{"Subject", "override"}}})
		assert(r.tenant == "billing", tostring(r.tenant))
		r = hooks.call("cleanup", {sender = "a@x", recipients = {"b@y"}, headers = {{"Subject", "keep"}}})
		assert(r.tenant == nil, tostring(r.tenant))
	`)
	if err != nil {
		t.Fatal(err)
	}
}

// readsFour is what a handler reading m.sender, m.id, m.size and
// m.client read: every field but the tenant.
var readsFour = policy.ReadsSender | policy.ReadsID | policy.ReadsSize | policy.ReadsClient
