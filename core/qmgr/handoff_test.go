package qmgr

import (
	"testing"

	"github.com/moonpost/moonpost/core/queue"
)

func TestReserveAccounting(t *testing.T) {
	m := &Manager{Config: Config{ActiveLimit: 2}}
	m.Init()
	if m.Reserve() {
		t.Fatal("a place reserved before the manager runs")
	}
	m.handoff.open.Store(true)
	if !m.Reserve() || !m.Reserve() {
		t.Fatal("no place in an empty active set")
	}
	if m.Reserve() {
		t.Fatal("a third place in an active set of two")
	}
	m.Unreserve()
	if !m.Reserve() {
		t.Fatal("a place given back was not reusable")
	}
	m.Unreserve()
	m.Unreserve()
	m.handoff.active.Store(1)
	m.handoff.waiting.Store(1)
	if m.Reserve() {
		t.Fatal("new mail jumped ahead of mail waiting for room")
	}
	m.handoff.waiting.Store(0)
	if !m.Reserve() || m.Reserve() {
		t.Fatal("the active set's own size is not counted")
	}
}

// With the manager running, new mail goes straight into active/: cleanup
// announces nothing through incoming/, and the mail is delivered.
func TestHandoffSkipsIncoming(t *testing.T) {
	h := newHarness(t, nil)
	announced := 0
	h.clean.NotifyTenant = func(id queue.ID, tenant string) { announced++; h.mgr.WakeTenant(id, tenant) }
	h.start()
	h.waitFor("hand-offs open", func() bool { return h.mgr.handoff.open.Load() })
	for i := 0; i < 5; i++ {
		h.submit("a@sender.test", "b@remote.test")
	}
	h.waitFor("all delivered", func() bool {
		return h.mgr.Stats().Delivered == 5 && h.count(queue.Active) == 0
	})
	if announced != 0 {
		t.Errorf("%d messages went through incoming/", announced)
	}
	h.stop()
	// Stopped, the manager takes no hand-off: mail waits in incoming/.
	h.submit("a@sender.test", "b@remote.test")
	if announced != 1 || h.count(queue.Incoming) != 1 {
		t.Errorf("after stop: %d announced, %d in incoming/", announced, h.count(queue.Incoming))
	}
}
