package control

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
)

// sink delivers to next hops that are up and defers (4.4.1) the rest.
type sink struct {
	mu        sync.Mutex
	down      map[string]bool
	delivered map[string]int
}

func (s *sink) Deliver(_ context.Context, req *deliver.Request) []deliver.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down[req.Nexthop] {
		return deliver.AllResults(len(req.Recipients), dsn.ConnectFailed, "none")
	}
	for _, r := range req.Recipients {
		s.delivered[r.Addr]++
	}
	return deliver.AllResults(len(req.Recipients), dsn.New(250, "2.0.0", "ok"), "sink")
}

func (s *sink) setDown(hop string, down bool) { s.mu.Lock(); s.down[hop] = down; s.mu.Unlock() }
func (s *sink) count(rcpt string) int         { s.mu.Lock(); defer s.mu.Unlock(); return s.delivered[rcpt] }

// bounces records failure notices.
type bounces struct {
	mu  sync.Mutex
	ids []queue.ID
}

func (b *bounces) Notify(_ context.Context, m *queue.Message, kind qmgr.NoticeKind, _ []int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if kind == qmgr.NoticeFailure {
		b.ids = append(b.ids, m.ID)
	}
	return nil
}

func (b *bounces) all() []queue.ID {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]queue.ID(nil), b.ids...)
}

// env is a running queue manager and control server over a temp spool.
type env struct {
	t       *testing.T
	store   *queue.Store
	sink    *sink
	bounces *bounces
	clean   *cleanup.Cleanup
	srv     *Server
	cancel  context.CancelFunc
	done    chan struct{}
}

func newEnv(t *testing.T, tweak func(*Server)) *env {
	t.Helper()
	// Unix socket paths are short; t.TempDir() under a long test name may not be.
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	store, err := queue.Open(filepath.Join(dir, "spool"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, sink: &sink{down: map[string]bool{}, delivered: map[string]int{}}, bounces: &bounces{}}
	mgr := &qmgr.Manager{Store: store, Agents: map[string]deliver.Agent{"smtp": e.sink}, Notifier: e.bounces,
		Resolver: &resolve.Resolver{Router: resolve.Static{IsLocal: func(string) bool { return false }}, Transports: map[string]bool{"smtp": true}},
		Config: qmgr.Config{MinBackoff: time.Hour, MaxBackoff: 4 * time.Hour, MaxLifetime: 24 * time.Hour, BounceLifetime: 24 * time.Hour,
			ScanInterval: time.Hour, ActiveLimit: 100, Concurrency: 5, InitConcurrency: 1, RcptLimit: 50, DeliveryTimeout: 10 * time.Second, MaxDeliveries: 20}}
	mgr.Init()
	e.clean = &cleanup.Cleanup{Store: store, Hostname: "mx.test", Notify: mgr.Wake}
	e.srv = &Server{Path: SocketPath(store.Root()), Admin: &admin.Admin{Store: store, Manager: mgr},
		Config: map[string]any{"myhostname": "mx.test"}, ChunkTimeout: 2 * time.Second,
		Counters: func() map[string]int { return map[string]int{"delivered": mgr.Stats().Delivered} }}
	if tweak != nil {
		tweak(e.srv)
	}
	if err := e.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); mgr.Run(ctx) }()
	go func() { defer wg.Done(); e.srv.Serve(ctx) }()
	go func() { wg.Wait(); close(e.done) }()
	t.Cleanup(func() { e.stop(); store.Close() })
	return e
}

func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

func (e *env) dial() *Client {
	e.t.Helper()
	c, err := Dial(e.srv.Path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) submit(sender string, rcpts ...string) queue.ID {
	e.t.Helper()
	en := &queue.Envelope{Sender: sender}
	for _, r := range rcpts {
		en.Recipients = append(en.Recipients, queue.Recipient{Addr: r})
	}
	id, err := e.clean.Submit(context.Background(), en, strings.NewReader("Subject: t\r\n\r\nbody\r\n"))
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) count(st queue.State) int {
	ents, _ := e.store.List(st)
	return len(ents)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eval runs code and fails the test on a transport error.
func eval(t *testing.T, c *Client, code string) *Response {
	t.Helper()
	r, err := c.Eval(code)
	if err != nil {
		t.Fatalf("eval %q: %v", code, err)
	}
	return r
}

// must runs code that must not fail and returns its output.
func must(t *testing.T, c *Client, code string) string {
	t.Helper()
	r := eval(t, c, code)
	if r.Error != "" || r.More {
		t.Fatalf("eval %q: error %q more %v", code, r.Error, r.More)
	}
	return r.Output
}
