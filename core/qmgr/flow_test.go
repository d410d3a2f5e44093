package qmgr

import (
	"context"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

func TestFlowPassesWithinLimit(t *testing.T) {
	f := NewFlow(10, time.Hour)
	f.set(10)
	if f.Wait(context.Background()) {
		t.Fatal("paused at the limit")
	}
	var none *Flow
	if none.Wait(context.Background()) {
		t.Fatal("a nil Flow paused")
	}
	off := NewFlow(0, 0)
	off.set(1000)
	if off.Wait(context.Background()) {
		t.Fatal("a zero delay paused")
	}
}

// Over the limit an arrival waits until the manager makes room.
func TestFlowWaitsForRoom(t *testing.T) {
	f := NewFlow(10, time.Hour)
	f.set(11)
	done := make(chan bool)
	go func() { done <- f.Wait(context.Background()) }()
	select {
	case <-done:
		t.Fatal("did not wait while over the limit")
	case <-time.After(50 * time.Millisecond):
	}
	f.set(12) // still over: keeps waiting
	select {
	case <-done:
		t.Fatal("woke while still over the limit")
	case <-time.After(20 * time.Millisecond):
	}
	f.set(10)
	select {
	case paused := <-done:
		if !paused {
			t.Fatal("Wait says it did not pause")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not woken when room was made")
	}
}

// A pause is bounded by the delay and by the caller's context.
func TestFlowPauseIsBounded(t *testing.T) {
	f := NewFlow(0, 30*time.Millisecond)
	f.set(5)
	start := time.Now()
	if !f.Wait(context.Background()) {
		t.Fatal("did not pause")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("pause not bounded by the delay")
	}
	g := NewFlow(0, time.Hour)
	g.set(5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if !g.Wait(ctx) {
		t.Fatal("did not pause")
	}
}

// A receiver that stalls keeps its backlog to itself: past the Flow's
// limit its queued and in-flight messages pace arrivals only until it
// has started and finished nothing for stallAfter; then they are left
// out, so mail for everyone else is not held back by one tarpit.
func TestStalledDestinationDoesNotPaceArrivals(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Concurrency, c.InitConcurrency = 2, 2 })
	h.mgr.Flow = NewFlow(5, time.Hour)
	h.agent.block["stuck.test"] = make(chan struct{})
	defer close(h.agent.block["stuck.test"])
	h.start()
	for i := range 10 {
		h.submit("s@x", "a"+itoa(i)+"@stuck.test")
	}
	// Its deliveries have just started: a busy lane, not a stalled one,
	// so the backlog counts and arrivals would pause.
	h.waitFor("the backlog counted", func() bool { return h.mgr.Flow.held.Load() == 10 })
	h.clock.Add(2 * stallAfter)
	h.submit("s@x", "b@fast.test") // an arrival wakes the manager's loop
	h.waitFor("the stalled backlog left out", func() bool { return h.mgr.Flow.held.Load() <= 1 })
	h.waitFor("fast.test delivered", func() bool { return h.agent.callsTo("fast.test") == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if h.mgr.Flow.Wait(ctx) {
		t.Fatal("an arrival paused behind a stalled receiver's backlog")
	}
}

// Mail that waits only on a stalled lane (here a receiver that never
// answers, its one slot taken for over stallAfter) does not keep its
// queue file open: the open-file budget stays with mail that is about
// to be delivered. The budget's count returns to zero once all is done.
func TestStalledLaneMailHoldsNoFile(t *testing.T) {
	h := newHarness(t, func(cfg *Config) { cfg.Concurrency, cfg.InitConcurrency = 1, 1 })
	slow, fast := make(chan struct{}), make(chan struct{})
	h.agent.block["slow.test"], h.agent.block["fast.test"] = slow, fast
	h.start()
	h.submit("s@x.test", "a@slow.test")
	if got := <-h.agent.started; got != "slow.test" {
		t.Fatalf("first delivery to %s", got)
	}
	h.clock.Add(2 * stallAfter) // the slow lane: full, nothing started or done since
	waiting := h.submit("s@x.test", "b@slow.test")
	soon := h.submit("s@x.test", "c@fast.test")
	if got := <-h.agent.started; got != "fast.test" {
		t.Fatalf("second delivery to %s", got)
	}
	held := func(id queue.ID) (held, known bool) {
		if err := h.mgr.onLoop(context.Background(), func() {
			if am := h.mgr.active[id]; am != nil && am.msg != nil {
				held, known = am.held, true
			}
		}); err != nil {
			t.Fatal(err)
		}
		return held, known
	}
	h.waitFor("the slow lane's second message resolved", func() bool { _, ok := held(waiting); return ok })
	if h, _ := held(waiting); h {
		t.Error("mail waiting on a stalled lane holds its queue file open")
	}
	if h, ok := held(soon); !ok || !h {
		t.Errorf("mail in delivery: held %v (active %v), want its file kept open", h, ok)
	}
	close(slow)
	close(fast)
	h.waitFor("all delivered", func() bool { return h.mgr.Stats().Delivered == 3 })
	var count int
	h.waitFor("all settled", func() bool {
		h.mgr.onLoop(context.Background(), func() { count = h.mgr.heldCount + len(h.mgr.active) })
		return count == 0
	})
}
