package qmgr

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/classify"
	"github.com/moonpost/moonpost/core/internal/testlog"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// classEvents records each event's recipient and class.
type classEvents struct {
	mu  sync.Mutex
	got map[string]string // recipient → "kind class"
}

func (c *classEvents) put(kind string, ev policy.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[ev.Recipient] = kind + " " + ev.Class
}

func (c *classEvents) Delivered(_ context.Context, ev policy.Event) { c.put("delivered", ev) }
func (c *classEvents) Deferred(_ context.Context, ev policy.Event)  { c.put("deferred", ev) }
func (c *classEvents) Bounced(_ context.Context, ev policy.Event)   { c.put("bounced", ev) }

func (c *classEvents) snapshot() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for k, v := range c.got {
		out[k] = v
	}
	return out
}

// TestOutcomesCarryTheirClass: each failed or deferred recipient's class
// is in the delivery log line, the event and the queue file; the rules
// in effect decide it, and a swap of the rules takes effect at once.
func TestOutcomesCarryTheirClass(t *testing.T) {
	log, buf := testlog.New(slog.LevelInfo)
	h := newHarnessLog(t, log, nil)
	ev := &classEvents{got: map[string]string{}}
	h.mgr.Events = ev
	h.mgr.Classes = classify.New(nil)
	h.start()
	id := h.submit("a@s.test", "temp1@x.test", "perm1@x.test", "down1@y.test", "ok1@x.test")
	want := map[string]string{"temp1@x.test": "deferred transient", "perm1@x.test": "bounced invalid_recipient",
		"down1@y.test": "deferred transient", "ok1@x.test": "delivered "}
	h.waitFor("four events", func() bool { return len(ev.snapshot()) == 4 })
	for rcpt, w := range want {
		if got := ev.snapshot()[rcpt]; got != w {
			t.Errorf("%s: event %q, want %q", rcpt, got, w)
		}
	}
	h.waitFor("deferred", func() bool { return h.count(queue.Deferred) == 1 })
	m := h.read(queue.Deferred, id)
	for i, w := range []string{"transient", "invalid_recipient", "transient", ""} {
		if got := m.Recipients[i].Class; got != w {
			t.Errorf("queue file: recipient %d class %q, want %q", i, got, w)
		}
	}
	if n := buf.Count("to=<perm1@x.test>", "status=bounced (no such user), class=invalid_recipient", "class=invalid_recipient"); n != 1 {
		t.Errorf("%d bounce lines with the class, want 1:\n%s", n, buf.String())
	}
	if n := buf.Count("to=<ok1@x.test>", "class="); n != 0 {
		t.Errorf("a delivery logged a class:\n%s", buf.String())
	}

	rules, err := classify.Parse("test", strings.NewReader("mailbox_full ^450 4\\.2\\.0 mailbox busy\n"))
	if err != nil {
		t.Fatal(err)
	}
	h.mgr.Classes.Set(rules.Then(classify.Default()))
	h.submit("a@s.test", "temp2@x.test", "perm2@x.test")
	h.waitFor("two more events", func() bool { return len(ev.snapshot()) == 6 })
	if got := ev.snapshot()["temp2@x.test"]; got != "deferred mailbox_full" {
		t.Errorf("after the swap: %q, want the new rule's class", got)
	}
	if got := ev.snapshot()["perm2@x.test"]; got != "bounced invalid_recipient" {
		t.Errorf("after the swap, the defaults behind the new rule: %q", got)
	}
}

// An expired recipient bounces with the class of its last deferral,
// which the rules gave from that reply's codes; the expiry's own 5.4.7
// text no longer carries them.
func TestExpiryKeepsTheLastClass(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxLifetime = time.Hour })
	ev := &classEvents{got: map[string]string{}}
	h.mgr.Events = ev
	rules, err := classify.Parse("test", strings.NewReader("mailbox_full ^450 4\\.2\\.0\\b\n"))
	if err != nil {
		t.Fatal(err)
	}
	h.mgr.Classes = classify.New(rules.Then(classify.Default()))
	h.start()
	h.submit("a@s.test", "temp@x.test")
	for attempt := 1; ev.snapshot()["temp@x.test"] != "bounced mailbox_full"; attempt++ {
		if attempt > 20 {
			t.Fatalf("never expired with the class: %q", ev.snapshot()["temp@x.test"])
		}
		h.waitFor("attempt settled", func() bool {
			return h.agent.count("temp@x.test") == attempt && (h.count(queue.Deferred) == 1 || len(h.notes.all()) > 0)
		})
		if len(h.notes.all()) > 0 {
			h.waitFor("the bounce event", func() bool { return strings.HasPrefix(ev.snapshot()["temp@x.test"], "bounced") })
			continue
		}
		if got := ev.snapshot()["temp@x.test"]; got != "deferred mailbox_full" {
			t.Fatalf("attempt %d: %q", attempt, got)
		}
		h.clock.Add(h.mgr.backoff(attempt) + time.Second)
		h.mgr.Flush(context.Background())
	}
}
