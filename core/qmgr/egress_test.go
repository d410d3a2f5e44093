package qmgr

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/queue"
)

// shaper is an egress.Cache over a Go table of policies by next hop.
func shaper(pols map[string]*egress.Policy, fail map[string]bool) *egress.Cache {
	return &egress.Cache{Hook: func(_ context.Context, d egress.Dest) (*egress.Policy, error) {
		if fail[d.Nexthop] {
			return nil, errors.New("egress script broken")
		}
		return pols[d.Nexthop], nil
	}}
}

func rate(t *testing.T, s string) egress.Rate {
	t.Helper()
	var p egress.Policy
	if err := p.Set("max_message_rate", s); err != nil {
		t.Fatal(err)
	}
	return p.MaxMessageRate
}

func (a *agent) callsTo(hop string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.calls {
		if c.Nexthop == hop {
			n++
		}
	}
	return n
}

// TestThrottledDestinationDoesNotDelayOthers: a destination paced to
// 1/h and one at its connection limit with a delivery stuck keep their
// mail queued while every message to a third destination goes.
func TestThrottledDestinationDoesNotDelayOthers(t *testing.T) {
	h := newHarness(t, nil)
	h.mgr.Egress = shaper(map[string]*egress.Policy{
		"slow.test":  {MaxMessageRate: rate(t, "1/h")},
		"stuck.test": {ConnectionLimit: 1},
	}, nil)
	h.agent.block["stuck.test"] = make(chan struct{})
	defer close(h.agent.block["stuck.test"])
	for i := range 10 {
		h.submit("s@x", "a"+itoa(i)+"@slow.test")
		h.submit("s@x", "a"+itoa(i)+"@stuck.test")
		h.submit("s@x", "a"+itoa(i)+"@fast.test")
	}
	h.start()
	h.waitFor("fast.test's ten messages", func() bool { return h.agent.callsTo("fast.test") == 10 })
	if n := h.agent.callsTo("slow.test"); n != 1 {
		t.Errorf("slow.test (1/h): %d deliveries, want 1", n)
	}
	if n := h.agent.callsTo("stuck.test"); n != 1 {
		t.Errorf("stuck.test (connection_limit 1, first stuck): %d deliveries, want 1", n)
	}
	// The rest may still be on their way through resolve: wait until
	// each destination holds its nine.
	got := map[string]Shaping{}
	h.waitFor("nine queued for each held destination", func() bool {
		view, err := h.mgr.Destinations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range view {
			got[v.Domain] = v
		}
		return got["slow.test"].Queued == 9 && got["stuck.test"].Queued == 9
	})
	if n := h.agent.callsTo("slow.test") + h.agent.callsTo("stuck.test"); n != 2 {
		t.Errorf("%d deliveries to the held destinations while waiting, want 2", n)
	}
	if s := got["slow.test"]; s.Queued != 9 || s.MaxMessageRate != "1/h" || s.Started != 1 {
		t.Errorf("slow.test view: %+v", s)
	}
	if s := got["stuck.test"]; s.Queued != 9 || s.InFlight != 1 || s.ConnectionLimit != 1 {
		t.Errorf("stuck.test view: %+v", s)
	}
}

// TestSiteSharesLimits: two domains in one site share its connection
// limit; the request carries the policy to the agent.
func TestSiteSharesLimits(t *testing.T) {
	h := newHarness(t, nil)
	google := &egress.Policy{ConnectionLimit: 2, Site: "google", TLS: "verify", Source: "127.0.0.2",
		MaxDeliveriesPerConnection: 7, IdleTimeout: time.Minute}
	h.mgr.Egress = shaper(map[string]*egress.Policy{"a.test": google, "b.test": google}, nil)
	for _, hop := range []string{"a.test", "b.test"} {
		h.agent.block[hop] = make(chan struct{})
	}
	for i := range 5 {
		h.submit("s@x", "r"+itoa(i)+"@a.test")
		h.submit("s@x", "r"+itoa(i)+"@b.test")
	}
	h.start()
	h.waitFor("two deliveries started", func() bool { return h.agent.ncalls() == 2 })
	h.submit("s@x", "x@other.test") // a later message to another site goes past
	h.waitFor("other.test", func() bool { return h.agent.callsTo("other.test") == 1 })
	if n := h.agent.ncalls(); n != 3 {
		t.Errorf("%d deliveries with the site's limit of 2 busy; want 2 + other.test", n)
	}
	h.agent.mu.Lock()
	req := h.agent.calls[0]
	h.agent.mu.Unlock()
	want := deliver.Egress{Site: "google", Source: "127.0.0.2", TLS: "verify", MaxDeliveriesPerConnection: 7, IdleTimeout: time.Minute}
	if req.Egress == nil || *req.Egress != want {
		t.Errorf("request egress %+v, want %+v", req.Egress, want)
	}
	close(h.agent.block["a.test"])
	close(h.agent.block["b.test"])
	h.waitFor("all delivered", func() bool { return h.agent.ncalls() == 11 })
}

