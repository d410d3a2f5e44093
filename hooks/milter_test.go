package hooks

import (
	"testing"

	"github.com/emersion/go-message/textproto"
	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/milter"
	"github.com/moonpost/moonpost/core/queue"
)

const milterScript = `
trusted = { ["boss@example.com"] = true }
mta.on("milter", function(result, msg)
  if trusted[msg.sender] then result.skip(); return mta.accept() end
  if result.milter ~= "rspamd" then return nil end
  if result.failed then return mta.hold("scanner down: " .. result.phase) end
  if result.action == "reject" and msg:header("To") == "tagme@example.com" then
    result:add_header("X-Spam", "Yes")
    return mta.accept()
  end
  if result.score and result.score > 5 then
    result.add_header("X-Spam-Score", string.format("%.1f/%.0f %s", result.score, result.required_score, tostring(result.spam)))
    return mta.hold("Junk")
  end
  if result.headers["X-Virus"] then return mta.reject(554, "5.7.1", "virus " .. result.headers["X-Virus"]) end
end)
`

func judge(t *testing.T, e *Engine, r *milter.Result, sender, to string) *milter.Result {
	t.Helper()
	var h textproto.Header
	h.Set("To", to)
	env := &queue.Envelope{ID: "ABC", Sender: sender, Recipients: []queue.Recipient{{Addr: to}}}
	if err := e.Judge(ctx(t), r, env, &h); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMilterHook(t *testing.T) {
	e := newEngine(t, map[string]string{"main.lua": milterScript})
	rspamdReject := func() *milter.Result {
		return &milter.Result{Milter: "rspamd", Action: "reject", Phase: "eom", Status: dsn.New(554, "5.7.1", "Spam message rejected")}
	}
	// Tag instead of reject for one customer; the rest stays rejected.
	r := judge(t, e, rspamdReject(), "a@x", "tagme@example.com")
	if r.Action != "accept" || r.Status != nil || len(r.Edits) != 1 || r.Edits[0].HeaderName != "X-Spam" {
		t.Errorf("tagged: %+v", r)
	}
	if r := judge(t, e, rspamdReject(), "a@x", "other@example.com"); r.Action != "reject" || r.Status.Code != 554 {
		t.Errorf("untouched reject: %+v", r)
	}
	// rspamd's score from its headers; quarantine to Junk.
	scored := &milter.Result{Milter: "rspamd", Action: "accept", Phase: "eom", Edits: []gomilter.ModifyAction{
		milter.AddHeader("X-Spamd-Result", "default: True [7.50 / 15.00];\n\tGTUBE(0.00)[]"),
	}}
	r = judge(t, e, scored, "a@x", "b@example.com")
	if r.Action != "accept" || r.Quarantine != "Junk" || len(r.Edits) != 2 || r.Edits[1].HeaderValue != "7.5/15 true" {
		t.Errorf("scored: %+v", r)
	}
	// A header the milter adds, read by name.
	virus := &milter.Result{Milter: "rspamd", Action: "accept", Edits: []gomilter.ModifyAction{milter.AddHeader("x-virus", "EICAR")}}
	if r := judge(t, e, virus, "a@x", "b@example.com"); r.Action != "reject" || r.Status.Text != "virus EICAR" {
		t.Errorf("virus: %+v", r)
	}
	// Trusted sender: the milter is skipped, edits and all.
	r = judge(t, e, rspamdReject(), "boss@example.com", "b@example.com")
	if r.Action != "accept" || r.Status != nil || r.Edits != nil {
		t.Errorf("trusted: %+v", r)
	}
	// The scanner failed: policy holds instead of the default tempfail.
	failed := &milter.Result{Milter: "rspamd", Action: "tempfail", Phase: "", Status: milter.Tempfail4, Failed: "dial tcp: refused"}
	if r := judge(t, e, failed, "a@x", "b@example.com"); r.Action != "accept" || r.Quarantine != "scanner down: " {
		t.Errorf("failed: %+v", r)
	}
	// Another milter: nil lets the answer stand.
	other := &milter.Result{Milter: "opendkim", Action: "tempfail", Status: milter.Tempfail4}
	if r := judge(t, e, other, "a@x", "b@example.com"); r.Action != "tempfail" {
		t.Errorf("other: %+v", r)
	}
}

func TestMilterHookErrors(t *testing.T) {
	e := newEngine(t, map[string]string{"main.lua": `
mta.on("milter", function(result, msg)
  if msg:header("To") == "number" then return 42 end
  if msg:header("To") == "badheader" then result.add_header("Bad Name", "v") end
  if msg:header("To") == "write" then msg:set_header("X", "y") end
end)`})
	for _, to := range []string{"number", "badheader", "write"} {
		var h textproto.Header
		h.Set("To", to)
		r := &milter.Result{Milter: "m", Action: "accept"}
		if err := e.Judge(ctx(t), r, &queue.Envelope{ID: "ABC"}, &h); err == nil {
			t.Errorf("%s: no error", to)
		}
		if r.Action != "accept" || r.Edits != nil {
			t.Errorf("%s: result changed: %+v", to, r)
		}
	}
}

// TestDnsblModule: scripts can require the dnsbl module.
func TestDnsblModule(t *testing.T) {
	e := newEngine(t, map[string]string{"main.lua": `
local dnsbl = require("dnsbl")
mta.on("milter", function(result, msg)
  if dnsbl.reverse("192.0.2.1") == "1.2.0.192" then return mta.hold("dnsbl loaded") end
end)`})
	r := judge(t, e, &milter.Result{Milter: "m", Action: "accept"}, "a@x", "b@x")
	if r.Quarantine != "dnsbl loaded" {
		t.Errorf("%+v", r)
	}
}
