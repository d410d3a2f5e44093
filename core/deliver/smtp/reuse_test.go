package smtp

import (
	"context"
	"sync"
	"testing"
	"time"
)

// clock is a hand-moved dns.Clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestConnectionReusedForSameNexthop(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	e := newEnv(t, portOf(ln), func(c *Config) { c.Clock = clk; c.MaxIdle = 10 * time.Second },
		"example.test. 60 IN MX 10 mx.example.test.", "mx.example.test. 60 IN A 127.0.0.1")
	for i := 0; i < 3; i++ {
		res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
		want(t, res, 0, 250, "2.0.0", "")
	}
	if conns, msgs := b.snapshot(); conns != 1 || len(msgs) != 3 {
		t.Fatalf("conns = %d, msgs = %d; want 1 connection for 3 messages", conns, len(msgs))
	}
	clk.Advance(11 * time.Second) // past MaxIdle: the cached session is stale
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if conns, _ := b.snapshot(); conns != 2 {
		t.Fatalf("conns after idle expiry = %d, want 2", conns)
	}
	// First delivery: a miss; two hits; the stale one: expired, then a
	// miss. Each of the four transactions left its session cached.
	st := e.agent.CacheStats()
	if st.Hits != 2 || st.Misses != 2 || st.Expired != 1 || st.Stored != 4 || st.Idle != 1 || st.Broken != 0 {
		t.Errorf("cache figures %+v", st)
	}
}

func TestDeadCachedConnectionReplacedTransparently(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), nil)
	want(t, e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test")), 0, 250, "2.0.0", "")
	// Break the cached connection under the client, as a peer's idle
	// timeout or a NAT would.
	e.dials.mu.Lock()
	e.dials.conns[0].Close()
	e.dials.mu.Unlock()
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "y@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if e.dials.count() != 2 {
		t.Errorf("dials = %d, want 2", e.dials.count())
	}
	if _, msgs := b.snapshot(); len(msgs) != 2 {
		t.Errorf("peer got %d messages", len(msgs))
	}
	if st := e.agent.CacheStats(); st.Broken != 1 || st.Hits != 1 {
		t.Errorf("cache figures %+v, want the dead session counted as broken", st)
	}
}

func TestReuseDisabled(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), func(c *Config) { c.MaxCached = -1 })
	for i := 0; i < 2; i++ {
		want(t, e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test")), 0, 250, "2.0.0", "")
	}
	if conns, _ := b.snapshot(); conns != 2 {
		t.Errorf("conns = %d, want 2", conns)
	}
}

// Every delivery in flight can park its connection: twelve concurrent
// deliveries to one next hop, twice, need twelve connections, not more.
func TestConcurrentDeliveriesReuseTheirConnections(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), nil)
	const k = 12
	for round := 0; round < 2; round++ {
		b.mu.Lock()
		b.together = newBarrier(k)
		b.mu.Unlock()
		var wg sync.WaitGroup
		for i := 0; i < k; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want(t, e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test")), 0, 250, "2.0.0", "")
			}()
		}
		wg.Wait()
	}
	if n := e.dials.count(); n != k {
		t.Errorf("%d connections for %d rounds of %d concurrent deliveries, want %d", n, 2, k, k)
	}
	if _, msgs := b.snapshot(); len(msgs) != 2*k {
		t.Errorf("peer got %d messages, want %d", len(msgs), 2*k)
	}
}
