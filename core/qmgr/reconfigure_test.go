package qmgr

import (
	"context"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

// A lifetime shortened by Reconfigure applies to mail already deferred:
// the next failed attempt bounces it. ActiveLimit stays as it started.
func TestReconfigureShortensLifetime(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	id := h.submit("a@sender.test", "temp@x.test")
	h.waitFor("first deferral", func() bool { return h.agent.count("temp@x.test") == 1 && h.count(queue.Deferred) == 1 })
	c := h.mgr.Config
	c.MaxLifetime, c.ActiveLimit = time.Minute, 1
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.mgr.Reconfigure(ctx, c); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(time.Hour)
	if n := h.mgr.Flush(ctx); n != 1 {
		t.Fatalf("flush moved %d", n)
	}
	h.waitFor("bounce notice", func() bool { return len(h.notes.all()) == 1 })
	if n := h.notes.all()[0]; n.kind != NoticeFailure || n.id != id {
		t.Fatalf("notice %+v", n)
	}
	h.stop()
	if h.mgr.Config.MaxLifetime != time.Minute || h.mgr.Config.ActiveLimit != 100 {
		t.Fatalf("config after reconfigure: %+v", h.mgr.Config)
	}
}
