package hooks

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/stdlib/dns"
)

const ctxScript = `
local dns = require("dns")
local kept
mta.on("rcpt", function(s, to)
  if to == "loop" then while true do end end
  if to == "quick" then return mta.reject(550, "5.1.1", "quick") end
  if to == "dns" then dns.mx("example.org") return mta.reject(550, "5.1.1", "looked up") end
  if to == "co_done" then
    local co = coroutine.create(function() coroutine.yield(1) return 2 end)
    coroutine.resume(co) coroutine.resume(co)
    return mta.reject(550, "5.1.1", coroutine.status(co))
  end
  if to == "co_keep" then
    kept = coroutine.create(function() coroutine.yield(1) return 2 end)
    coroutine.resume(kept)
    return mta.reject(550, "5.1.1", coroutine.status(kept))
  end
  if to == "co_resume" then
    local ok, err = coroutine.resume(kept)
    return mta.reject(550, "5.1.1", tostring(ok) .. " " .. tostring(err))
  end
end)
`

// ctxResolver records what a script's look-up sees of its context.
type ctxResolver struct {
	mu       sync.Mutex
	deadline time.Time
	hasDL    bool
	value    any
}

type ctxKey struct{}

func (r *ctxResolver) LookupMX(ctx context.Context, _ string) ([]dns.MX, error) {
	// A context derived for the look-up, as a resolver makes one.
	sub, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deadline, r.hasDL = sub.Deadline()
	r.value = sub.Value(ctxKey{})
	return []dns.MX{{Host: "mx.example.org", Pref: 10}}, nil
}

func (r *ctxResolver) LookupHost(context.Context, string) ([]string, error) { return nil, nil }
func (r *ctxResolver) LookupTXT(context.Context, string) ([]string, error)  { return nil, nil }

func rcptText(t *testing.T, e *Engine, c context.Context, to string) (string, error) {
	t.Helper()
	st, err := e.Rcpt(c, &policy.Session{}, to)
	if err != nil {
		return "", err
	}
	if st == nil {
		t.Fatalf("%s: no status", to)
	}
	return st.Text, nil
}

func TestCallTimeoutText(t *testing.T) {
	e := newEngine(t, map[string]string{"10-ctx.lua": ctxScript}, func(c *Config) {
		c.CallTimeout = 50 * time.Millisecond
		c.PoolSize = 1
	})
	_, err := rcptText(t, e, ctx(t), "loop")
	wantErrContains(t, err, "10-ctx.lua:5: context deadline exceeded", "timed out after 50ms: ")
	// The same state, or its replacement, times out again: the deadline
	// is armed for every call, not only the first.
	for i := 0; i < 3; i++ {
		if got, err := rcptText(t, e, ctx(t), "quick"); err != nil || got != "quick" {
			t.Fatalf("quick call after a timeout: %q, %v", got, err)
		}
		_, err = rcptText(t, e, ctx(t), "loop")
		wantErrContains(t, err, "timed out after 50ms: ")
	}
}

func TestCallCallerCancel(t *testing.T) {
	e := newEngine(t, map[string]string{"10-ctx.lua": ctxScript}, func(c *Config) {
		c.CallTimeout = 20 * time.Second
		c.PoolSize = 1
	})
	c, cancel := context.WithCancelCause(ctx(t))
	time.AfterFunc(30*time.Millisecond, func() { cancel(errors.New("client went away")) })
	start := time.Now()
	_, err := rcptText(t, e, c, "loop")
	wantErrContains(t, err, "10-ctx.lua:5: context canceled")
	if strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "memory") {
		t.Errorf("caller's cancel described as %q", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancel took %v", d)
	}

	// A caller whose deadline comes first stops the call with it.
	dl, cancelDL := context.WithTimeout(ctx(t), 30*time.Millisecond)
	defer cancelDL()
	_, err = rcptText(t, e, dl, "loop")
	wantErrContains(t, err, "context deadline exceeded")

	// A context done before the call stops it before its first line.
	done, cancelDone := context.WithCancel(ctx(t))
	cancelDone()
	_, err = rcptText(t, e, done, "quick")
	wantErrContains(t, err, "context canceled")

	if got, err := rcptText(t, e, ctx(t), "quick"); err != nil || got != "quick" {
		t.Fatalf("after cancelled calls: %q, %v", got, err)
	}
}

