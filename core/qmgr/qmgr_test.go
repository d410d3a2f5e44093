package qmgr

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

func TestDeliversAndRemoves(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.submit("a@sender.test", "b@remote.test", "c@remote.test", "d@other.test", "u@local.test", "v@local.test")
	h.waitFor("all delivered", func() bool {
		return h.count(queue.Active) == 0 && h.count(queue.Incoming) == 0 && h.mgr.Stats().Delivered == 5
	})
	if h.count(queue.Deferred) != 0 {
		t.Fatal("message deferred")
	}
	// remote.test: one call with both recipients; local: one call each.
	calls := map[string]int{}
	for _, c := range h.agent.calls {
		calls[c.Nexthop] += 1
	}
	if calls["remote.test"] != 1 || calls["other.test"] != 1 || calls["local.test"] != 2 {
		t.Fatalf("calls per next hop: %v", calls)
	}
}

func TestMixedOutcomes(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	id := h.submit("a@sender.test", "ok@x.test", "temp@x.test", "perm@x.test", "ok2+notify@y.test")
	h.waitFor("deferred", func() bool { return h.count(queue.Deferred) == 1 })
	h.stop()
	m := h.read(queue.Deferred, id)
	want := map[string]queue.RcptState{"ok@x.test": queue.Delivered, "temp@x.test": queue.Pending,
		"perm@x.test": queue.Failed, "ok2+notify@y.test": queue.Delivered}
	for _, r := range m.Recipients {
		if r.State != want[r.Addr] {
			t.Errorf("%s: state %c", r.Addr, r.State)
		}
	}
	if m.Recipients[1].Reason != "450 4.2.0 mailbox busy" || m.Attempts != 1 {
		t.Errorf("reason %q attempts %d", m.Recipients[1].Reason, m.Attempts)
	}
	info, _ := os.Stat(h.store.Path(queue.Deferred, id))
	if wantNext := h.clock.Now().Add(300 * time.Second); !info.ModTime().Equal(wantNext) || !m.NextAttempt.Equal(wantNext) {
		t.Errorf("next attempt %v / mtime %v, want %v", m.NextAttempt, info.ModTime(), wantNext)
	}
	notes := h.notes.all()
	if len(notes) != 2 || notes[0].kind != NoticeFailure || notes[0].to[0] != "perm@x.test" ||
		notes[1].kind != NoticeSuccess || notes[1].to[0] != "ok2+notify@y.test" {
		t.Fatalf("notices %+v", notes)
	}
	// The next attempt retries only the deferred recipient and notifies nobody again.
	h.clock.Add(301 * time.Second)
	h.start()
	h.waitFor("retried", func() bool { return h.agent.count("temp@x.test") == 2 })
	h.stop()
	for _, r := range []string{"ok@x.test", "perm@x.test", "ok2+notify@y.test"} {
		if n := h.agent.count(r); n != 1 {
			t.Errorf("%s delivered %d times", r, n)
		}
	}
	if len(h.notes.all()) != 2 {
		t.Errorf("notices repeated: %+v", h.notes.all())
	}
}

func TestBackoffDoubles(t *testing.T) {
	h := newHarness(t, nil)
	want := []time.Duration{300, 600, 1200, 2400, 4000, 4000}
	for i, w := range want {
		if got := h.mgr.backoff(i + 1); got != w*time.Second {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
}

func TestRetriesUntilLifetimeThenBounces(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxLifetime = time.Hour })
	h.start()
	id := h.submit("a@sender.test", "temp@x.test")
	for attempt := 1; ; attempt++ {
		if attempt > 20 {
			t.Fatal("never expired")
		}
		// Wait for a settled state: tried this often, and then either
		// parked in deferred/ or bounced.
		h.waitFor("attempt settled", func() bool {
			return h.agent.count("temp@x.test") == attempt && (h.count(queue.Deferred) == 1 || len(h.notes.all()) > 0)
		})
		if len(h.notes.all()) > 0 {
			h.waitFor("removed", func() bool { return h.count(queue.Active) == 0 })
			break
		}
		h.clock.Add(h.mgr.backoff(attempt) + time.Second)
		if n := h.mgr.Flush(context.Background()); n != 1 {
			t.Fatalf("flush moved %d", n)
		}
	}
	notes := h.notes.all()
	if len(notes) != 1 || notes[0].kind != NoticeFailure || notes[0].id != id {
		t.Fatalf("notices %+v; attempts %d; stats %+v; queue %d/%d/%d", notes, h.agent.count("temp@x.test"), h.mgr.Stats(),
			h.count(queue.Incoming), h.count(queue.Active), h.count(queue.Deferred))
	}
	// Attempts at 0, 300, 900, 2100 s; the one at 4500 s is past the hour.
	if n := h.agent.count("temp@x.test"); n != 5 {
		t.Errorf("%d attempts", n)
	}
	if h.mgr.Stats().Expired != 1 {
		t.Errorf("stats %+v", h.mgr.Stats())
	}
}

