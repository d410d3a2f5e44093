package hooks

import (
	"testing"

	"github.com/moonpost/moonpost/core/policy"
)

const authScript = `
mta.on("cleanup", function(msg)
  local subj = msg:header("Subject")
  if subj == "two" then
    msg:dkim_sign{domain="customer.example"}
    msg:dkim_sign{domain="provider.example", selector="p1", key="/etc/keys/p1.pem"}
  elseif subj == "none" then
    msg:dkim_sign{domain="customer.example"}
    msg:dkim_sign(false)
  elseif subj == "typo" then
    msg:dkim_sign{domian="customer.example"}
  elseif subj == "auth" then
    local a = msg.auth
    msg:set_header("X-Auth", a.spf .. " " .. a.dkim[1].domain .. "/" .. a.dkim[1].selector .. "=" .. a.dkim[1].result
      .. " " .. a.dmarc.result .. " " .. a.dmarc.policy .. " " .. a.dmarc.domain
      .. " arc=" .. a.arc .. " " .. table.concat(a.arc_sealers, ","))
  elseif subj == "noauth" then
    msg:set_header("X-Auth", tostring(msg.auth))
  elseif subj == "fail" then
    msg:dkim_sign{domain="customer.example"}
    error("later failure")
  end
end)
`

func TestDKIMSignChoice(t *testing.T) {
	e := newEngine(t, map[string]string{"10-auth.lua": authScript})
	m := testMessage("two")
	if _, err := e.Cleanup(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if m.DKIM == nil || len(m.DKIM.Requests) != 2 ||
		m.DKIM.Requests[0] != (policy.SignRequest{Domain: "customer.example"}) ||
		m.DKIM.Requests[1] != (policy.SignRequest{Domain: "provider.example", Selector: "p1", Key: "/etc/keys/p1.pem"}) {
		t.Fatalf("choice = %+v", m.DKIM)
	}
	m = testMessage("none")
	if _, err := e.Cleanup(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if m.DKIM == nil || len(m.DKIM.Requests) != 0 {
		t.Fatalf("dkim_sign(false): %+v", m.DKIM)
	}
	m = testMessage("other")
	e.Cleanup(ctx(t), m)
	if m.DKIM != nil {
		t.Fatalf("no call, yet a choice: %+v", m.DKIM)
	}
}

func TestDKIMSignErrors(t *testing.T) {
	e := newEngine(t, map[string]string{"10-auth.lua": authScript})
	m := testMessage("typo")
	_, err := e.Cleanup(ctx(t), m)
	wantErrContains(t, err, "unknown field", "domian", "10-auth.lua")
	m = testMessage("fail")
	if _, err := e.Cleanup(ctx(t), m); err == nil || m.DKIM != nil {
		t.Fatalf("failed hook left a choice: %v %+v", err, m.DKIM)
	}
}

func TestMsgAuth(t *testing.T) {
	e := newEngine(t, map[string]string{"10-auth.lua": authScript})
	m := testMessage("auth")
	m.Auth = &policy.AuthResults{SPF: "pass",
		DKIM:  []policy.DKIMResult{{Domain: "d.example", Selector: "s1", Result: "fail"}},
		DMARC: policy.DMARCResult{Result: "fail", Policy: "reject", Domain: "d.example"},
		ARC:   "pass", ARCSealers: []string{"lists.example", "relay.example"}}
	if _, err := e.Cleanup(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("X-Auth"); got != "pass d.example/s1=fail fail reject d.example arc=pass lists.example,relay.example" {
		t.Errorf("X-Auth = %q", got)
	}
	m = testMessage("noauth")
	if _, err := e.Cleanup(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("X-Auth"); got != "nil" {
		t.Errorf("unchecked mail: msg.auth = %q", got)
	}
}
