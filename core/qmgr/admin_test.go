package qmgr

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

func (h *harness) apply(id queue.ID, op Op, text string) (queue.State, Outcome) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, out, err := h.mgr.Apply(ctx, id, op, text)
	if err != nil {
		h.t.Fatalf("%s %s: %v", op, id, err)
	}
	return st, out
}

func (h *harness) in(st queue.State, id queue.ID) bool {
	ents, _ := h.store.List(st)
	for _, e := range ents {
		if e.ID == id {
			return true
		}
	}
	return false
}

// Operator actions on mail that is not being delivered act on the file.
func TestAdminOnWaitingMail(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	id := h.submit("a@s.test", "temp@x.test")
	h.waitFor("deferred", func() bool { return h.in(queue.Deferred, id) })

	if st, out := h.apply(id, OpHold, "outage at x.test"); st != queue.Deferred || out != Applied {
		t.Fatalf("hold: %s %s", st, out)
	}
	if m := h.read(queue.Hold, id); m.HoldReason != "outage at x.test" {
		t.Fatalf("hold reason %q", m.HoldReason)
	}
	if _, out := h.apply(id, OpHold, ""); out != Unchanged {
		t.Fatalf("second hold: %s", out)
	}
	// Held mail is not retried by a flush.
	h.mgr.Flush(context.Background())
	if h.agent.count("temp@x.test") != 1 {
		t.Fatal("held mail was retried")
	}
	// Release: back through incoming/, tried again at once.
	h.apply(id, OpRelease, "")
	h.waitFor("retried after release", func() bool { return h.agent.count("temp@x.test") == 2 && h.in(queue.Deferred, id) })
	if m := h.read(queue.Deferred, id); m.HoldReason != "" {
		t.Fatalf("hold reason kept after release: %q", m.HoldReason)
	}
	if _, out := h.apply(id, OpRelease, ""); out != Unchanged {
		t.Fatalf("release of deferred mail: %s", out)
	}
	// Requeue: retried now, without waiting for the backoff.
	h.apply(id, OpRequeue, "")
	h.waitFor("retried after requeue", func() bool { return h.agent.count("temp@x.test") == 3 && h.in(queue.Deferred, id) })

	// Bounce: the sender is told with the operator's text; the file goes.
	h.apply(id, OpBounce, "x.test is gone for good")
	h.waitFor("bounced", func() bool { return len(h.notes.all()) == 1 && h.count(queue.Deferred) == 0 })
	if n := h.notes.all()[0]; n.kind != NoticeFailure || n.id != id {
		t.Fatalf("notice %+v", n)
	}

	id2 := h.submit("a@s.test", "temp2@x.test")
	h.waitFor("deferred", func() bool { return h.in(queue.Deferred, id2) })
	h.apply(id2, OpDelete, "")
	if h.count(queue.Deferred) != 0 || len(h.notes.all()) != 1 {
		t.Fatal("delete left the file or sent a notice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, _, err := h.mgr.Apply(ctx, id2, OpDelete, ""); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("delete of a deleted message: %v", err)
	}
	if _, _, err := h.mgr.Apply(ctx, "../../etc/passwd", OpDelete, ""); err == nil || errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("path accepted as an ID: %v", err)
	}
}

// A message being delivered is marked, and acted on only when its
// delivery returns; its deliveries not yet started never start.
func TestAdminMarksMailInDelivery(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitConcurrency = 1; c.Concurrency = 1 })
	block := make(chan struct{})
	h.agent.block["slow.test"] = block
	busy := h.submit("a@s.test", "temp1@slow.test")
	h.start()
	<-h.agent.started // busy is with the agent
	queued := h.submit("a@s.test", "u2@slow.test")
	h.waitFor("queued active", func() bool { return h.in(queue.Active, queued) })

	// The queued one is held at once: its delivery never starts.
	if st, out := h.apply(queued, OpHold, ""); st != queue.Active || out != Applied {
		t.Fatalf("hold of queued delivery: %s %s", st, out)
	}
	if !h.in(queue.Hold, queued) {
		t.Fatal("queued delivery not held")
	}
	// The busy one stays in active/ under the agent until it returns.
	if _, out := h.apply(busy, OpHold, "wait"); out != Marked {
		t.Fatalf("hold of busy message: %s", out)
	}
	if _, out := h.apply(busy, OpDelete, ""); out != Unchanged {
		t.Fatalf("conflicting second operation: %s", out)
	}
	if !h.in(queue.Active, busy) {
		t.Fatal("busy message moved under the agent")
	}
	close(block)
	h.waitFor("busy held after its delivery", func() bool { return h.in(queue.Hold, busy) })
	if h.agent.count("u2@slow.test") != 0 {
		t.Fatal("held message was delivered")
	}
	if m := h.read(queue.Hold, busy); m.HoldReason != "wait" || m.Attempts != 1 {
		t.Fatalf("held: reason %q attempts %d", m.HoldReason, m.Attempts)
	}
}

func TestAdminDeleteAndBounceInDelivery(t *testing.T) {
	h := newHarness(t, nil)
	block := make(chan struct{})
	h.agent.block["slow.test"] = block
	del := h.submit("a@s.test", "temp1@slow.test")
	bnc := h.submit("b@s.test", "temp2@slow.test")
	rel := h.submit("c@s.test", "temp3@slow.test")
	h.start()
	for i := 0; i < 3; i++ {
		<-h.agent.started
	}
	if _, out := h.apply(del, OpDelete, ""); out != Marked {
		t.Fatalf("delete: %s", out)
	}
	h.apply(bnc, OpBounce, "returned by the postmaster")
	h.apply(rel, OpHold, "")
	if _, out := h.apply(rel, OpRelease, ""); out != Applied {
		t.Fatalf("release cancelling a hold mark: %s", out)
	}
	close(block)
	h.waitFor("settled", func() bool {
		return h.count(queue.Active) == 0 && h.count(queue.Incoming) == 0 && len(h.notes.all()) == 1
	})
	if h.in(queue.Deferred, del) || h.in(queue.Deferred, bnc) || !h.in(queue.Deferred, rel) || h.count(queue.Hold) != 0 {
		t.Fatal("wrong final states")
	}
	if n := h.notes.all()[0]; n.id != bnc || n.kind != NoticeFailure {
		t.Fatalf("notice %+v", n)
	}
}

// Requeue re-resolves: a destination declared dead is tried again.
func TestAdminRequeueRevivesDestination(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitConcurrency = 1 })
	id := h.submit("a@s.test", "down@dead.test")
	h.start()
	h.waitFor("deferred", func() bool { return h.in(queue.Deferred, id) })
	h.apply(id, OpRequeue, "")
	h.waitFor("tried again", func() bool { return h.agent.count("down@dead.test") == 2 })
	h.waitFor("deferred again", func() bool { return h.in(queue.Deferred, id) })
	m := h.read(queue.Deferred, id)
	if m.Attempts != 2 || !strings.Contains(m.Recipients[0].Reason, "4.4.1") {
		t.Fatalf("attempts %d reason %q", m.Attempts, m.Recipients[0].Reason)
	}
}