func TestRestartDoesNotRedeliver(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit("a@sender.test", "one@x.test", "two@x.test", "three@x.test")
	// Simulate a crash after the first recipient's outcome was recorded.
	if err := h.store.Move(id, queue.Incoming, queue.Active); err != nil {
		t.Fatal(err)
	}
	m := h.read(queue.Active, id)
	if err := m.Append(queue.RcptDelivered(0, "250 2.0.0 ok")); err != nil {
		t.Fatal(err)
	}
	if n, err := h.store.Recover(); err != nil || n != 1 {
		t.Fatalf("recover %d %v", n, err)
	}
	h.start()
	h.waitFor("done", func() bool { return h.mgr.Stats().Delivered == 2 && h.count(queue.Active) == 0 })
	if h.agent.count("one@x.test") != 0 || h.agent.count("two@x.test") != 1 {
		t.Fatalf("deliveries: one=%d two=%d", h.agent.count("one@x.test"), h.agent.count("two@x.test"))
	}
}

func TestSlowDestinationDoesNotStarveOthers(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxDeliveries = 4; c.InitConcurrency = 2 })
	h.agent.block["slow.test"] = make(chan struct{})
	for i := 0; i < 20; i++ {
		h.submit("a@s.test", fmt.Sprintf("u%d@slow.test", i))
	}
	for i := 0; i < 10; i++ {
		h.submit("a@s.test", fmt.Sprintf("u%d@fast.test", i))
	}
	h.start()
	h.waitFor("fast mail through while slow is stuck", func() bool {
		n := 0
		for i := 0; i < 10; i++ {
			n += h.agent.count(fmt.Sprintf("u%d@fast.test", i))
		}
		return n == 10
	})
	h.agent.mu.Lock()
	if h.agent.maxHop["slow.test"] > 2 {
		t.Errorf("slow destination reached concurrency %d with a window of 2", h.agent.maxHop["slow.test"])
	}
	h.agent.mu.Unlock()
	close(h.agent.block["slow.test"])
	h.waitFor("slow drained", func() bool { return h.mgr.Stats().Delivered == 30 })
}

func TestDeadDestinationIsSuspended(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitConcurrency = 1 })
	for i := 0; i < 10; i++ {
		h.submit("a@s.test", fmt.Sprintf("down%d@dead.test", i))
	}
	h.start()
	h.waitFor("all deferred", func() bool { return h.count(queue.Deferred) == 10 })
	if n := h.agent.ncalls(); n >= 10 {
		t.Fatalf("dead destination tried %d times", n)
	}
	ents, _ := h.store.List(queue.Deferred)
	m := h.read(queue.Deferred, ents[len(ents)-1].ID)
	if m.Recipients[0].Reason == "" {
		t.Error("no reason recorded for suspended delivery")
	}
}

func TestActiveLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ActiveLimit = 2 })
	h.agent.block["x.test"] = make(chan struct{})
	var ids []queue.ID
	for i := 0; i < 6; i++ {
		ids = append(ids, h.submit("a@s.test", fmt.Sprintf("u%d@x.test", i)))
	}
	h.start()
	h.waitFor("two active", func() bool { return h.count(queue.Active) == 2 })
	// Ask the manager itself, on its goroutine, where each message is: a
	// scheduler that overfilled holds more than two in its active set,
	// whether or not their files were moved yet.
	active := 0
	for _, id := range ids {
		if h.where(id) == queue.Active {
			active++
		}
	}
	if n := h.count(queue.Active); n != 2 || active != 2 {
		t.Fatalf("%d active files, %d in the active set, with a limit of 2", n, active)
	}
	close(h.agent.block["x.test"])
	h.waitFor("all delivered", func() bool { return h.mgr.Stats().Delivered == 6 })
}

func TestCorruptAndPanics(t *testing.T) {
	h := newHarness(t, nil)
	bad := queue.NewID(time.Now())
	os.WriteFile(h.store.Path(queue.Incoming, bad), []byte("garbage"), 0o600)
	h.start()
	id := h.submit("a@s.test", "panic@x.test", "fine@y.test")
	h.waitFor("deferred", func() bool { return h.count(queue.Deferred) == 1 })
	if _, err := os.Stat(h.store.Path(queue.Corrupt, bad)); err != nil {
		t.Errorf("corrupt file not quarantined: %v", err)
	}
	h.stop()
	m := h.read(queue.Deferred, id)
	if m.Recipients[0].State != queue.Pending || m.Recipients[1].State != queue.Delivered {
		t.Errorf("states %+v", m.Recipients)
	}
}

