package hooks

import (
	"testing"

	"github.com/moonpost/moonpost/core/policy"
)

// benchScripts are small but realistic: an access check, header edits, a
// canonical map and per-domain routing.
var benchScripts = map[string]string{
	"10-smtpd.lua": `
local blocked = {["spam@bad.example"] = true}
mta.on("rcpt", function(s, to)
  if blocked[to] then return mta.reject(550, "5.1.1", "User unknown") end
  if not s.trusted and s.auth_user == "" and not to:find("@x$") then return mta.reject(554, "5.7.1", "Relay access denied") end
end)`,
	"20-cleanup.lua": `
mta.on("cleanup", function(msg)
  if (msg:header("Subject") or ""):find("VIAGRA") then return mta.reject(554, "5.7.1", "spam") end
  msg:remove_header("X-Originating-IP")
  msg:add_header("X-Policy", "checked")
  if msg:header("X-Spam-Flag") == "YES" then msg:hold("spam flag") end
end)`,
	"30-rewrite.lua": `
local canonical = {["root@x"] = "admin@x"}
mta.on("rewrite", function(addr, c)
  local new = canonical[addr]
  if new then return new end
  if c.role == "sender" then return (addr:gsub("@host%.x$", "@x")) end
end)`,
	"40-route.lua": `
local relays = {["partner.example"] = "smtp:[relay.partner.example]:587"}
mta.on("transport", function(rcpt, m)
  local domain = rcpt:match("@(.+)$")
  if domain == "x" then return {transport = "lmtp", nexthop = "unix:/run/lmtp"} end
  return relays[domain]
end)`,
}

// BenchmarkHookOverhead is the Lua cost of one message with one
// recipient: RCPT policy, cleanup with a few header reads and writes,
// two rewrites and a transport choice.
func BenchmarkHookOverhead(b *testing.B) {
	e := newEngine(b, benchScripts)
	c := ctx(b)
	s := &policy.Session{ID: "s", Listener: "smtp", Helo: "mx.example", Recipients: []string{"u@x"}}
	sender := policy.AddrContext{Role: "sender", Where: "envelope"}
	rcpt := policy.AddrContext{Role: "recipient", Where: "envelope"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Rcpt(c, s, "u@x"); err != nil {
			b.Fatal(err)
		}
		m := testMessage("hello")
		if v, err := e.Cleanup(c, m); err != nil || v.Action != policy.Accept {
			b.Fatal(v, err)
		}
		if _, err := e.Rewrite(c, "s@host.x", sender); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Rewrite(c, "u@x", rcpt); err != nil {
			b.Fatal(err)
		}
		if r, err := e.Route(c, "u@x", m.Envelope); err != nil || r.Transport != "lmtp" {
			b.Fatal(r, err)
		}
	}
}

func TestBenchScriptsDecide(t *testing.T) {
	e := newEngine(t, benchScripts)
	st, err := e.Rcpt(ctx(t), &policy.Session{}, "u@elsewhere")
	if err != nil || st == nil || st.Code != 554 {
		t.Errorf("relay check = %v, %v", st, err)
	}
	if a, _ := e.Rewrite(ctx(t), "s@host.x", policy.AddrContext{Role: "sender"}); a != "s@x" {
		t.Errorf("masquerade = %q", a)
	}
	if r, _ := e.Route(ctx(t), "a@partner.example", nil); r.Nexthop != "[relay.partner.example]:587" {
		t.Errorf("route = %+v", r)
	}
}

// BenchmarkRewrite is one envelope rewrite, the hook cleanup calls for
// every address: the per-call cost of the engine around a small handler.
func BenchmarkRewrite(b *testing.B) {
	e := newEngine(b, benchScripts)
	c := ctx(b)
	rcpt := policy.AddrContext{Role: "recipient", Where: "envelope"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Rewrite(c, "u@x", rcpt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoute is one transport choice, the hook called per recipient.
func BenchmarkRoute(b *testing.B) {
	e := newEngine(b, benchScripts)
	c := ctx(b)
	env := testMessage("hello").Envelope
	b.ReportAllocs()
	for b.Loop() {
		if r, err := e.Route(c, "u@x", env); err != nil || r.Transport != "lmtp" {
			b.Fatal(r, err)
		}
	}
}
