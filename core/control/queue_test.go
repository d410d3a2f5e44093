package control

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/queue"
)

// The REPL's queue module against a live manager while mail flows: an
// outage at down.test defers its mail; the operator looks, holds,
// releases, requeues after the outage, deletes and bounces by predicate.
func TestQueueModuleWhileMailFlows(t *testing.T) {
	e := newEnv(t, nil)
	e.sink.setDown("down.test", true)
	var down []queue.ID
	for i := 0; i < 4; i++ {
		down = append(down, e.submit("alice@s.test", fmt.Sprintf("u%d@down.test", i)))
	}
	spam := e.submit("spammer@bad.test", "v@down.test")
	e.submit("bob@s.test", "w@up.test")
	waitFor(t, "deferred", func() bool { return e.count(queue.Deferred) == 5 && e.sink.count("w@up.test") == 1 })
	c := e.dial()

	if got := must(t, c, `#queue.list{state = "deferred", rcpt_domain = "down.test"}`); got != "5\n" {
		t.Fatalf("list by domain: %q", got)
	}
	out := must(t, c, `queue.list{sender = "spammer@bad.test"}`)
	if !strings.Contains(out, `id = "`+string(spam)+`"`) || !strings.Contains(out, "4.4.1") || strings.Contains(out, string(down[0])) {
		t.Fatalf("list by sender:\n%s", out)
	}
	// The streaming form hands the entries one at a time and stops when
	// the function returns false.
	if got := must(t, c, `local ids = {} local n = queue.list({state = "deferred"}, function(e) ids[#ids + 1] = e.id end) return n, #ids`); got != "5\t5\n" {
		t.Fatalf("list with a function: %q", got)
	}
	if got := must(t, c, `local k = 0 local n = queue.list({}, function(e) k = k + 1 return k < 2 end) return n, k`); got != "2\t2\n" {
		t.Fatalf("list with a function that stops: %q", got)
	}
	if got := must(t, c, `local s = queue.stats() return s.states.deferred.messages, s.top_deferred[1].domain, s.top_deferred[1].messages`); got != "5\t\"down.test\"\t5\n" {
		t.Fatalf("stats: %q", got)
	}
	if got := must(t, c, `queue.get("`+string(spam)+`", true).body`); got != "\"body\\r\\n\"\n" {
		t.Fatalf("get body: %q", got)
	}

	// Hold everything for down.test: a dry run first, then for real.
	if got := must(t, c, `local r = queue.dry_run.hold{rcpt_domain = "down.test"} return r.count, #r.ids`); got != "5\t5\n" {
		t.Fatalf("dry-run hold: %q", got)
	}
	if e.count(queue.Hold) != 0 {
		t.Fatal("dry run held mail")
	}
	if got := must(t, c, `queue.hold({rcpt_domain = "down.test"}, "outage").applied`); got != "5\n" {
		t.Fatalf("hold: %q", got)
	}
	if e.count(queue.Hold) != 5 || e.count(queue.Deferred) != 0 {
		t.Fatal("not held")
	}
	// Delete by predicate: the spammer's message goes, without a bounce.
	if got := must(t, c, `queue.delete{sender = "@bad.test"}.applied`); got != "1\n" {
		t.Fatalf("delete: %q", got)
	}
	// The outage is over: release two by ID (list of entries), requeue the rest.
	e.sink.setDown("down.test", false)
	must(t, c, `queue.release(queue.list{state = "hold", limit = 2})`)
	waitFor(t, "released mail delivered", func() bool { return e.sink.count("u0@down.test")+e.sink.count("u1@down.test") == 2 })
	if got := must(t, c, `queue.requeue("`+string(down[2])+`").applied`); got != "1\n" {
		t.Fatalf("requeue: %q", got)
	}
	waitFor(t, "requeued mail delivered", func() bool { return e.sink.count("u2@down.test") == 1 })
	// Bounce the last one: the sender hears about it, the file goes.
	if got := must(t, c, `queue.bounce({"`+string(down[3])+`"}, "mailbox moved").applied`); got != "1\n" {
		t.Fatalf("bounce: %q", got)
	}
	waitFor(t, "bounced", func() bool { b := e.bounces.all(); return len(b) == 1 && b[0] == down[3] })
	waitFor(t, "queue empty", func() bool { return e.count(queue.Hold)+e.count(queue.Deferred)+e.count(queue.Active) == 0 })
	if e.sink.count("v@down.test") != 0 || e.sink.count("u3@down.test") != 0 {
		t.Fatal("deleted or bounced mail was delivered")
	}
}

func TestQueueSelectionsAreChecked(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	for code, want := range map[string]string{
		`queue.delete{}`:                       "empty selection",
		`queue.delete{sendr = "x"}`:            "unknown filter key",
		`queue.delete("../../etc/passwd")`:     "not a queue ID",
		`queue.delete{"../x"}`:                 "not a queue ID",
		`queue.get("../../../etc/passwd")`:     "not a queue ID",
		`queue.list{state = "../../tmp"}`:      "unknown queue",
		`queue.hold{older_than = "yesterday"}`: "older_than",
		`queue.hold{reason_match = "("}`:       "reason_match",
	} {
		if r := eval(t, c, code); !strings.Contains(r.Error, want) {
			t.Errorf("%s: error %q, want %q", code, r.Error, want)
		}
	}
	if got := must(t, c, `queue.delete("ALL").count`); got != "0\n" {
		t.Fatalf("ALL on an empty queue: %q", got)
	}
}

// The CLI's structured requests.
func TestQueueAndStatusRequests(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Listeners = func() []string { return []string{"127.0.0.1:25"} } })
	e.sink.setDown("down.test", true)
	id := e.submit("a@s.test", "x@down.test")
	waitFor(t, "deferred", func() bool { return e.count(queue.Deferred) == 1 })
	c := e.dial()
	var r admin.Result
	if err := c.Call(Request{Op: "queue", Action: "hold", IDs: []string{string(id)}}, &r); err != nil || r.Applied != 1 {
		t.Fatalf("hold: %+v %v", r, err)
	}
	if err := c.Call(Request{Op: "queue", Action: "delete", IDs: []string{"../../x"}}, &r); err == nil {
		t.Fatal("path accepted")
	}
	if err := c.Call(Request{Op: "queue", Action: "delete"}, &r); err == nil {
		t.Fatal("delete with no selection accepted")
	}
	var ents []admin.Entry
	if err := c.Call(Request{Op: "queue", Action: "list", Filter: &admin.Spec{State: []string{"hold"}}}, &ents); err != nil || len(ents) != 1 {
		t.Fatalf("list: %+v %v", ents, err)
	}
	var st Status
	if err := c.Call(Request{Op: "status"}, &st); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(st)
	if st.Queue["hold"].Messages != 1 || st.Listeners[0] != "127.0.0.1:25" || st.Scripts || st.Sessions != 1 {
		t.Fatalf("status %s", b)
	}
}