func TestNoticeFailureKeepsMessage(t *testing.T) {
	h := newHarness(t, nil)
	h.notes.fail = true
	id := h.submit("a@s.test", "perm@x.test")
	h.start()
	h.waitFor("deferred", func() bool { return h.count(queue.Deferred) == 1 })
	h.stop()
	if m := h.read(queue.Deferred, id); m.Recipients[0].Reported {
		t.Fatal("marked reported although the bounce failed")
	}
	h.notes.fail = false
	h.clock.Add(time.Hour)
	h.start()
	h.waitFor("bounced and removed", func() bool { return h.count(queue.Deferred) == 0 && h.count(queue.Active) == 0 })
	if len(h.notes.all()) != 1 || h.agent.count("perm@x.test") != 1 {
		t.Fatalf("notices %+v, attempts %d", h.notes.all(), h.agent.count("perm@x.test"))
	}
}

func TestDuplicateRecipientsDeliveredOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.submit("a@s.test", "b@x.test", "B@x.test", "b@x.test")
	h.waitFor("done", func() bool { return h.count(queue.Active)+h.count(queue.Incoming) == 0 && h.mgr.Stats().Delivered == 3 })
	if n := h.agent.count("b@x.test") + h.agent.count("B@x.test"); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

// Messages waiting in the active set hold at most heldFiles descriptors,
// so a large backlog cannot exhaust them (it once left mail stuck in
// active/ with EMFILE).
func TestActiveMessagesHoldBoundedDescriptors(t *testing.T) {
	const n = heldFiles + 400
	h := newHarness(t, func(c *Config) { c.InitConcurrency = 1; c.Concurrency = 1; c.MaxDeliveries = 1; c.ActiveLimit = 2 * n })
	h.agent.block["x.test"] = make(chan struct{})
	before := openFDs(t)
	for i := 0; i < n; i++ {
		h.submit("a@s.test", fmt.Sprintf("u%d@x.test", i))
	}
	h.start()
	h.waitFor("all active", func() bool { return h.count(queue.Active) == n })
	if grown := openFDs(t) - before; grown > heldFiles+50 {
		t.Errorf("%d descriptors held for %d active messages", grown, n)
	}
	close(h.agent.block["x.test"])
	h.waitFor("all delivered", func() bool { return h.mgr.Stats().Delivered == n })
	// Descriptors are closed just after the outcome is counted: wait,
	// with a bound, for the count to settle instead of sampling it once.
	grown := openFDs(t) - before
	for deadline := time.Now().Add(10 * time.Second); grown > 50 && time.Now().Before(deadline); grown = openFDs(t) - before {
		time.Sleep(20 * time.Millisecond)
	}
	if grown > 50 {
		t.Errorf("%d descriptors still held after delivery", grown)
	}
}

func openFDs(t *testing.T) int {
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("SKIP: no /proc/self/fd to count descriptors")
	}
	return len(des)
}

// A flush retries every deferred message, not just as many as fit in the
// active set at once; mail deferred again afterwards waits for its time.
func TestFlushBeyondActiveLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ActiveLimit = 3 })
	h.start()
	var ids []queue.ID
	for i := 0; i < 10; i++ {
		ids = append(ids, h.submit("a@s.test", fmt.Sprintf("temp%d@x.test", i)))
	}
	h.waitFor("all deferred", func() bool { return h.count(queue.Deferred) == 10 })
	// Each settled, as the manager itself answers (a deferral's file is
	// stamped with its next attempt before it moves into deferred/).
	for _, id := range ids {
		if st := h.where(id); st != queue.Deferred {
			t.Fatalf("%s is %s before the flush", id, st)
		}
	}
	h.mgr.Flush(context.Background())
	h.waitFor("all retried once", func() bool {
		for i := 0; i < 10; i++ {
			if h.agent.count(fmt.Sprintf("temp%d@x.test", i)) != 2 {
				return false
			}
		}
		return h.count(queue.Deferred) == 10
	})
	// A looping flush would have taken them again: the manager, asked on
	// its goroutine, has every one deferred, waiting for its time.
	for _, id := range ids {
		if st := h.where(id); st != queue.Deferred {
			t.Errorf("%s is %s after the flush, want deferred", id, st)
		}
	}
	for i := 0; i < 10; i++ {
		if n := h.agent.count(fmt.Sprintf("temp%d@x.test", i)); n != 2 {
			t.Errorf("temp%d tried %d times", i, n)
		}
	}
}