func TestCallMemoryCancelCause(t *testing.T) {
	e := newEngine(t, map[string]string{"10-ctx.lua": ctxScript}, func(c *Config) {
		c.CallTimeout = 20 * time.Second
		c.MemoryLimit = 1 << 50 // tracked, never reached
		c.PoolSize = 1
	})
	go func() {
		for {
			e.mem.mu.Lock()
			n := len(e.mem.inflight)
			e.mem.mu.Unlock()
			if n > 0 {
				e.mem.check(^uint64(0)) // as if the heap had grown without bound
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, err := rcptText(t, e, ctx(t), "loop")
	wantErrContains(t, err, "memory limit exceeded: ", "context canceled")
	if got, err := rcptText(t, e, ctx(t), "quick"); err != nil || got != "quick" {
		t.Fatalf("after the watchdog: %q, %v", got, err)
	}
	e.mem.mu.Lock()
	n := len(e.mem.inflight)
	e.mem.mu.Unlock()
	if n != 0 {
		t.Errorf("%d calls still tracked", n)
	}
}

// TestCallContextForModules: what a stdlib module gets from L.Context()
// carries the caller's values and the call's deadline.
func TestCallContextForModules(t *testing.T) {
	r := &ctxResolver{}
	e := newEngine(t, map[string]string{"10-ctx.lua": ctxScript}, func(c *Config) {
		c.CallTimeout = 2 * time.Second
		c.Resolver = r
		c.PoolSize = 1
	})
	c := context.WithValue(context.Background(), ctxKey{}, "session-1")
	for i := 0; i < 3; i++ {
		start := time.Now()
		if got, err := rcptText(t, e, c, "dns"); err != nil || got != "looked up" {
			t.Fatalf("dns call: %q, %v", got, err)
		}
		r.mu.Lock()
		dl, ok, v := r.deadline, r.hasDL, r.value
		r.mu.Unlock()
		if !ok || dl.Before(start.Add(2*time.Second)) || dl.After(time.Now().Add(2*time.Second)) {
			t.Errorf("look-up deadline %v (%v); want the call's, start %v + 2s", dl, ok, start)
		}
		if v != "session-1" {
			t.Errorf("look-up sees value %v; want the caller's", v)
		}
	}
	// A caller's earlier deadline is the one a look-up sees.
	early, cancel := context.WithTimeout(c, time.Second)
	defer cancel()
	want, _ := early.Deadline()
	if _, err := rcptText(t, e, early, "dns"); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.deadline.Equal(want) {
		t.Errorf("look-up deadline %v; want the caller's %v", r.deadline, want)
	}
}

// TestCallCoroutines: a coroutine that finishes within its call leaves
// nothing behind; one left suspended cannot run in a later call, whose
// context it does not share.
func TestCallCoroutines(t *testing.T) {
	e := newEngine(t, map[string]string{"10-ctx.lua": ctxScript}, func(c *Config) { c.PoolSize = 1 })
	for i := 0; i < 3; i++ {
		if got, err := rcptText(t, e, ctx(t), "co_done"); err != nil || got != "dead" {
			t.Fatalf("co_done: %q, %v", got, err)
		}
	}
	if got, err := rcptText(t, e, ctx(t), "co_keep"); err != nil || got != "suspended" {
		t.Fatalf("co_keep: %q, %v", got, err)
	}
	got, err := rcptText(t, e, ctx(t), "co_resume")
	if err != nil || !strings.HasPrefix(got, "false ") || !strings.Contains(got, "context canceled") {
		t.Fatalf("co_resume: %q, %v; want the kept coroutine's context cancelled", got, err)
	}
	if got, err := rcptText(t, e, ctx(t), "quick"); err != nil || got != "quick" {
		t.Fatalf("after coroutines: %q, %v", got, err)
	}
}

// TestCallContextReused: calls that end normally leave the state's
// context in place for the next call; one that keeps a derived context
// past its end spends it.
func TestCallContextReused(t *testing.T) {
	e := newEngine(t, map[string]string{"10-ctx.lua": ctxScript}, func(c *Config) {
		c.PoolSize = 1
		c.Resolver = &ctxResolver{}
	})
	pooled := func() *callCtx {
		g := e.cur.Load()
		st := <-g.pool
		defer g.put(st)
		return st.ctx
	}
	if _, err := rcptText(t, e, ctx(t), "quick"); err != nil {
		t.Fatal(err)
	}
	first := pooled()
	if first == nil {
		t.Fatal("no context kept after a call")
	}
	for _, to := range []string{"quick", "dns", "co_done"} {
		if _, err := rcptText(t, e, ctx(t), to); err != nil {
			t.Fatal(err)
		}
		if got := pooled(); got != first {
			t.Errorf("%s: context replaced", to)
		}
	}
	if _, err := rcptText(t, e, ctx(t), "co_keep"); err != nil {
		t.Fatal(err)
	}
	if got := pooled(); got != nil {
		t.Errorf("context kept although a coroutine still holds a context derived from it")
	}
	if first.Err() != context.Canceled {
		t.Errorf("spent context: Err = %v; want Canceled", first.Err())
	}
}

// TestCallCtxLateSignals: a timer or a caller's cancellation that comes
// in for an earlier call does not stop the current one.
func TestCallCtxLateSignals(t *testing.T) {
	c := newCallCtx()
	p1, cancel1 := context.WithCancel(context.Background())
	c.begin(p1, time.Now(), time.Hour)
	if c.end() {
		t.Fatal("spent without cause")
	}
	cancel1()
	c.begin(context.Background(), time.Now(), time.Hour)
	c.parentDone() // the first call's caller, late
	c.expire()     // a timer, early
	select {
	case <-c.Done():
		t.Fatalf("done by late signals: %v", c.Err())
	default:
	}
	if c.end() {
		t.Error("spent without cause")
	}

	c.expire() // between calls
	c.cancel(errMemory)
	if c.Err() != nil {
		t.Errorf("idle context cancelled: %v", c.Err())
	}

	c.begin(context.Background(), time.Now().Add(-time.Second), time.Millisecond)
	c.expire()
	if c.Err() != context.DeadlineExceeded || c.Cause() != context.DeadlineExceeded {
		t.Errorf("past the deadline: Err %v, Cause %v", c.Err(), c.Cause())
	}
	if !c.end() {
		t.Error("a context that timed out is not spent")
	}
}

// TestCallCtxDerived: contexts derived from a call's context are
// cancelled with it, and with the call's end when they outlive it.
func TestCallCtxDerived(t *testing.T) {
	c := newCallCtx()
	c.begin(context.Background(), time.Now(), time.Hour)
	short, cancel := context.WithCancel(c)
	cancel()
	long, cancelLong := context.WithCancel(c)
	defer cancelLong()
	if !c.end() {
		t.Fatal("not spent with a derived context outstanding")
	}
	select {
	case <-long.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("derived context not cancelled at the end of the call")
	}
	if long.Err() != context.Canceled || short.Err() != context.Canceled {
		t.Errorf("derived: %v, %v", long.Err(), short.Err())
	}
	late, cancelLate := context.WithTimeout(c, time.Hour)
	defer cancelLate()
	if late.Err() != context.Canceled {
		t.Errorf("derived from a spent context: %v", late.Err())
	}

	c = newCallCtx()
	c.begin(context.Background(), time.Now(), time.Hour)
	child, cancelChild := context.WithTimeout(c, time.Minute)
	c.cancel(errMemory)
	<-child.Done()
	if child.Err() != context.Canceled {
		t.Errorf("child of a cancelled call: %v", child.Err())
	}
	cancelChild()
	fired := make(chan struct{})
	stop := context.AfterFunc(c, func() { close(fired) })
	<-fired
	if stop() {
		t.Error("stop after the function ran")
	}
	c.end()
}
