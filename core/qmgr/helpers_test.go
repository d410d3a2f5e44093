package qmgr

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
)

// fakeClock is set by the test; the manager never sleeps on it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// agent answers by recipient: a local part "temp..." defers, "perm..."
// fails, "down..." reaches no server, "panic..." panics; anything else
// is delivered. It counts calls and can be blocked per next hop.
type agent struct {
	mu      sync.Mutex
	calls   []deliver.Request
	byRcpt  map[string]int
	inHop   map[string]int
	maxHop  map[string]int
	block   map[string]chan struct{}
	started chan string
}

func newAgent() *agent {
	return &agent{byRcpt: map[string]int{}, inHop: map[string]int{}, maxHop: map[string]int{},
		block: map[string]chan struct{}{}, started: make(chan string, 1000)}
}

func (a *agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	a.mu.Lock()
	a.calls = append(a.calls, *req)
	a.inHop[req.Nexthop]++
	a.maxHop[req.Nexthop] = max(a.maxHop[req.Nexthop], a.inHop[req.Nexthop])
	for _, r := range req.Recipients {
		a.byRcpt[r.Addr]++
	}
	block := a.block[req.Nexthop]
	a.mu.Unlock()
	a.started <- req.Nexthop
	defer func() { a.mu.Lock(); a.inHop[req.Nexthop]--; a.mu.Unlock() }()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}
	res := make([]deliver.Result, len(req.Recipients))
	for i, r := range req.Recipients {
		switch {
		case strings.HasPrefix(r.Addr, "temp"):
			res[i] = deliver.Result{Status: dsn.New(450, "4.2.0", "mailbox busy"), Relay: "mx[192.0.2.1]:25"}
		case strings.HasPrefix(r.Addr, "perm"):
			res[i] = deliver.Result{Status: dsn.New(550, "5.1.1", "no such user"), Relay: "mx[192.0.2.1]:25"}
		case strings.HasPrefix(r.Addr, "down"):
			res[i] = deliver.Result{Status: dsn.ConnectFailed, Relay: "mx.dead.test[192.0.2.9]:25"}
		case strings.HasPrefix(r.Addr, "panic"):
			panic("agent bug")
		default:
			res[i] = deliver.Result{Status: dsn.New(250, "2.0.0", "ok"), Relay: "mx[192.0.2.1]:25"}
		}
	}
	return res
}

func (a *agent) count(rcpt string) int { a.mu.Lock(); defer a.mu.Unlock(); return a.byRcpt[rcpt] }
func (a *agent) ncalls() int           { a.mu.Lock(); defer a.mu.Unlock(); return len(a.calls) }

type notice struct {
	kind NoticeKind
	id   queue.ID
	to   []string
}

type notifier struct {
	mu   sync.Mutex
	sent []notice
	fail bool
}

func (n *notifier) Notify(_ context.Context, m *queue.Message, kind NoticeKind, idx []int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return context.DeadlineExceeded
	}
	var to []string
	for _, i := range idx {
		to = append(to, m.Recipients[i].Addr)
	}
	n.sent = append(n.sent, notice{kind, m.ID, to})
	return nil
}

func (n *notifier) all() []notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notice(nil), n.sent...)
}

type harness struct {
	t      *testing.T
	store  *queue.Store
	mgr    *Manager
	agent  *agent
	notes  *notifier
	clock  *fakeClock
	clean  *cleanup.Cleanup
	cancel context.CancelFunc
	done   chan struct{}
}

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	t.Helper()
	return newHarnessLog(t, nil, tweak)
}

// newHarnessLog is newHarness with the store and the manager logging to
// log (nil: slog.Default()).
func newHarnessLog(t *testing.T, log *slog.Logger, tweak func(*Config)) *harness {
	t.Helper()
	store, err := queue.Open(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, agent: newAgent(), notes: &notifier{},
		clock: &fakeClock{now: time.Unix(1_800_000_000, 0)}}
	cfg := Config{MinBackoff: 300 * time.Second, MaxBackoff: 4000 * time.Second, MaxLifetime: 5 * 24 * time.Hour,
		BounceLifetime: 5 * 24 * time.Hour, ScanInterval: time.Hour, ActiveLimit: 100, Concurrency: 20,
		InitConcurrency: 5, RcptLimit: 50, TransportRcpts: map[string]int{"local": 1},
		DeliveryTimeout: 10 * time.Second, MaxDeliveries: 100}
	if tweak != nil {
		tweak(&cfg)
	}
	agents := map[string]deliver.Agent{"smtp": h.agent, "local": h.agent}
	h.mgr = &Manager{Store: store, Agents: agents, Notifier: h.notes, Clock: h.clock, Config: cfg, Log: log,
		Resolver: &resolve.Resolver{Router: resolve.Static{IsLocal: func(d string) bool { return d == "local.test" }},
			Transports: map[string]bool{"smtp": true, "local": true}}}
	h.mgr.Init()
	h.clean = &cleanup.Cleanup{Store: store, Hostname: "mx.test", Now: h.clock.Now, NotifyTenant: h.mgr.WakeTenant, Handoff: h.mgr}
	t.Cleanup(func() { h.stop(); store.Close() })
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { h.mgr.Run(ctx); close(h.done) }()
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

func (h *harness) submit(sender string, rcpts ...string) queue.ID {
	h.t.Helper()
	env := &queue.Envelope{Sender: sender}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, queue.Recipient{Addr: r, Notify: notifyOf(r)})
	}
	id, err := h.clean.Submit(context.Background(), env, strings.NewReader("Subject: t\r\n\r\nbody\r\n"))
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func notifyOf(r string) string {
	if strings.Contains(r, "+notify") {
		return "SUCCESS,FAILURE,DELAY"
	}
	return ""
}

// waitFor polls cond until it holds, failing the test after 10 s.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// where asks the running manager, on its own goroutine, where message id
// is: queue.Active for one in its active set. The probe is a release,
// which changes nothing for mail that is not held.
func (h *harness) where(id queue.ID) queue.State {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, out, err := h.mgr.Apply(ctx, id, OpRelease, "")
	if err != nil || out != Unchanged {
		h.t.Fatalf("probe of %s: %v, %v", id, out, err)
	}
	return st
}

func (h *harness) count(st queue.State) int {
	ents, _ := h.store.List(st)
	return len(ents)
}

func (h *harness) read(st queue.State, id queue.ID) *queue.Message {
	h.t.Helper()
	m, err := h.store.Read(st, id)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { m.Close() })
	return m
}
