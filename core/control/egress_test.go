package control

import (
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/queue"
)

// TestShapingREPLAndRequests: queue.suspend{domain=, for_=} defers a
// domain's mail untried, queue.suspensions() and queue.destinations()
// show it, queue.resume{} lifts it; the CLI's requests do the same.
func TestShapingREPLAndRequests(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	if got := must(t, c, `local s = queue.suspend{domain = "held.test", for_ = "1h", reason = "abuse desk asked"} return s.domain, s.by`); got != "\"held.test\"\t\"operator\"\n" {
		t.Fatalf("suspend: %q", got)
	}
	e.submit("a@s.test", "x@held.test")
	e.submit("a@s.test", "y@free.test")
	waitFor(t, "one deferred, one delivered", func() bool { return e.count(queue.Deferred) == 1 && e.sink.count("y@free.test") == 1 })
	if n := e.sink.count("x@held.test"); n != 0 {
		t.Errorf("held.test tried %d times", n)
	}
	if got := must(t, c, `local l = queue.suspensions() return #l, l[1].domain, l[1].reason`); got != "1\t\"held.test\"\t\"abuse desk asked\"\n" {
		t.Errorf("suspensions: %q", got)
	}
	out := must(t, c, `for _, d in ipairs(queue.destinations()) do if d.domain == "held.test" then return d.suspended_until ~= nil, d.destination end end`)
	if out != "true\t\"smtp:held.test\"\n" {
		t.Errorf("destinations: %q", out)
	}
	for code, want := range map[string]string{
		`queue.suspend{site = "g"}`:                            "for_ is required",
		`queue.suspend{site = "g", domain = "d", for_ = "1h"}`: "name a site or a domain",
		`queue.suspend{site = "g", for_ = "soon"}`:             "want a duration",
		`queue.suspend{sites = "g", for_ = "1h"}`:              "unknown key sites",
		`queue.resume{}`:                                       "name a site or a domain",
	} {
		if r := eval(t, c, code); !strings.Contains(r.Error, want) {
			t.Errorf("%s: error %q, want %q", code, r.Error, want)
		}
	}
	if got := must(t, c, `queue.resume{domain = "held.test"}.resumed`); got != "1\n" {
		t.Errorf("resume: %q", got)
	}
	var list []map[string]any
	var made map[string]any
	if err := c.Call(Request{Op: "queue", Action: "suspend", Site: "google", For: "2h"}, &made); err != nil || made["site"] != "google" {
		t.Fatal(made, err)
	}
	if err := c.Call(Request{Op: "queue", Action: "suspensions"}, &list); err != nil || len(list) != 1 || list[0]["site"] != "google" {
		t.Errorf("suspensions request: %v, %v", list, err)
	}
	if err := c.Call(Request{Op: "queue", Action: "destinations"}, &list); err != nil || len(list) != 2 {
		t.Errorf("destinations request: %v, %v", list, err)
	}
}