// TestEgressErrorDefers: a failing egress policy defers the mail with
// 451 4.3.0, the agent never called; other destinations go.
func TestEgressErrorDefers(t *testing.T) {
	h := newHarness(t, nil)
	h.mgr.Egress = shaper(nil, map[string]bool{"broken.test": true})
	id := h.submit("s@x", "a@broken.test", "b@fine.test")
	h.start()
	h.waitFor("deferral", func() bool { return h.count(queue.Deferred) == 1 })
	if n := h.agent.callsTo("broken.test"); n != 0 {
		t.Errorf("broken.test was tried %d times", n)
	}
	m := h.read(queue.Deferred, id)
	if r := m.Recipients[0]; r.State != queue.Pending || !strings.HasPrefix(r.Reason, "451 4.3.0 egress policy") {
		t.Errorf("a@broken.test: %v %q", r.State, r.Reason)
	}
	if m.Recipients[1].State != queue.Delivered {
		t.Errorf("b@fine.test: %v", m.Recipients[1].State)
	}
}

// ruleAgent answers 421 4.7.0 rate limited for next hop "limited.test".
type ruleAgent struct{ *agent }

func (a ruleAgent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	res := a.agent.Deliver(ctx, req)
	if req.Nexthop == "limited.test" {
		return deliver.AllResults(len(res), dsn.New(421, "4.7.0", "you are rate limited, slow down"), "mx.limited.test[192.0.2.5]:25")
	}
	return res
}

func compiled(t *testing.T, specs ...egress.RuleSpec) egress.Rules {
	var rs egress.Rules
	for _, s := range specs {
		r, err := egress.Compile(s, time.ParseDuration)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// TestResponseRuleSuspends: a reply matching a rule suspends the site;
// the rest of its mail is deferred without trying; the operator's
// resume lifts it and a flush delivers.
func TestResponseRuleSuspends(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Rules = compiled(t, egress.RuleSpec{Pattern: `^421 4\.7\.0 .*rate limited`, Action: "suspend", For: "1h"})
		c.InitConcurrency = 1
	})
	h.mgr.Agents["smtp"] = ruleAgent{h.agent}
	h.mgr.Egress = shaper(map[string]*egress.Policy{"limited.test": {Site: "lim", ConnectionLimit: 1}}, nil)
	h.submit("s@x", "first@limited.test")
	h.start()
	h.waitFor("the first deferral", func() bool { return h.count(queue.Deferred) == 1 })
	var ids []queue.ID
	for i := range 5 {
		ids = append(ids, h.submit("s@x", "r"+itoa(i)+"@limited.test"))
	}
	h.waitFor("all deferred", func() bool { return h.count(queue.Deferred) == 6 })
	if n := h.agent.callsTo("limited.test"); n != 1 {
		t.Errorf("limited.test tried %d times; after the rule, want no more tries", n)
	}
	m := h.read(queue.Deferred, ids[0])
	if r := m.Recipients[0].Reason; !strings.Contains(r, "delivery suspended for site lim until") || !strings.HasPrefix(r, "451 4.7.0") {
		t.Errorf("reason %q", r)
	}
	ctx := context.Background()
	list, _ := h.mgr.Suspensions(ctx)
	if len(list) != 1 || list[0].Site != "lim" || !strings.HasPrefix(list[0].By, "rule ") || !list[0].Until.Equal(h.clock.Now().Add(time.Hour)) {
		t.Fatalf("suspensions %+v", list)
	}
	if n, err := h.mgr.Resume(ctx, "lim", ""); n != 1 || err != nil {
		t.Fatalf("resume: %d, %v", n, err)
	}
	h.mgr.Agents["smtp"] = h.agent // the receiver recovered
	if n := h.mgr.Flush(ctx); n != 6 {
		t.Errorf("flush moved %d", n)
	}
	h.waitFor("delivery after resume", func() bool { return h.agent.callsTo("limited.test") >= 7 })
}

