package qmgr

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

func (h *harness) submitTenant(tenant, sender string, rcpts ...string) queue.ID {
	h.t.Helper()
	env := &queue.Envelope{Sender: sender, Tenant: tenant}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, queue.Recipient{Addr: r})
	}
	id, err := h.clean.Submit(context.Background(), env, strings.NewReader("Subject: t\r\n\r\nbody\r\n"))
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// queued waits until message id is in the active set with its jobs
// queued: a release of mail that is not held changes nothing, and the
// manager answers it only once the message is resolved.
func (h *harness) queued(id queue.ID) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		from, out := h.apply(id, OpRelease, "")
		if from == queue.Active && out == Unchanged {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s never became active (%s, %s)", id, from, out)
		}
		time.Sleep(time.Millisecond)
	}
}

// gateStart lets one blocked delivery finish and waits for the delivery
// that takes its slot to start.
func (h *harness) gateStart(gate chan struct{}) {
	h.t.Helper()
	select {
	case gate <- struct{}{}:
	case <-time.After(10 * time.Second):
		h.t.Fatal("no delivery waiting at the gate")
	}
	select {
	case <-h.agent.started:
	case <-time.After(10 * time.Second):
		h.t.Fatal("no delivery started after one finished")
	}
}

// A tenant's flood to one destination, queued before another tenant's
// single message to it, delays that message by one turn: with the
// destination's concurrency c busy with the flood, it is the (c+2)th
// delivery started (c in flight, the flood's next turn, then its own),
// not the (n+1)th as first come first served would have it.
func TestTenantFloodDoesNotDelayAnother(t *testing.T) {
	const n, c = 300, 3
	h := newHarness(t, func(cfg *Config) {
		cfg.ActiveLimit, cfg.Concurrency, cfg.InitConcurrency = n+10, c, c
	})
	gate := make(chan struct{})
	h.agent.block["flood.test"] = gate
	var flood []queue.ID
	for i := range n {
		flood = append(flood, h.submitTenant("A", "bulk@a.test", fmt.Sprintf("r%d@flood.test", i)))
	}
	h.start()
	for range c {
		select {
		case <-h.agent.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the flood did not start")
		}
	}
	for _, id := range flood {
		h.queued(id)
	}
	b := h.submitTenant("B", "one@b.test", "single@flood.test")
	h.queued(b)
	h.gateStart(gate)
	h.gateStart(gate)
	close(gate) // let the rest of the flood through
	h.waitFor("all delivered", func() bool { return h.mgr.Stats().Delivered == n+1 })
	h.agent.mu.Lock()
	calls := h.agent.calls
	h.agent.mu.Unlock()
	at := -1
	for i, req := range calls {
		if req.Recipients[0].Addr == "single@flood.test" {
			at = i
			if req.Tenant != "B" {
				t.Errorf("B's delivery carries tenant %q", req.Tenant)
			}
		} else if req.Tenant != "A" {
			t.Errorf("a flood delivery carries tenant %q", req.Tenant)
		}
	}
	if at+1 != c+2 {
		t.Fatalf("B's message was delivery %d of %d, want %d (2 tenants, concurrency %d)", at+1, len(calls), c+2, c)
	}
}

// tenantEvents records the tenant of each delivery event.
type tenantEvents struct {
	mu  sync.Mutex
	got map[string]string // recipient → tenant
}

func (e *tenantEvents) Delivered(_ context.Context, ev policy.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got[ev.Recipient] = ev.Tenant
}
func (e *tenantEvents) Deferred(context.Context, policy.Event) {}
func (e *tenantEvents) Bounced(context.Context, policy.Event)  {}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// The tenant reaches the delivery agent, the delivery events and the
// delivery log line (only when there is one).
func TestTenantInLogEventsAndRequest(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := newHarnessLog(t, log, nil)
	ev := &tenantEvents{got: map[string]string{}}
	h.mgr.Events = ev
	h.start()
	a := h.submitTenant("acme", "s@x.test", "t1@dest.test")
	b := h.submitTenant("", "s@x.test", "t2@dest.test")
	h.waitFor("both delivered", func() bool { return h.mgr.Stats().Delivered == 2 })
	h.stop()
	ev.mu.Lock()
	if ev.got["t1@dest.test"] != "acme" || ev.got["t2@dest.test"] != "" || len(ev.got) != 2 {
		t.Errorf("event tenants %q", ev.got)
	}
	ev.mu.Unlock()
	var lineA, lineB string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, string(a)+": to=<t1@dest.test>") {
			lineA = l
		}
		if strings.Contains(l, string(b)+": to=<t2@dest.test>") {
			lineB = l
		}
	}
	if !strings.Contains(lineA, ", dsn=2.0.0, tenant=acme, status=sent (ok)") {
		t.Errorf("log line of a tenant's message: %s", lineA)
	}
	if lineB == "" || strings.Contains(lineB, "tenant=") {
		t.Errorf("log line of an untenanted message: %s", lineB)
	}
	for _, c := range h.agent.calls {
		want := map[string]string{"t1@dest.test": "acme", "t2@dest.test": ""}[c.Recipients[0].Addr]
		if c.Tenant != want {
			t.Errorf("request for %s carries tenant %q", c.Recipients[0].Addr, c.Tenant)
		}
	}
}

// A flood that fills the active set does not keep another tenant's mail
// out of it: mail waiting for room is admitted round-robin over the
// tenants cleanup announced, so the other tenant's message gets in after
// at most one more of the flood's. Before its job is queued, the flood's
// messages already in the active set may start (settling a message and
// resolving the next one run off the scheduler, so admissions trail the
// deliveries a little): it starts within c + limit + 2 deliveries, two
// tenants' turns after the active set's worth, not after the flood.
func TestTenantFloodBeyondActiveLimit(t *testing.T) {
	const n, c, limit = 60, 2, 5
	h := newHarness(t, func(cfg *Config) {
		cfg.ActiveLimit, cfg.Concurrency, cfg.InitConcurrency = limit, c, c
	})
	gate := make(chan struct{})
	h.agent.block["flood.test"] = gate
	h.start()
	h.waitFor("hand-offs open", func() bool { return h.mgr.handoff.open.Load() })
	for i := range n {
		h.submitTenant("A", "bulk@a.test", fmt.Sprintf("r%d@flood.test", i))
	}
	for range c {
		select {
		case <-h.agent.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the flood did not start")
		}
	}
	h.waitFor("the flood waiting in incoming/", func() bool { return h.count(queue.Incoming) == n-limit })
	h.submitTenant("B", "one@b.test", "single@flood.test")
	seen := func() bool {
		h.agent.mu.Lock()
		defer h.agent.mu.Unlock()
		for _, req := range h.agent.calls {
			if req.Recipients[0].Addr == "single@flood.test" {
				return true
			}
		}
		return false
	}
	for i := 0; i < n && !seen(); i++ {
		h.gateStart(gate)
	}
	close(gate)
	h.waitFor("all delivered", func() bool { return h.mgr.Stats().Delivered == n+1 })
	h.agent.mu.Lock()
	defer h.agent.mu.Unlock()
	at := -1
	for i, req := range h.agent.calls {
		if req.Recipients[0].Addr == "single@flood.test" {
			at = i
		}
	}
	t.Logf("B's message was delivery %d of %d", at+1, len(h.agent.calls))
	if at < 0 || at+1 > c+limit+2 {
		t.Fatalf("B's message was delivery %d of %d, want at most %d (active limit %d, concurrency %d, 2 tenants)", at+1, len(h.agent.calls), c+limit+2, limit, c)
	}
}