// TestOperatorSuspendDomain: queue.suspend{domain=...} defers without
// trying until it ends; its view and listing show it.
func TestOperatorSuspendDomain(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	ctx := context.Background()
	if err := h.mgr.Suspend(ctx, Suspension{Domain: "held.test", Until: h.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := h.mgr.Suspend(ctx, Suspension{Until: h.clock.Now().Add(time.Hour)}); err == nil {
		t.Error("a suspension of nothing was accepted")
	}
	h.submit("s@x", "a@held.test")
	h.submit("s@x", "b@free.test")
	h.waitFor("one deferred, one delivered", func() bool { return h.count(queue.Deferred) == 1 && h.agent.callsTo("free.test") == 1 })
	if n := h.agent.callsTo("held.test"); n != 0 {
		t.Errorf("held.test tried %d times", n)
	}
	view, _ := h.mgr.Destinations(ctx)
	found := false
	for _, v := range view {
		if v.Domain == "held.test" {
			found = v.SuspendedUntil.Equal(h.clock.Now().Add(time.Hour)) && strings.HasPrefix(v.Suspended, "operator")
		}
	}
	if !found {
		t.Errorf("view %+v lacks the suspension", view)
	}
	h.clock.Add(time.Hour + time.Second)
	if list, _ := h.mgr.Suspensions(ctx); len(list) != 0 {
		t.Errorf("expired suspension still listed: %+v", list)
	}
}

// TestLaneConnectionModel: reuse within idle_timeout and under
// max_deliveries_per_connection takes no connection-rate token.
func TestLaneConnectionModel(t *testing.T) {
	l := &lane{pol: egress.Policy{MaxConnectionRate: egress.Rate{N: 1, Per: time.Hour}, MaxDeliveriesPerConnection: 2,
		IdleTimeout: time.Minute}, limit: 5}
	c := Config{Concurrency: 5}
	now := time.Unix(1_800_000_000, 0)
	step := func(reached bool) (waited bool) {
		w, room := l.wait(now)
		if !room {
			t.Fatal("no room")
		}
		if w > 0 {
			return true
		}
		j := &job{}
		l.start(j, now)
		l.release(j, reached, now, c)
		return false
	}
	if step(true) { // new connection, one use, goes idle
		t.Fatal("first start waited")
	}
	if step(true) { // reuses it; at 2 uses it is closed
		t.Error("reuse waited")
	}
	if !step(true) { // needs a new connection: the hour's allowance is spent
		t.Error("a delivery past max_deliveries_per_connection did not wait for the connection rate")
	}
	now = now.Add(2 * time.Hour)
	if step(false) {
		t.Error("later a connection is allowed")
	}
	now = now.Add(time.Second)
	if !step(true) {
		t.Error("a delivery that reached no server left a reusable connection")
	}
}

// blockingShaper holds the egress answer for one next hop until
// released, as a slow script or MX lookup would.
type blockingShaper struct {
	hop     string
	release chan struct{}
	asked   chan struct{}
}

func (b *blockingShaper) Policy(ctx context.Context, transport, nexthop, tenant string) (*egress.Policy, error) {
	if nexthop == b.hop {
		b.asked <- struct{}{}
		<-b.release
	}
	return nil, nil
}

// TestSlowEgressHookBlocksOnlyItsMail: the hook runs in the resolve
// workers: while it hangs for one destination, other mail is delivered
// and the manager's loop answers.
func TestSlowEgressHookBlocksOnlyItsMail(t *testing.T) {
	h := newHarness(t, nil)
	b := &blockingShaper{hop: "slow.test", release: make(chan struct{}), asked: make(chan struct{}, 1)}
	h.mgr.Egress = b
	h.submit("s@x", "a@slow.test")
	h.start()
	<-b.asked
	for i := range 5 {
		h.submit("s@x", "r"+itoa(i)+"@fast.test")
	}
	h.waitFor("fast.test delivered", func() bool { return h.agent.callsTo("fast.test") == 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.mgr.Destinations(ctx); err != nil {
		t.Fatalf("the manager's loop did not answer while a hook hung: %v", err)
	}
	if n := h.agent.callsTo("slow.test"); n != 0 {
		t.Errorf("slow.test delivered before its policy came: %d", n)
	}
	close(b.release)
	h.waitFor("slow.test delivered", func() bool { return h.agent.callsTo("slow.test") == 1 })
}
